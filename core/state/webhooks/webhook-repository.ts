import type { StoredEvent } from '../outbox/event-outbox.js';
import type {
  DeliveryAttempt,
  DeliveryJob,
  DeliveryOrigin,
  DeliveryStatus,
  NewSubscription,
  SubscriptionPatch,
  WebhookDelivery,
  WebhookSubscription,
} from './webhook-types.js';

/**
 * Webhook subscriptions, deliveries and attempts, and the dispatcher's outbox position. Every method joins the
 * caller's transaction (`State.transaction`), so the API writes the audit entry with the change, and the
 * dispatcher advances its position with the deliveries it creates.
 */
export interface WebhookRepository {
  /**
   * A new subscription, taking events after the outbox's last one. It waits for a dispatch in progress (and holds
   * the next one off until it commits), so no dispatch can miss it for events after its start.
   */
  createSubscription(input: NewSubscription, secret: string): Promise<WebhookSubscription>;
  getSubscription(id: string): Promise<WebhookSubscription | undefined>;
  listSubscriptions(query: { limit: number; afterId?: string }): Promise<WebhookSubscription[]>;
  updateSubscription(id: string, patch: SubscriptionPatch): Promise<WebhookSubscription | undefined>;
  deleteSubscription(id: string): Promise<boolean>;
  rotateSecret(id: string, secret: string, overlapUntilMs: number): Promise<WebhookSubscription | undefined>;
  disableSubscription(id: string, reason: string): Promise<void>;
  /** The secrets that sign a subscription's deliveries now: the current one, and the previous in its overlap. */
  signingSecrets(id: string): Promise<string[]>;

  dispatchPosition(): Promise<number>;
  /**
   * Creates one delivery per event and matching enabled subscription (that existed before the event), and
   * moves the position from `fromSeq` to the last event's seq — in one transaction, and only if the position
   * is still `fromSeq` (compare-and-set: another dispatcher did not move it), so nothing is skipped or doubled.
   */
  dispatch(events: readonly StoredEvent[], fromSeq: number): Promise<{ created: number; advanced: boolean }>;
  /** A delivery outside the dispatch (ping, replay), due now. */
  addDelivery(input: {
    subscriptionId: string;
    eventId: string;
    eventType: string;
    occurredAt: number;
    payload: string;
    origin: DeliveryOrigin;
    replayOf?: number;
  }): Promise<WebhookDelivery>;
  /** The stored body of a delivery (replays send the same bytes). */
  payloadOf(deliveryId: number): Promise<string | undefined>;

  /** Enabled subscriptions with deliveries due now (pending, or sending with an expired lease), and how many. */
  dueSubscriptions(nowMs: number): Promise<{ id: string; due: number }[]>;
  /**
   * Claims up to `limit` due deliveries of one subscription: status `sending` with a lease (`next_attempt_at` =
   * `leaseUntilMs`), so a process that dies mid-attempt leaves them to be retried once the lease expires.
   * Concurrent claims (other workers, other processes) never take the same delivery.
   */
  claimDue(
    subscriptionId: string,
    nowMs: number,
    limit: number,
    leaseUntilMs: number,
  ): Promise<DeliveryJob[]>;
  /** Hands claimed deliveries back (pending, due now): the process is stopping. */
  release(ids: readonly number[]): Promise<void>;
  /**
   * Hands every claimed delivery back (pending, due now); resolves how many. Only for a newly elected
   * deliverer: the claims it finds were the previous leader's, which is gone (without this they would wait for
   * their lease). Never while another deliverer may be running.
   */
  releaseAll(): Promise<number>;
  /** Records an attempt and the delivery's new state; false when the delivery no longer exists. */
  finishAttempt(deliveryId: number, attempt: DeliveryAttempt): Promise<boolean>;
  getDelivery(id: number): Promise<WebhookDelivery | undefined>;
  /** Deliveries newest first, with their attempts (read for the whole page at once). */
  listDeliveries(query: {
    subscriptionId?: string;
    status?: DeliveryStatus;
    limit: number;
    beforeId?: number;
  }): Promise<WebhookDelivery[]>;
  countByStatus(): Promise<Record<DeliveryStatus, number>>;
}
