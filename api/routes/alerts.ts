import { Type, type Static } from '@sinclair/typebox';
import type { AlertsComponent } from '../../alerts/index.js';
import { ALERT_SEVERITIES, ALERT_STATUSES, SUBJECT_KINDS, type Alert } from '../../core/state/index.js';
import { EVENT_TYPES, type EventType } from '../../core/contracts/events.js';
import { errorMessage, RiskfuseError } from '../../core/errors.js';
import type { FastifyRequest } from 'fastify';
import type { ApiApp, RouteContext } from '../app.js';
import { decodeCursor } from '../pagination.js';
import { paged } from '../pagination.js';
import { ERROR_RESPONSES } from '../problem.js';
import { Cursor, EpochMs, Id, IdParams, Limit, Page } from '../schemas.js';

/**
 * Alerts: list/filter (newest first, cursor paging), get, acknowledge, resolve (who and a comment; audit log),
 * the rules with per-borrower overrides, and the live stream of platform events (Server-Sent Events over the
 * event outbox: `id:` is the outbox position, so a client reconnecting with `Last-Event-ID` misses nothing).
 */
const Severity = Type.Union(ALERT_SEVERITIES.map((s) => Type.Literal(s)));
const Status = Type.Union(ALERT_STATUSES.map((s) => Type.Literal(s)));
const RuleIdParam = Type.String({ pattern: '^[a-z][a-z-]{1,40}$', description: 'rule id' });

const AlertSchema = Type.Object({
  id: Type.String(),
  ruleId: Type.String(),
  severity: Severity,
  status: Status,
  subjectKind: Type.Union(SUBJECT_KINDS.map((s) => Type.Literal(s))),
  subjectId: Type.String(),
  borrowerId: Type.Optional(Type.String()),
  deviceId: Type.Optional(Type.String()),
  lotId: Type.Optional(Type.String()),
  title: Type.String(),
  evidence: Type.Record(Type.String(), Type.Unknown(), {
    description: 'the readings, score or presence that fired it',
  }),
  openedAt: EpochMs('when the condition was seen (device or score time)'),
  updatedAt: EpochMs('last lifecycle change'),
  acknowledgedAt: Type.Optional(EpochMs('when acknowledged')),
  acknowledgedBy: Type.Optional(Type.String({ description: 'API key id' })),
  acknowledgeComment: Type.Optional(Type.String()),
  resolvedAt: Type.Optional(EpochMs('when resolved')),
  resolvedBy: Type.Optional(
    Type.String({ description: 'API key id, or `system` when the condition cleared' }),
  ),
  resolveComment: Type.Optional(Type.String()),
});

const RuleSchema = Type.Object({
  id: Type.String(),
  description: Type.String(),
  subject: Type.String(),
  enabled: Type.Boolean(),
  severity: Severity,
  autoResolve: Type.Boolean(),
  params: Type.Record(Type.String(), Type.Unknown()),
  overrides: Type.Record(Type.String(), Type.Unknown(), {
    description: 'per borrower: enabled, severity, params',
  }),
  source: Type.Union([Type.Literal('default'), Type.Literal('file'), Type.Literal('api')]),
});

const Comment = Type.String({ minLength: 1, maxLength: 2000 });

const view = (a: Alert): Static<typeof AlertSchema> => ({ ...a, evidence: { ...a.evidence } });
const isAlertKey = (v: unknown): v is [number, string] =>
  Array.isArray(v) && v.length === 2 && typeof v[0] === 'number' && typeof v[1] === 'string';

