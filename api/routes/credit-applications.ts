import { Type, type Static } from '@sinclair/typebox';
import { RiskfuseError } from '../../core/errors.js';
import type { CreditApplication, CreditDecision } from '../../core/state/index.js';
import type { CreditApplications } from '../../risk/decisions/applications.js';
import type { ApiApp, RouteContext } from '../app.js';
import { decodeCursor, encodeCursor, isString, paged } from '../pagination.js';
import { ERROR_RESPONSES } from '../problem.js';
import { Cursor, EpochMs, Id, IdParams, Limit, Page } from '../schemas.js';

/**
 * Credit applications and the decisions people make on them (README "Credit decisions"): an officer files an
 * application and gets the platform's recommendation; an approver decides — approve, approve a lower amount,
 * decline (adverse-action reasons), refer; four-eyes above CREDIT_FOUR_EYES_ABOVE. Decisions are immutable
 * and audited; each is announced as `decision.made`. Pinned by api/test/credit-applications.test.ts.
 */
const Funders = Type.Array(
  Type.Object(
    {
      funderId: Type.String({ minLength: 1, maxLength: 64 }),
      sharePct: Type.Number({ minimum: 0, maximum: 100 }),
    },
    { additionalProperties: false },
  ),
  { maxItems: 20, description: 'co-lending funders and their shares, %; none: the lender alone' },
);
const NewApplication = Type.Object(
  {
    borrowerId: Id('borrower id'),
    amount: Type.Number({ exclusiveMinimum: 0, maximum: 1e12, description: 'amount applied for' }),
    currency: Type.String({ pattern: '^[A-Z]{3}$', description: 'ISO 4217' }),
    tenorDays: Type.Integer({ minimum: 1, maximum: 36_500 }),
    lotIds: Type.Array(Id('lot id'), { maxItems: 100, default: [], description: 'lots pledged for it' }),
    funders: Type.Optional(Funders),
  },
  { additionalProperties: false },
);
const NullableNumber = Type.Union([Type.Number(), Type.Null()]);
/** The platform's recommendation (risk/decisions/recommend.ts `Recommendation`), stored with the application. */
const Recommendation = Type.Object({
  outcome: Type.Union(
    (['approve', 'approve-lower', 'decline', 'refer'] as const).map((o) => Type.Literal(o)),
  ),
  pd: NullableNumber,
  grade: Type.Union([Type.String(), Type.Null()]),
  ead: Type.Number(),
  lgd: Type.Number(),
  el: NullableNumber,
  elRate: Type.Union([Type.Number(), Type.Null()], { description: 'EL ÷ EAD' }),
  claimedCoverage: NullableNumber,
  verifiedCoverage: NullableNumber,
  checks: Type.Array(
    Type.Object({ code: Type.String(), message: Type.String(), limit: Type.Number(), actual: Type.Number() }),
    { description: 'policy checks that fail at the amount applied for' },
  ),
  suggestedLimit: Type.Number({ description: 'the largest amount whose EL and policy checks pass' }),
  reasons: Type.Array(Type.String(), { description: 'plain words, most important first' }),
  adverseReasons: Type.Array(Type.Object({ code: Type.String(), text: Type.String() }), {
    description: "the model's PD-raising reason codes: a decline's adverse-action reasons",
  }),
  policyVersion: Type.Integer(),
});
const STATUSES = ['pending', 'awaiting-second', 'approved', 'declined', 'referred'] as const;
const OPEN = ['pending', 'awaiting-second', 'referred'] as const;
const SORTS = ['id', 'amount', 'age'] as const;
const isSortCursor = (v: unknown): v is [string, number, string] =>
  Array.isArray(v) &&
  v.length === 3 &&
  typeof v[0] === 'string' &&
  typeof v[1] === 'number' &&
  Number.isFinite(v[1]) &&
  isString(v[2]);
