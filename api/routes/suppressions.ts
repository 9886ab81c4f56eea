import { Type } from '@sinclair/typebox';
import type { AlertsComponent } from '../../alerts/index.js';
import {
  ALERT_SEVERITIES,
  SUBJECT_KINDS,
  SUPPRESSION_KINDS,
  SUPPRESSION_SCOPES,
} from '../../core/state/index.js';
import type { ApiApp, RouteContext } from '../app.js';
import { ERROR_RESPONSES } from '../problem.js';
import { EpochMs, Id, IdParams, Limit } from '../schemas.js';

/**
 * Maintenance windows and snoozes (alerts/suppressions.ts): list (those in force by default), create, read one
 * with the alert openings it held back, end early. Creating and ending are audited; the openings a suppression
 * or the flapping hold kept back are listed, never dropped. Pinned by api/test/suppressions.test.ts.
 */
const Kind = Type.Union(SUPPRESSION_KINDS.map((k) => Type.Literal(k)));
const Scope = Type.Union(SUPPRESSION_SCOPES.map((k) => Type.Literal(k)));
const RuleId = Type.String({
  pattern: '^[a-z][a-z-]{1,40}$',
  description: 'rule id (all rules when absent)',
});

const SuppressionSchema = Type.Object({
  id: Type.String(),
  kind: Kind,
  scopeKind: Scope,
  scopeId: Type.String(),
  ruleId: Type.Optional(Type.String()),
  reason: Type.String(),
  fromMs: EpochMs('in force from (alert time)'),
  untilMs: EpochMs('in force until, exclusive (alert time)'),
  createdBy: Type.String({ description: 'API key id' }),
  createdAt: EpochMs('created'),
  revokedAt: Type.Optional(EpochMs('ended early')),
  revokedBy: Type.Optional(Type.String({ description: 'API key id' })),
  suppressed: Type.Integer({ description: 'alert openings it held back' }),
});
const SuppressedAlertSchema = Type.Object({
  id: Type.String(),
  cause: Type.Union([Kind, Type.Literal('flapping')]),
  suppressionId: Type.Optional(Type.String()),
  ruleId: Type.String(),
  severity: Type.Union(ALERT_SEVERITIES.map((s) => Type.Literal(s))),
  subjectKind: Type.Union(SUBJECT_KINDS.map((s) => Type.Literal(s))),
  subjectId: Type.String(),
  borrowerId: Type.Optional(Type.String()),
  deviceId: Type.Optional(Type.String()),
  lotId: Type.Optional(Type.String()),
  title: Type.String(),
  evidence: Type.Record(Type.String(), Type.Unknown()),
  at: EpochMs('when it would have opened (reading time)'),
});

