import { Type } from '@sinclair/typebox';
import { EVENT_TYPES } from '../../core/contracts/events.js';
import { RiskfuseError } from '../../core/errors.js';
import {
  ALL_EVENTS,
  DELIVERY_STATUSES,
  PING_EVENT_TYPE,
  type WebhookService,
  type WebhookSubscription as SubscriptionRecord,
} from '../../webhooks/index.js';
import type { ApiApp, RouteContext } from '../app.js';
import { decodeCursor, isNumber, isString, paged } from '../pagination.js';
import { ERROR_RESPONSES } from '../problem.js';
import { Cursor, EpochMs, Limit, Page } from '../schemas.js';

const SubId = Type.String({ pattern: '^wh_[0-9a-f]{16}$', description: 'webhook subscription id' });
const SubParams = Type.Object({ id: SubId });
const DeliveryParams = Type.Object({ id: Type.Integer({ minimum: 1, description: 'delivery id' }) });

const EventTypeName = Type.Union([...EVENT_TYPES.map((t) => Type.Literal(t)), Type.Literal(ALL_EVENTS)], {
  description: `an event type, or \`${ALL_EVENTS}\` for all`,
});
const Url = Type.String({
  minLength: 8,
  maxLength: 2048,
  description: 'http(s) URL of the receiver, without credentials; checked against the target policy',
});
const Description = Type.String({ maxLength: 500 });

const Subscription = Type.Object({
  id: SubId,
  url: Type.String(),
  eventTypes: Type.Array(Type.String()),
  description: Type.Optional(Type.String()),
  enabled: Type.Boolean(),
  disabledReason: Type.Optional(Type.String({ description: 'why the platform disabled it (410 Gone)' })),
  createdAt: EpochMs('created'),
  updatedAt: EpochMs('last changed'),
  previousSecretExpiresAt: Type.Optional(
    EpochMs('until then deliveries also carry a signature with the previous secret'),
  ),
});
const WithSecret = Type.Object({
  subscription: Subscription,
  secret: Type.String({ description: 'the signing secret (`whsec_…`), shown in this response only' }),
});

const Attempt = Type.Object({
  attempt: Type.Integer(),
  startedAt: EpochMs('attempt started'),
  durationMs: Type.Integer(),
  statusCode: Type.Optional(Type.Integer({ description: 'HTTP status, absent when there was no response' })),
  outcome: Type.Union(['delivered', 'retry', 'dead', 'gone'].map((o) => Type.Literal(o))),
  error: Type.Optional(Type.String()),
  nextAttemptAt: Type.Optional(EpochMs('next attempt due')),
});
const DeliveryStatus = Type.Union(DELIVERY_STATUSES.map((s) => Type.Literal(s)));
const Delivery = Type.Object({
  id: Type.Integer(),
  subscriptionId: Type.String(),
  eventId: Type.String({ description: 'the `webhook-id`: the same on every attempt and replay' }),
  eventType: Type.String(),
  occurredAt: EpochMs('the event happened'),
  origin: Type.Union(['dispatch', 'replay', 'ping'].map((o) => Type.Literal(o))),
  replayOf: Type.Optional(Type.Integer()),
  status: DeliveryStatus,
  attempts: Type.Integer(),
  nextAttemptAt: Type.Optional(EpochMs('next attempt due (while sending: the lease expiry)')),
  createdAt: EpochMs('created'),
  finishedAt: Type.Optional(EpochMs('delivered or dead-lettered')),
  lastStatusCode: Type.Optional(Type.Integer()),
  lastError: Type.Optional(Type.String()),
  attemptLog: Type.Array(Attempt),
});

const MAX_REPLAY_EVENTS = 10_000;

/** Public view of a subscription for responses and the audit log: never a secret. */
const view = (s: SubscriptionRecord): SubscriptionRecord => ({ ...s });

/**
 * Webhook subscriptions (admin manages; officers and auditors read), their delivery logs, test pings,
 * replays and dead letters. Secrets appear only in the create and rotate responses.
 */
