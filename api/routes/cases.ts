import { Type } from '@sinclair/typebox';
import type { AlertsComponent } from '../../alerts/index.js';
import { CASE_OUTCOMES, CASE_STATUSES, type Case } from '../../core/state/index.js';
import type { ApiApp, RouteContext } from '../app.js';
import { ERROR_RESPONSES } from '../problem.js';
import { EpochMs, IdParams, Limit } from '../schemas.js';

/**
 * Cases: the inbox (cases not closed first, ordered by money at risk: the borrower's outstanding exposure), a
 * case with its timeline (alerts and notes), moving it on (owner, open → investigating → closed with an
 * outcome; audit log; `case.closed` webhook) and notes; and each rule's observed precision from closed cases.
 */
const Status = Type.Union(CASE_STATUSES.map((s) => Type.Literal(s)));
const Outcome = Type.Union(CASE_OUTCOMES.map((s) => Type.Literal(s)));
const CaseSchema = Type.Object({
  id: Type.String(),
  borrowerId: Type.String(),
  status: Status,
  owner: Type.Optional(Type.String({ description: 'API key id of the officer who owns it' })),
  outcome: Type.Optional(Outcome),
  openedAt: EpochMs('first alert'),
  updatedAt: EpochMs('last change'),
  closedAt: Type.Optional(EpochMs('when closed')),
  closedBy: Type.Optional(Type.String()),
  alertCount: Type.Integer(),
  maxSeverity: Type.String(),
  lastAlertAt: EpochMs('latest alert'),
  moneyAtRisk: Type.Optional(
    Type.Object(
      {
        amount: Type.Number(),
        currency: Type.String(),
        basis: Type.Union([Type.Literal('expected-loss'), Type.Literal('exposure')], {
          description:
            "expected-loss: the credit monitor's PD × LGD × EAD; exposure: what is still due on its active loans (no credit figures yet)",
        }),
      },
      {
        description:
          "the borrower's expected loss where the credit figures have it, else its outstanding exposure",
      },
    ),
  ),
});
const RulePrecisionSchema = Type.Object({
  closedAlerts: Type.Integer(),
  confirmedFraud: Type.Integer(),
  operationalIssue: Type.Integer(),
  falseAlarm: Type.Integer(),
  observedPrecision: Type.Union([Type.Number(), Type.Null()]),
});
const Timeline = Type.Array(
  Type.Object({
    at: EpochMs('when'),
    kind: Type.Union([Type.Literal('alert'), Type.Literal('note')]),
    id: Type.String(),
    title: Type.String(),
    by: Type.Optional(Type.String()),
    ruleId: Type.Optional(Type.String()),
    severity: Type.Optional(Type.String()),
    status: Type.Optional(Type.String()),
  }),
);