export function suppressionRoutes(app: ApiApp, ctx: RouteContext, alerts: AlertsComponent): void {
  const service = alerts.suppressions;
  const who = (request: { principal: { keyId: string } | null }): string =>
    request.principal?.keyId ?? 'unknown';

  app.get(
    '/alerts/suppressions',
    {
      schema: {
        summary: 'Maintenance windows and snoozes: by default those in force now, newest first',
        tags: ['alerts'],
        querystring: Type.Object(
          {
            state: Type.Optional(
              Type.Union([Type.Literal('active'), Type.Literal('all')], { default: 'active' }),
            ),
            scopeKind: Type.Optional(Scope),
            scopeId: Type.Optional(Id('device, lot or borrower id')),
            limit: Type.Optional(Limit),
          },
          { additionalProperties: false },
        ),
        response: { 200: Type.Object({ items: Type.Array(SuppressionSchema) }), ...ERROR_RESPONSES },
      },
    },
    async (request) => {
      const q = request.query;
      const items = await ctx.state.suppressions.listSuppressions({
        limit: q.limit ?? 50,
        ...((q.state ?? 'active') === 'active' ? { activeAt: ctx.now() } : {}),
        ...(q.scopeKind === undefined ? {} : { scopeKind: q.scopeKind }),
        ...(q.scopeId === undefined ? {} : { scopeId: q.scopeId }),
      });
      return { items };
    },
  );

  app.post(
    '/alerts/suppressions',
    {
      schema: {
        summary:
          'Create a maintenance window or snooze on a device, lot or borrower (optionally one rule); openings inside it are recorded as suppressed',
        tags: ['alerts'],
        body: Type.Object(
          {
            kind: Kind,
            scopeKind: Scope,
            scopeId: Id('device, lot or borrower id'),
            ruleId: Type.Optional(RuleId),
            reason: Type.String({ minLength: 1, maxLength: 500, description: 'why (shown to officers)' }),
            fromMs: Type.Optional(EpochMs('in force from; default now')),
            untilMs: EpochMs('in force until (exclusive); at most 90 days after fromMs'),
          },
          { additionalProperties: false },
        ),
        response: { 201: SuppressionSchema, ...ERROR_RESPONSES },
      },
    },
    async (request, reply) => {
      const b = request.body;
      const created = await ctx.state.transaction(async () => {
        const s = await service.create(
          {
            kind: b.kind,
            scopeKind: b.scopeKind,
            scopeId: b.scopeId,
            ...(b.ruleId === undefined ? {} : { ruleId: b.ruleId }),
            reason: b.reason,
            ...(b.fromMs === undefined ? {} : { fromMs: b.fromMs }),
            untilMs: b.untilMs,
          },
          who(request),
          ctx.now(),
        );
        await ctx.audit(request, {
          action: 'create',
          resource: 'alert-suppression',
          resourceId: s.id,
          after: { ...s },
        });
        return s;
      });
      return reply.code(201).send(created);
    },
  );

  app.get(
    '/alerts/suppressions/:id',
    {
      schema: {
        summary: 'A suppression with the alert openings it held back (newest first)',
        tags: ['alerts'],
        params: IdParams,
        querystring: Type.Object({ limit: Type.Optional(Limit) }, { additionalProperties: false }),
        response: {
          200: Type.Object({ suppression: SuppressionSchema, suppressed: Type.Array(SuppressedAlertSchema) }),
          ...ERROR_RESPONSES,
        },
      },
    },
    async (request) => {
      const suppression = await service.get(request.params.id);
      const suppressed = await ctx.state.suppressions.listSuppressed({
        suppressionId: suppression.id,
        limit: request.query.limit ?? 50,
      });
      return { suppression, suppressed: suppressed.map((a) => ({ ...a, evidence: { ...a.evidence } })) };
    },
  );

  app.post(
    '/alerts/suppressions/:id/end',
    {
      schema: {
        summary: 'End a maintenance window or snooze now (409 when it has already ended)',
        tags: ['alerts'],
        params: IdParams,
        response: { 200: SuppressionSchema, ...ERROR_RESPONSES },
      },
    },
    async (request) =>
      ctx.state.transaction(async () => {
        const s = await service.end(request.params.id, who(request), ctx.now());
        await ctx.audit(request, {
          action: 'end',
          resource: 'alert-suppression',
          resourceId: s.id,
          after: { revokedAt: s.revokedAt ?? null, suppressed: s.suppressed },
        });
        return s;
      }),
  );

  app.get(
    '/alerts/suppressed',
    {
      schema: {
        summary:
          'Alert openings held back by a maintenance window, a snooze or the flapping hold, newest first',
        tags: ['alerts'],
        querystring: Type.Object(
          { borrowerId: Type.Optional(Id('borrower id')), limit: Type.Optional(Limit) },
          { additionalProperties: false },
        ),
        response: { 200: Type.Object({ items: Type.Array(SuppressedAlertSchema) }), ...ERROR_RESPONSES },
      },
    },
    async (request) => {
      const items = await ctx.state.suppressions.listSuppressed({
        limit: request.query.limit ?? 50,
        ...(request.query.borrowerId === undefined ? {} : { borrowerId: request.query.borrowerId }),
      });
      return { items: items.map((a) => ({ ...a, evidence: { ...a.evidence } })) };
    },
  );
}