export function webhookRoutes(app: ApiApp, ctx: RouteContext, webhooks: WebhookService): void {
  const { state } = ctx;
  const { store } = webhooks;
  const tags = ['webhooks'];
  /**
   * Change, delete and rotate read the subscription they audit as `before`, then write: serializable, so that on
   * PostgreSQL two at once behave as if one ran after the other (two deletes: one 200 and one 404, not two
   * audit entries), as SQLite's one-at-a-time write transactions do. (Creating one checks nothing: its id is
   * random.)
   */
  const SERIALIZABLE = { isolation: 'serializable' } as const;

  app.get(
    '/webhooks/subscriptions',
    {
      schema: {
        summary: 'List webhook subscriptions (never their secrets)',
        tags,
        querystring: Type.Object(
          { limit: Limit, cursor: Type.Optional(Cursor) },
          { additionalProperties: false },
        ),
        response: { 200: Page(Subscription), ...ERROR_RESPONSES },
      },
    },
    async (request) => {
      const { limit, cursor } = request.query;
      const afterId = cursor === undefined ? undefined : decodeCursor(cursor, isString);
      const rows = await store.listSubscriptions({
        limit: limit + 1,
        ...(afterId === undefined ? {} : { afterId }),
      });
      return paged(rows, limit, (s) => s.id);
    },
  );

  app.post(
    '/webhooks/subscriptions',
    {
      schema: {
        summary: 'Subscribe a receiver; the signing secret is in this response only',
        tags,
        body: Type.Object(
          {
            url: Url,
            eventTypes: Type.Optional(
              Type.Array(EventTypeName, { minItems: 1, maxItems: 20, uniqueItems: true }),
            ),
            description: Type.Optional(Description),
            enabled: Type.Optional(Type.Boolean()),
          },
          { additionalProperties: false },
        ),
        response: { 201: WithSecret, ...ERROR_RESPONSES },
      },
    },
    async (request, reply) => {
      const body = request.body;
      await webhooks.checkTarget(body.url);
      const secret = webhooks.newSecret();
      const subscription = await state.transaction(async () => {
        const sub = await store.createSubscription(
          {
            url: body.url,
            eventTypes: body.eventTypes ?? [ALL_EVENTS],
            ...(body.description === undefined ? {} : { description: body.description }),
            enabled: body.enabled ?? true,
          },
          secret,
        );
        await ctx.audit(request, {
          action: 'create',
          resource: 'webhook-subscription',
          resourceId: sub.id,
          after: view(sub),
        });
        return sub;
      });
      void reply.code(201);
      return { subscription, secret };
    },
  );

  app.get(
    '/webhooks/subscriptions/:id',
    {
      schema: {
        summary: 'One webhook subscription',
        tags,
        params: SubParams,
        response: { 200: Subscription, ...ERROR_RESPONSES },
      },
    },
    (request) => webhooks.mustGet(request.params.id),
  );

  app.patch(
    '/webhooks/subscriptions/:id',
    {
      schema: {
        summary: 'Change URL, event types, description, or enable/disable (enabling clears a 410 disable)',
        tags,
        params: SubParams,
        body: Type.Object(
          {
            url: Type.Optional(Url),
            eventTypes: Type.Optional(
              Type.Array(EventTypeName, { minItems: 1, maxItems: 20, uniqueItems: true }),
            ),
            description: Type.Optional(Description),
            enabled: Type.Optional(Type.Boolean()),
          },
          { additionalProperties: false, minProperties: 1 },
        ),
        response: { 200: Subscription, ...ERROR_RESPONSES },
      },
    },
    async (request) => {
      const body = request.body;
      if (body.url !== undefined) await webhooks.checkTarget(body.url);
      const after = await state.transaction(async () => {
        const before = await webhooks.mustGet(request.params.id);
        const updated = await store.updateSubscription(before.id, {
          ...(body.url === undefined ? {} : { url: body.url }),
          ...(body.eventTypes === undefined ? {} : { eventTypes: body.eventTypes }),
          ...(body.description === undefined ? {} : { description: body.description }),
          ...(body.enabled === undefined ? {} : { enabled: body.enabled }),
        });
        if (updated === undefined)
          throw new RiskfuseError('NOT_FOUND', `no webhook subscription ${before.id}`);
        await ctx.audit(request, {
          action: 'update',
          resource: 'webhook-subscription',
          resourceId: before.id,
          before: view(before),
          after: view(updated),
        });
        return updated;
      }, SERIALIZABLE);
      webhooks.wake();
      return after;
    },
  );

  app.delete(
    '/webhooks/subscriptions/:id',
    {
      schema: {
        summary: 'Delete a subscription with its pending deliveries and delivery log',
        tags,
        params: SubParams,
        response: { 200: Subscription, ...ERROR_RESPONSES },
      },
    },
    async (request) => {
      return state.transaction(async () => {
        const before = await webhooks.mustGet(request.params.id);
        await store.deleteSubscription(before.id);
        await ctx.audit(request, {
          action: 'delete',
          resource: 'webhook-subscription',
          resourceId: before.id,
          before: view(before),
        });
        return before;
      }, SERIALIZABLE);
    },
  );

  app.post(
    '/webhooks/subscriptions/:id/rotate-secret',
    {
      schema: {
        summary:
          'New signing secret (in this response only); the old one keeps signing too for the overlap window',
        tags,
        params: SubParams,
        querystring: Type.Object(
          {
            overlapSeconds: Type.Optional(
              Type.Integer({
                minimum: 0,
                maximum: 2_592_000,
                description: 'how long the old secret keeps signing; default WEBHOOK_ROTATION_OVERLAP_S',
              }),
            ),
          },
          { additionalProperties: false },
        ),
        response: { 200: WithSecret, ...ERROR_RESPONSES },
      },
    },
    async (request) => {
      const secret = webhooks.newSecret();
      const until = webhooks.overlapUntil(request.query.overlapSeconds);
      const subscription = await state.transaction(async () => {
        const before = await webhooks.mustGet(request.params.id);
        const after = await store.rotateSecret(before.id, secret, until);
        if (after === undefined) throw new RiskfuseError('NOT_FOUND', `no webhook subscription ${before.id}`);
        await ctx.audit(request, {
          action: 'rotate-secret',
          resource: 'webhook-subscription',
          resourceId: before.id,
          before: view(before),
          after: view(after),
        });
        return after;
      }, SERIALIZABLE);
      return { subscription, secret };
    },
  );

  app.post(
    '/webhooks/subscriptions/:id/ping',
    {
      schema: {
        summary: `Send a \`${PING_EVENT_TYPE}\` event to this subscription only; follow it in its delivery log`,
        tags,
        params: SubParams,
        response: { 202: Delivery, ...ERROR_RESPONSES },
      },
    },
    async (request, reply) => {
      const delivery = await state.transaction(async () => {
        const d = await webhooks.ping(request.params.id);
        await ctx.audit(request, {
          action: 'ping',
          resource: 'webhook-subscription',
          resourceId: request.params.id,
          after: { deliveryId: d.id, eventId: d.eventId },
        });
        return d;
      });
      webhooks.wake();
      void reply.code(202);
      return delivery;
    },
  );

  app.get(
    '/webhooks/subscriptions/:id/deliveries',
    {
      schema: {
        summary: 'The delivery log of a subscription, newest first, each with its attempts',
        tags,
        params: SubParams,
        querystring: Type.Object(
          { limit: Limit, cursor: Type.Optional(Cursor), status: Type.Optional(DeliveryStatus) },
          { additionalProperties: false },
        ),
        response: { 200: Page(Delivery), ...ERROR_RESPONSES },
      },
    },
    async (request) => {
      const sub = await webhooks.mustGet(request.params.id);
      const { limit, cursor, status } = request.query;
      const beforeId = cursor === undefined ? undefined : decodeCursor(cursor, isNumber);
      const rows = await store.listDeliveries({
        subscriptionId: sub.id,
        limit: limit + 1,
        ...(status === undefined ? {} : { status }),
        ...(beforeId === undefined ? {} : { beforeId }),
      });
      return paged(rows, limit, (d) => d.id);
    },
  );

  app.post(
    '/webhooks/subscriptions/:id/replay',
    {
      schema: {
        summary:
          'Deliver again the events that occurred in [from, to) and match the subscription (same webhook-id each)',
        tags,
        params: SubParams,
        body: Type.Object(
          { from: EpochMs('range start (inclusive)'), to: EpochMs('range end (exclusive)') },
          { additionalProperties: false },
        ),
        response: {
          202: Type.Object({ count: Type.Integer(), deliveryIds: Type.Array(Type.Integer()) }),
          ...ERROR_RESPONSES,
        },
      },
    },
    async (request, reply) => {
      const { from, to } = request.body;
      const ids = await state.transaction(async () => {
        const created = (await webhooks.replayRange(request.params.id, from, to, MAX_REPLAY_EVENTS)).map(
          (d) => d.id,
        );
        await ctx.audit(request, {
          action: 'replay',
          resource: 'webhook-subscription',
          resourceId: request.params.id,
          after: { from, to, deliveries: created.length },
        });
        return created;
      });
      webhooks.wake();
      void reply.code(202);
      return { count: ids.length, deliveryIds: ids };
    },
  );

  app.get(
    '/webhooks/deliveries/:id',
    {
      schema: {
        summary: 'One delivery with every attempt',
        tags,
        params: DeliveryParams,
        response: { 200: Delivery, ...ERROR_RESPONSES },
      },
    },
    (request) => webhooks.mustGetDelivery(request.params.id),
  );

  app.post(
    '/webhooks/deliveries/:id/replay',
    {
      schema: {
        summary:
          'Deliver this delivery’s event again (same webhook-id, same body), as a new delivery due now',
        tags,
        params: DeliveryParams,
        response: { 202: Delivery, ...ERROR_RESPONSES },
      },
    },
    async (request, reply) => {
      const delivery = await state.transaction(async () => {
        const d = await webhooks.replayDelivery(request.params.id);
        await ctx.audit(request, {
          action: 'replay',
          resource: 'webhook-delivery',
          resourceId: String(request.params.id),
          after: { deliveryId: d.id, eventId: d.eventId },
        });
        return d;
      });
      webhooks.wake();
      void reply.code(202);
      return delivery;
    },
  );

  app.get(
    '/webhooks/dead-letters',
    {
      schema: {
        summary: 'Deliveries that ran out of attempts (or met a 410 or a blocked target), newest first',
        tags,
        querystring: Type.Object(
          { limit: Limit, cursor: Type.Optional(Cursor), subscriptionId: Type.Optional(SubId) },
          { additionalProperties: false },
        ),
        response: { 200: Page(Delivery), ...ERROR_RESPONSES },
      },
    },
    async (request) => {
      const { limit, cursor, subscriptionId } = request.query;
      const beforeId = cursor === undefined ? undefined : decodeCursor(cursor, isNumber);
      const rows = await store.listDeliveries({
        status: 'dead',
        limit: limit + 1,
        ...(subscriptionId === undefined ? {} : { subscriptionId }),
        ...(beforeId === undefined ? {} : { beforeId }),
      });
      return paged(rows, limit, (d) => d.id);
    },
  );
}