export function caseRoutes(app: ApiApp, ctx: RouteContext, alerts: AlertsComponent): void {
  const cases = alerts.cases;
  const who = (request: { principal: { keyId: string } | null }): string =>
    request.principal?.keyId ?? 'unknown';
  /**
   * Money at risk per case: the borrower's expected loss where the credit monitor has computed it (risk/credit,
   * credit_exposures), else its outstanding exposure. Pinned by api/test/case-inbox.test.ts.
   */
  const withMoney = async (list: readonly Case[]) => {
    const ids = [...new Set(list.map((c) => c.borrowerId))];
    const [exposures, credit] = await Promise.all([
      ctx.state.loans.borrowerExposures(ids),
      ctx.state.credit.getExposures(ids),
    ]);
    return list.map((c) => {
      const figures = credit.get(c.borrowerId);
      if (figures?.el !== undefined)
        return {
          ...c,
          moneyAtRisk: { amount: figures.el, currency: figures.currency, basis: 'expected-loss' as const },
        };
      const e = exposures.get(c.borrowerId);
      // One currency per borrower in practice; the largest line stands for the case when there are several.
      const top = e?.slice().sort((a, b) => b.outstanding - a.outstanding)[0];
      return top === undefined
        ? c
        : {
            ...c,
            moneyAtRisk: { amount: top.outstanding, currency: top.currency, basis: 'exposure' as const },
          };
    });
  };
  /** Expected loss first (largest first), then exposure where there is no expected loss, then neither. */
  const rank = (c: Case & { moneyAtRisk?: { basis: string } }): number =>
    c.moneyAtRisk === undefined ? 2 : c.moneyAtRisk.basis === 'expected-loss' ? 0 : 1;

  app.get(
    '/cases',
    {
      schema: {
        summary:
          'The case inbox: by default cases not closed, by money at risk: expected loss where computed (largest first), then outstanding exposure',
        tags: ['cases'],
        querystring: Type.Object(
          {
            status: Type.Optional(Type.Union([Status, Type.Literal('active')], { default: 'active' })),
            limit: Type.Optional(Limit),
          },
          { additionalProperties: false },
        ),
        response: { 200: Type.Object({ items: Type.Array(CaseSchema) }), ...ERROR_RESPONSES },
      },
    },
    async (request) => {
      const status = request.query.status ?? 'active';
      const limit = request.query.limit ?? 50;
      const list =
        status === 'active'
          ? [
              ...(await cases.list({ status: 'open', limit: 5_000 })),
              ...(await cases.list({ status: 'investigating', limit: 5_000 })),
            ]
          : await cases.list({ status, limit: 5_000 });
      const items = (await withMoney(list))
        .sort(
          (a, b) =>
            rank(a) - rank(b) ||
            ('moneyAtRisk' in b ? (b.moneyAtRisk?.amount ?? 0) : 0) -
              ('moneyAtRisk' in a ? (a.moneyAtRisk?.amount ?? 0) : 0) ||
            b.updatedAt - a.updatedAt,
        )
        .slice(0, limit);
      return { items };
    },
  );

  app.get(
    '/cases/:id',
    {
      schema: {
        summary:
          'A case with its timeline: its alerts (with their readings as evidence) and notes, oldest first',
        tags: ['cases'],
        params: IdParams,
        response: {
          200: Type.Object({
            case: CaseSchema,
            timeline: Timeline,
            alerts: Type.Array(Type.Record(Type.String(), Type.Unknown())),
          }),
          ...ERROR_RESPONSES,
        },
      },
    },
    async (request) => {
      const d = await cases.get(request.params.id);
      const [c] = await withMoney([d.case]);
      const timeline = [
        ...d.alerts.map((a) => ({
          at: a.openedAt,
          kind: 'alert' as const,
          id: a.id,
          title: a.title,
          ruleId: a.ruleId,
          severity: a.severity,
          status: a.status,
        })),
        ...d.notes.map((n) => ({
          at: n.createdAt,
          kind: 'note' as const,
          id: n.id,
          title: n.body,
          by: n.author,
        })),
      ].sort((a, b) => a.at - b.at);
      return {
        case: c ?? d.case,
        timeline,
        alerts: d.alerts.map((a) => ({ ...a, evidence: { ...a.evidence } })),
      };
    },
  );

  app.post(
    '/cases/:id/transition',
    {
      schema: {
        summary: 'Take a case (owner), move it to investigating, or close it with an outcome',
        tags: ['cases'],
        params: IdParams,
        body: Type.Object(
          {
            status: Type.Optional(Status),
            owner: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
            outcome: Type.Optional(Outcome),
          },
          { additionalProperties: false, minProperties: 1 },
        ),
        response: { 200: CaseSchema, ...ERROR_RESPONSES },
      },
    },
    async (request) => {
      const { id } = request.params;
      const body = request.body;
      return ctx.state.transaction(async () => {
        const before = await ctx.state.cases.getCase(id);
        const after = await cases.transition(
          id,
          {
            ...(body.status === undefined ? {} : { status: body.status }),
            ...(body.owner === undefined ? {} : { owner: body.owner }),
            ...(body.outcome === undefined ? {} : { outcome: body.outcome }),
          },
          who(request),
          ctx.now(),
        );
        await ctx.audit(request, {
          action: 'transition',
          resource: 'case',
          resourceId: id,
          ...(before === undefined ? {} : { before: { status: before.status, owner: before.owner ?? null } }),
          after: { status: after.status, owner: after.owner ?? null, outcome: after.outcome ?? null },
        });
        return after;
      });
    },
  );

  app.post(
    '/cases/:id/notes',
    {
      schema: {
        summary: 'Add a note to a case',
        tags: ['cases'],
        params: IdParams,
        body: Type.Object(
          { body: Type.String({ minLength: 1, maxLength: 4000 }) },
          { additionalProperties: false },
        ),
        response: {
          201: Type.Object({
            id: Type.String(),
            caseId: Type.String(),
            author: Type.String(),
            body: Type.String(),
            createdAt: EpochMs('written'),
          }),
          ...ERROR_RESPONSES,
        },
      },
    },
    async (request, reply) => {
      const note = await ctx.state.transaction(async () => {
        const n = await cases.addNote(request.params.id, who(request), request.body.body, ctx.now());
        await ctx.audit(request, {
          action: 'note',
          resource: 'case',
          resourceId: request.params.id,
          after: { noteId: n.id },
        });
        return n;
      });
      return reply.code(201).send(note);
    },
  );

  app.get(
    '/alerts/rules/precision',
    {
      schema: {
        summary: "Each rule's observed precision from the outcomes of closed cases (not false alarms ÷ all)",
        tags: ['alerts', 'cases'],
        response: {
          200: Type.Object({
            rules: Type.Record(Type.String(), RulePrecisionSchema),
          }),
          ...ERROR_RESPONSES,
        },
      },
    },
    async () => ({
      rules: await cases.precisionByRule(),
    }),
  );
}
