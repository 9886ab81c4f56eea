import { newEventId } from '../core/contracts/events.js';
import { RiskfuseError } from '../core/errors.js';
import type { EventOutbox, State, WebhookRepository } from '../core/state/index.js';
import { matchesEventType } from '../core/state/webhooks/webhook-body.js';
import { newWebhookSecret, webhookBody } from './signing.js';
import { resolveTarget, type Lookup, type TargetPolicy } from './ssrf.js';
import { PING_EVENT_TYPE, type WebhookDelivery, type WebhookSubscription } from './types.js';

/**
 * What the API does with webhooks. Checks that need the network (the target URL) run before the caller's
 * transaction; the writes join it, so the caller commits them with its audit entry.
 */
export class WebhookService {
  readonly store: WebhookRepository;
  private readonly outbox: EventOutbox;

  constructor(
    private readonly state: Pick<State, 'webhooks' | 'outbox' | 'transaction'>,
    private readonly o: {
      readonly policy: TargetPolicy;
      readonly rotationOverlapS: number;
      readonly now: () => number;
      readonly lookup?: Lookup;
      /** Wakes the in-process deliverer (new ping or replay), when there is one. */
      readonly wake?: () => void;
    },
  ) {
    this.store = state.webhooks;
    this.outbox = state.outbox;
  }

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

  async mustGet(id: string): Promise<WebhookSubscription> {
    const sub = await this.store.getSubscription(id);
    if (sub === undefined) throw new RiskfuseError('NOT_FOUND', `no webhook subscription ${id}`);
    return sub;
  }

  async mustGetDelivery(id: number): Promise<WebhookDelivery> {
    const d = await this.store.getDelivery(id);
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
  async ping(subscriptionId: string): Promise<WebhookDelivery> {
    const sub = await this.mustGet(subscriptionId);
    if (!sub.enabled)
      throw new RiskfuseError('CONFLICT', `webhook subscription ${sub.id} is disabled; enable it first`);
    const at = this.o.now();
    return this.store.addDelivery({
      subscriptionId: sub.id,
      eventId: newEventId(),
      eventType: PING_EVENT_TYPE,
      occurredAt: at,
      payload: webhookBody(PING_EVENT_TYPE, at, { subscriptionId: sub.id, message: 'riskfuse test ping' }),
      origin: 'ping',
    });
  }

  /** The same event (same `webhook-id`, same body) again, as a new delivery due now. */
  async replayDelivery(id: number): Promise<WebhookDelivery> {
    const d = await this.mustGetDelivery(id);
    const payload = (await this.store.payloadOf(id)) ?? '';
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

  /** New deliveries of the outbox events in [fromMs, toMs) that the subscription's types match (all or none). */
  async replayRange(
    subscriptionId: string,
    fromMs: number,
    toMs: number,
    max: number,
  ): Promise<WebhookDelivery[]> {
    const sub = await this.mustGet(subscriptionId);
    if (toMs <= fromMs) throw new RiskfuseError('VALIDATION_FAILED', '`to` must be after `from`');
    const events = (await this.outbox.between(fromMs, toMs, max + 1)).filter((e) =>
      matchesEventType(sub.eventTypes, e.type),
    );
    if (events.length > max)
      throw new RiskfuseError(
        'VALIDATION_FAILED',
        `more than ${max} events in that range; replay a shorter one`,
      );
    return this.state.transaction(async () => {
      const created: WebhookDelivery[] = [];
      for (const e of events) {
        created.push(
          await this.store.addDelivery({
            subscriptionId: sub.id,
            eventId: e.id,
            eventType: e.type,
            occurredAt: e.occurredAt,
            payload: webhookBody(e.type, e.occurredAt, e.data),
            origin: 'replay',
          }),
        );
      }
      return created;
    });
  }

  wake(): void {
    this.o.wake?.();
  }
}
