import { newEventId } from '../core/contracts/events.js';
import { RiskfuseError } from '../core/errors.js';
import type { EventOutbox } from '../core/storage/event-outbox.js';
import { newWebhookSecret, webhookBody } from './signing.js';
import { resolveTarget, type Lookup, type TargetPolicy } from './ssrf.js';
import { matches, type WebhookStore } from './store.js';
import { PING_EVENT_TYPE, type WebhookDelivery, type WebhookSubscription } from './types.js';

/**
 * What the API does with webhooks. Checks that need the network (the target URL) are async and run before
 * the caller's transaction; the writes are synchronous so the caller commits them with its audit entry.
 */
export class WebhookService {
  constructor(
    readonly store: WebhookStore,
    private readonly outbox: EventOutbox,
    private readonly o: {
      readonly policy: TargetPolicy;
      readonly rotationOverlapS: number;
      readonly now: () => number;
      readonly lookup?: Lookup;
      /** Wakes the in-process deliverer (new ping or replay), when there is one. */
      readonly wake?: () => void;
    },
  ) {}

  /** The URL is http(s), has no credentials, and its host resolves only to addresses the policy allows. */
  async checkTarget(url: string): Promise<void> {
    try {
      await resolveTarget(url, this.o.policy, this.o.lookup);
    } catch (err) {
      // A name that does not resolve is a client error here (retryable only for deliveries).
      if (err instanceof RiskfuseError)
        throw new RiskfuseError('VALIDATION_FAILED', err.message, { details: err.details });
      throw err;
    }
  }

  mustGet(id: string): WebhookSubscription {
    const sub = this.store.getSubscription(id);
    if (sub === undefined) throw new RiskfuseError('NOT_FOUND', `no webhook subscription ${id}`);
    return sub;
  }

  mustGetDelivery(id: number): WebhookDelivery {
    const d = this.store.getDelivery(id);
    if (d === undefined) throw new RiskfuseError('NOT_FOUND', `no webhook delivery ${id}`);
    return d;
  }

  newSecret(): string {
    return newWebhookSecret();
  }

  overlapUntil(overlapS?: number): number {
    return this.o.now() + (overlapS ?? this.o.rotationOverlapS) * 1000;
  }

  /** A `webhook.ping` to this subscription only, due now. */
  ping(subscriptionId: string): WebhookDelivery {
    const sub = this.mustGet(subscriptionId);
    if (!sub.enabled)
      throw new RiskfuseError('CONFLICT', `webhook subscription ${sub.id} is disabled; enable it first`);
    const at = this.o.now();
    const eventId = newEventId();
    const d = this.store.addDelivery({
      subscriptionId: sub.id,
      eventId,
      eventType: PING_EVENT_TYPE,
      occurredAt: at,
      payload: webhookBody(PING_EVENT_TYPE, at, { subscriptionId: sub.id, message: 'riskfuse test ping' }),
      origin: 'ping',
    });
    return d;
  }

  /** The same event (same `webhook-id`, same body) again, as a new delivery due now. */
  replayDelivery(id: number): WebhookDelivery {
    const d = this.mustGetDelivery(id);
    const payload = this.store.payloadOf(id) ?? '';
    return this.store.addDelivery({
      subscriptionId: d.subscriptionId,
      eventId: d.eventId,
      eventType: d.eventType,
      occurredAt: d.occurredAt,
      payload,
      origin: 'replay',
      replayOf: d.id,
    });
  }

  /** New deliveries of the outbox events in [fromMs, toMs) that the subscription's types match. */
  replayRange(subscriptionId: string, fromMs: number, toMs: number, max: number): WebhookDelivery[] {
    const sub = this.mustGet(subscriptionId);
    if (toMs <= fromMs) throw new RiskfuseError('VALIDATION_FAILED', '`to` must be after `from`');
    const events = this.outbox.between(fromMs, toMs, max + 1).filter((e) => matches(sub.eventTypes, e.type));
    if (events.length > max)
      throw new RiskfuseError(
        'VALIDATION_FAILED',
        `more than ${max} events in that range; replay a shorter one`,
      );
    return events.map((e) =>
      this.store.addDelivery({
        subscriptionId: sub.id,
        eventId: e.id,
        eventType: e.type,
        occurredAt: e.occurredAt,
        payload: webhookBody(e.type, e.occurredAt, e.data),
        origin: 'replay',
      }),
    );
  }

  wake(): void {
    this.o.wake?.();
  }
}