const OUTCOMES = ['approve', 'approve-lower', 'decline', 'refer'] as const;
const ApplicationSchema = Type.Object({
  id: Type.String(),
  borrowerId: Type.String(),
  amount: Type.Number(),
  currency: Type.String(),
  tenorDays: Type.Integer(),
  lotIds: Type.Array(Type.String()),
  funders: Type.Array(Type.Object({ funderId: Type.String(), sharePct: Type.Number() })),
  status: Type.Union(STATUSES.map((s) => Type.Literal(s))),
  recommendation: Type.Optional(Recommendation),
  createdAt: EpochMs('filed'),
  createdBy: Type.Optional(Type.String({ description: 'API key id' })),
  decidedAt: Type.Optional(EpochMs('final decision')),
  decidedAmount: Type.Optional(Type.Number({ description: 'amount finally approved' })),
});
const DecisionSchema = Type.Object({
  id: Type.String(),
  applicationId: Type.String(),
  approverKeyId: Type.String(),
  approverName: Type.Optional(Type.String({ description: "the approver key's name (who decided)" })),
  outcome: Type.Union(OUTCOMES.map((o) => Type.Literal(o))),
  amount: Type.Optional(Type.Number()),
  reasons: Type.Array(Type.String()),
  comment: Type.Optional(Type.String()),
  at: EpochMs('decided'),
});

const appView = (a: CreditApplication): Static<typeof ApplicationSchema> => {
  const { recommendation, ...rest } = a;
  return {
    ...rest,
    lotIds: [...a.lotIds],
    funders: a.funders.map((f) => ({ ...f })),
    ...(recommendation === undefined
      ? {}
      : { recommendation: structuredClone(recommendation) as Static<typeof Recommendation> }),
  };
};
const decisionView = (d: CreditDecision): Static<typeof DecisionSchema> => ({
  ...d,
  reasons: [...d.reasons],
});