export function alertRoutes(app: ApiApp, ctx: RouteContext, alerts: AlertsComponent): void {
  const { service, rules } = alerts;
  const who = (request: { principal: { keyId: string } | null }): string =>
    request.principal?.keyId ?? 'unknown';

  app.get(
    '/alerts',
    {
      schema: {
        summary: 'Alerts, newest first, filtered by status, severity, rule, borrower, subject and time',
        tags: ['alerts'],
        querystring: Type.Object(
          {
            status: Type.Optional(Status),
            severity: Type.Optional(Severity),
            rule: Type.Optional(RuleIdParam),
            borrowerId: Type.Optional(Id('borrower id')),
            subjectId: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
            from: Type.Optional(EpochMs('opened at or after')),
            to: Type.Optional(EpochMs('opened before')),
            limit: Limit,
            cursor: Type.Optional(Cursor),
          },
          { additionalProperties: false },
        ),
        response: { 200: Page(AlertSchema), ...ERROR_RESPONSES },
      },
    },
    async (request) => {
      const q = request.query;
      const before = q.cursor === undefined ? undefined : decodeCursor(q.cursor, isAlertKey);
      const rows = await service.list({
        limit: q.limit + 1,
        ...(q.status === undefined ? {} : { status: q.status }),
        ...(q.severity === undefined ? {} : { severity: q.severity }),
        ...(q.rule === undefined ? {} : { ruleId: q.rule }),
        ...(q.borrowerId === undefined ? {} : { borrowerId: q.borrowerId }),
        ...(q.subjectId === undefined ? {} : { subjectId: q.subjectId }),
        ...(q.from === undefined ? {} : { fromMs: q.from }),
        ...(q.to === undefined ? {} : { toMs: q.to }),
        ...(before === undefined ? {} : { before: { openedAt: before[0], id: before[1] } }),
      });
      const page = paged(rows, q.limit, (a) => [a.openedAt, a.id]);
      return {
        items: page.items.map(view),
        ...(page.nextCursor === undefined ? {} : { nextCursor: page.nextCursor }),
      };
    },
  );

  app.get(
    '/alerts/:id',
    {
      schema: {
        summary: 'One alert with its evidence and lifecycle',
        tags: ['alerts'],
        params: IdParams,
        response: { 200: AlertSchema, ...ERROR_RESPONSES },
      },
    },
    async (request) => {
      const a = await service.get(request.params.id);
      if (a === undefined) throw new RiskfuseError('NOT_FOUND', `no alert ${request.params.id}`);
      return view(a);
    },
  );

  const lifecycle = (action: 'acknowledge' | 'resolve') =>
    app.post(
      `/alerts/:id/${action}`,
      {
        schema: {
          summary:
            action === 'acknowledge' ? 'Acknowledge an open alert' : 'Resolve an alert, with a comment',
          tags: ['alerts'],
          params: IdParams,
          body:
            action === 'acknowledge'
              ? Type.Object({ comment: Type.Optional(Comment) }, { additionalProperties: false })
              : Type.Object({ comment: Comment }, { additionalProperties: false }),
          response: { 200: AlertSchema, ...ERROR_RESPONSES },
        },
      },
      async (request) => {
        const { id } = request.params;
        const comment = request.body.comment;
        const at = ctx.now();
        // The service refuses (CONFLICT, 409) an alert no longer in a state the action applies to, including one
        // another request changed first (its write is compare-and-set): then nothing here is written or audited.
        const after = await ctx.state.transaction(async () => {
          const before = await service.get(id);
          const next =
            action === 'acknowledge'
              ? await service.acknowledge(id, who(request), comment, at)
              : await service.resolve(id, who(request), comment, at);
          await ctx.audit(request, {
            action,
            resource: 'alert',
            resourceId: id,
            ...(before === undefined ? {} : { before: { status: before.status } }),
            after: { status: next.status, ...(comment === undefined ? {} : { comment }) },
          });
          return next;
        });
        return view(after);
      },
    );
  lifecycle('acknowledge');
  lifecycle('resolve');

  app.get(
    '/alerts/rules',
    {
      schema: {
        summary: 'The alert rules as in effect: parameters, severity, auto-resolve, per-borrower overrides',
        tags: ['alerts'],
        response: { 200: Type.Object({ items: Type.Array(RuleSchema) }), ...ERROR_RESPONSES },
      },
    },
    () => ({ items: rules.list().map((r) => ({ ...r })) }),
  );

  app.put(
    '/alerts/rules/:id',
    {
      schema: {
        summary:
          "Replace a rule's settings ({enabled, severity, autoResolve, params, overrides}); all or nothing",
        tags: ['alerts'],
        params: Type.Object({ id: RuleIdParam }),
        body: Type.Record(Type.String(), Type.Unknown()),
        response: { 200: RuleSchema, ...ERROR_RESPONSES },
      },
    },
    (request) => {
      const before = ruleOrThrow(request.params.id);
      return ctx.state.transaction(async () => {
        const after = await rules.set(request.params.id, request.body, ctx.now());
        await ctx.audit(request, {
          action: 'update',
          resource: 'alert-rule',
          resourceId: after.id,
          before,
          after,
        });
        return { ...after };
      });
    },
  );

  const ruleOrThrow = (id: string) => {
    const r = rules.list().find((x) => x.id === id);
    if (r === undefined) throw new RiskfuseError('NOT_FOUND', `no alert rule ${id}`);
    return r;
  };
  const OverrideParams = Type.Object({ id: RuleIdParam, borrowerId: Id('borrower id') });
  /** Sets (or, with no override, removes) one borrower's override and audits the rule before and after. */
  const saveOverride = (
    request: FastifyRequest,
    { id, borrowerId }: Static<typeof OverrideParams>,
    override: Record<string, unknown> | undefined,
  ) => {
    const before = ruleOrThrow(id);
    return ctx.state.transaction(async () => {
      const after = await rules.setOverride(id, borrowerId, override, ctx.now());
      await ctx.audit(request, {
        action: 'update',
        resource: 'alert-rule',
        resourceId: after.id,
        before,
        after,
      });
      return { ...after };
    });
  };

  app.put(
    '/alerts/rules/:id/overrides/:borrowerId',
    {
      schema: {
        summary: "Set one borrower's override of a rule ({enabled, severity, params})",
        tags: ['alerts'],
        params: OverrideParams,
        body: Type.Record(Type.String(), Type.Unknown()),
        response: { 200: RuleSchema, ...ERROR_RESPONSES },
      },
    },
    async (request) => {
      ruleOrThrow(request.params.id); // an unknown rule is the 404, before the borrower
      if ((await ctx.state.portfolio.getBorrower(request.params.borrowerId)) === undefined) {
        throw new RiskfuseError('NOT_FOUND', `no borrower ${request.params.borrowerId}`);
      }
      return saveOverride(request, request.params, request.body);
    },
  );

  app.delete(
    '/alerts/rules/:id/overrides/:borrowerId',
    {
      schema: {
        summary: "Remove one borrower's override of a rule",
        tags: ['alerts'],
        params: OverrideParams,
        response: { 200: RuleSchema, ...ERROR_RESPONSES },
      },
    },
    (request) => {
      return saveOverride(request, request.params, undefined);
    },
  );

  // Live stream. Open streams are ended before the server closes, so shutdown never waits on a dashboard.
  const streams = new Set<() => void>();
  app.addHook('preClose', (done) => {
    for (const end of [...streams]) end();
    done();
  });

  app.get(
    '/alerts/stream',
    {
      schema: {
        summary: 'Live platform events (Server-Sent Events): alert.*, score.changed, device.*',
        description:
          'Each event has `id:` = its outbox position and `event:` = its type. Reconnect with `Last-Event-ID` (or `?after=`) to receive what was missed; without either the stream starts at the newest event. Heartbeat comments keep proxies from closing it.',
        tags: ['alerts'],
        querystring: Type.Object(
          {
            after: Type.Optional(
              Type.Integer({ minimum: 0, description: 'outbox position to resume after' }),
            ),
            types: Type.Optional(
              Type.String({ maxLength: 500, description: 'comma-separated event types (default all)' }),
            ),
            follow: Type.Boolean({
              default: true,
              description: 'false: send what is stored after the position, then close',
            }),
          },
          { additionalProperties: false },
        ),
        response: {
          200: {
            description: 'An event stream (`text/event-stream`) that stays open until the client leaves',
            content: { 'text/event-stream': { schema: { type: 'string' } } },
          },
          ...ERROR_RESPONSES,
        },
      },
    },
    async (request, reply) => {
      const q = request.query;
      const header = request.headers['last-event-id'];
      const lastId =
        typeof header === 'string' && /^\d{1,15}$/.test(header.trim()) ? Number(header.trim()) : undefined;
      let types: EventType[] | undefined;
      if (q.types !== undefined) {
        const list = q.types
          .split(',')
          .map((s) => s.trim())
          .filter((s) => s !== '');
        const unknown = list.filter((t) => !(EVENT_TYPES as readonly string[]).includes(t));
        if (unknown.length > 0) {
          throw new RiskfuseError(
            'VALIDATION_FAILED',
            `unknown event types: ${unknown.join(', ')} (one of ${EVENT_TYPES.join(', ')})`,
          );
        }
        types = list as EventType[];
      }
      // Read before the stream opens, so that a state store that does not answer is an ordinary error response.
      let pos = lastId ?? q.after ?? (await service.outbox.lastSeq());
      void reply.hijack();
      const res = reply.raw;
      res.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache, no-transform',
        connection: 'keep-alive',
        'x-accel-buffering': 'no',
        'x-request-id': String(request.id),
      });
      res.write('retry: 2000\n\n');
      /** Writes what was appended after `pos`; one read pass at a time, so events go out once and in order. */
      const drain = async (): Promise<void> => {
        for (;;) {
          const batch = await service.eventsAfter(pos, {
            limit: 500,
            ...(types === undefined ? {} : { types }),
          });
          if (res.writableEnded) return;
          for (const e of batch) {
            res.write(
              `id: ${e.seq}\nevent: ${e.type}\ndata: ${JSON.stringify({ id: e.id, type: e.type, occurredAt: e.occurredAt, data: e.data })}\n\n`,
            );
            pos = e.seq;
          }
          if (batch.length < 500) return;
        }
      };
      let running: Promise<void> | undefined;
      let again = false;
      const flush = (): Promise<void> => {
        if (running !== undefined) {
          again = true;
          return running;
        }
        running = (async () => {
          try {
            do {
              again = false;
              await drain();
            } while (again && !res.writableEnded);
          } finally {
            running = undefined;
          }
        })();
        return running;
      };
      if (!q.follow) {
        try {
          await flush();
        } catch (err) {
          ctx.log.warn({ reqId: request.id, err: errorMessage(err) }, 'alert stream: reading events failed');
        }
        res.end();
        return;
      }
      const end = (): void => {
        streams.delete(end);
        clearInterval(poll);
        clearInterval(heartbeat);
        service.off('appended', onAppended);
        if (!res.writableEnded) res.end();
      };
      const onAppended = (): void => {
        flush().catch((err: unknown) => {
          // The client reconnects with Last-Event-ID and misses nothing.
          ctx.log.warn({ reqId: request.id, err: errorMessage(err) }, 'alert stream: reading events failed');
          end();
        });
      };
      service.on('appended', onAppended);
      const poll = setInterval(onAppended, alerts.config.alertStreamPollMs);
      const heartbeat = setInterval(() => res.write(': heartbeat\n\n'), alerts.config.alertStreamHeartbeatMs);
      streams.add(end);
      request.raw.on('close', end);
      res.on('error', end);
      onAppended();
    },
  );
}