export function creditApplicationRoutes(
  app: ApiApp,
  ctx: RouteContext,
  applications: CreditApplications,
): void {
  app.post(
    '/applications',
    {
      schema: {
        summary: 'File a credit application; the answer carries the platform’s recommendation',
        tags: ['credit'],
        body: NewApplication,
        response: { 201: ApplicationSchema, ...ERROR_RESPONSES },
      },
    },
    async (request, reply) => {
      const b = request.body;
      const filed = await ctx.state.transaction(async () => {
        const a = await applications.file(
          { ...b, lotIds: b.lotIds, funders: b.funders ?? [] },
          request.principal?.keyId,
        );
        await ctx.audit(request, {
          action: 'create',
          resource: 'application',
          resourceId: a.id,
          after: appView(a),
        });
        return a;
      });
      void reply.code(201);
      return appView(filed);
    },
  );

  app.post(
    '/recommendations',
    {
      schema: {
        summary: 'A recommendation for an application without filing it (what-if)',
        tags: ['credit'],
        body: NewApplication,
        response: { 200: Recommendation, ...ERROR_RESPONSES },
      },
    },
    async (request) => {
      const b = request.body;
      const r = await applications.recommend({ ...b, funders: b.funders ?? [] });
      return structuredClone(r) as Static<typeof Recommendation>;
    },
  );

  app.get(
    '/applications',
    {
      schema: {
        summary:
          'The applications queue, optionally by status (open: still to decide) or borrower, by id, largest amount or oldest first',
        tags: ['credit'],
        querystring: Type.Object(
          {
            status: Type.Optional(
              Type.Union(
                [...STATUSES, 'open' as const].map((s) => Type.Literal(s)),
                {
                  description: 'open = pending, awaiting-second and referred',
                },
              ),
            ),
            borrowerId: Type.Optional(Id('borrower id')),
            sort: Type.Optional(
              Type.Union(
                SORTS.map((s) => Type.Literal(s)),
                {
                  default: 'id',
                  description: 'id; amount: largest first; age: oldest first (ties by id)',
                },
              ),
            ),
            limit: Limit,
            cursor: Type.Optional(Cursor),
          },
          { additionalProperties: false },
        ),
        response: { 200: Page(ApplicationSchema), ...ERROR_RESPONSES },
      },
    },
    async (request) => {
      const q = request.query;
      const sort = q.sort ?? 'id';
      // A cursor continues the list it came from: [sort, key, id] (or the id alone under sort=id).
      let afterId: string | undefined;
      let after: { key: number; id: string } | undefined;
      if (q.cursor !== undefined) {
        if (sort === 'id') afterId = decodeCursor(q.cursor, isString);
        else {
          const c = decodeCursor(q.cursor, isSortCursor);
          if (c[0] !== sort) {
            throw new RiskfuseError('VALIDATION_FAILED', 'invalid cursor: it belongs to another sort', {
              details: { errors: [{ path: 'querystring/cursor', message: 'is a cursor of another sort' }] },
            });
          }
          after = { key: c[1], id: c[2] };
        }
      }
      const rows = await ctx.state.credit.queryApplications({
        limit: q.limit + 1,
        sort,
        ...(q.status === undefined ? {} : { status: q.status === 'open' ? OPEN : q.status }),
        ...(q.borrowerId === undefined ? {} : { borrowerId: q.borrowerId }),
        ...(afterId === undefined ? {} : { afterId }),
        ...(after === undefined ? {} : { after }),
      });
      const page = paged(rows, q.limit, (a) => a.id);
      const last = page.items[page.items.length - 1];
      const nextCursor =
        page.nextCursor === undefined || last === undefined || sort === 'id'
          ? page.nextCursor
          : encodeCursor([sort, sort === 'amount' ? last.amount : last.createdAt, last.id]);
      return {
        items: page.items.map(appView),
        ...(nextCursor === undefined ? {} : { nextCursor }),
      };
    },
  );

  app.get(
    '/applications/:id',
    {
      schema: {
        summary: 'One application with its decisions',
        tags: ['credit'],
        params: IdParams,
        response: {
          200: Type.Object({
            application: ApplicationSchema,
            decisions: Type.Array(DecisionSchema),
            fourEyesAbove: Type.Number({
              description:
                'an approval of more than this amount needs two different approvers (CREDIT_FOUR_EYES_ABOVE)',
            }),
          }),
          ...ERROR_RESPONSES,
        },
      },
    },
    async (request) => {
      const a = await ctx.state.credit.getApplication(request.params.id);
      if (a === undefined) throw new RiskfuseError('NOT_FOUND', `no application ${request.params.id}`);
      const decisions = await ctx.state.credit.listDecisions(a.id);
      // Who decided, by name: approvers cannot list API keys, yet four-eyes is about people (two at most).
      const names = new Map<string, string>();
      for (const d of decisions) {
        const key = names.has(d.approverKeyId)
          ? undefined
          : await ctx.state.apiKeys.getApiKey(d.approverKeyId);
        if (key !== undefined) names.set(key.id, key.name);
      }
      return {
        application: appView(a),
        fourEyesAbove: applications.fourEyesAbove,
        decisions: decisions.map((d) => {
          const name = names.get(d.approverKeyId);
          return { ...decisionView(d), ...(name === undefined ? {} : { approverName: name }) };
        }),
      };
    },
  );

  app.post(
    '/applications/:id/decisions',
    {
      schema: {
        summary: 'Decide an application (approvers only; four-eyes above CREDIT_FOUR_EYES_ABOVE)',
        tags: ['credit'],
        params: IdParams,
        body: Type.Object(
          {
            outcome: Type.Union(OUTCOMES.map((o) => Type.Literal(o))),
            amount: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 1e12 })),
            reasons: Type.Optional(
              Type.Array(Type.String({ minLength: 1, maxLength: 200 }), { maxItems: 20 }),
            ),
            comment: Type.Optional(Type.String({ minLength: 1, maxLength: 2000 })),
          },
          { additionalProperties: false },
        ),
        response: {
          201: Type.Object({ application: ApplicationSchema, decision: DecisionSchema }),
          ...ERROR_RESPONSES,
        },
      },
    },
    async (request, reply) => {
      const keyId = request.principal?.keyId;
      if (keyId === undefined) throw new RiskfuseError('UNAUTHENTICATED', 'an approver key is required');
      const b = request.body;
      const out = await ctx.state.transaction(async () => {
        const r = await applications.decide(request.params.id, {
          approverKeyId: keyId,
          outcome: b.outcome,
          ...(b.amount === undefined ? {} : { amount: b.amount }),
          ...(b.reasons === undefined ? {} : { reasons: b.reasons }),
          ...(b.comment === undefined ? {} : { comment: b.comment }),
        });
        await ctx.audit(request, {
          action: 'decide',
          resource: 'application',
          resourceId: request.params.id,
          after: { decision: decisionView(r.decision), status: r.application.status },
        });
        return r;
      });
      void reply.code(201);
      return { application: appView(out.application), decision: decisionView(out.decision) };
    },
  );
}
