import type { Row } from '../database.js';
import type {
  AttemptOutcome,
  DeliveryAttempt,
  DeliveryOrigin,
  DeliveryStatus,
  WebhookDelivery,
  WebhookSubscription,
} from './webhook-types.js';

/** Row mappers of the webhook tables (migration 7): the same rows come back from SQLite and PostgreSQL. */
const s = (v: unknown): string => String(v);
const n = (v: unknown): number => Number(v);

/** A subscription as the API shows it (never its secrets); the previous secret's expiry only while it runs. */
export const toSubscription = (r: Row, nowMs: number): WebhookSubscription => ({
  id: s(r.id),
  url: s(r.url),
  eventTypes: JSON.parse(s(r.event_types)) as string[],
  ...(r.description == null ? {} : { description: s(r.description) }),
  enabled: n(r.enabled) === 1,
  ...(r.disabled_reason == null ? {} : { disabledReason: s(r.disabled_reason) }),
  createdAt: n(r.created_at),
  updatedAt: n(r.updated_at),
  ...(r.previous_secret_until == null || n(r.previous_secret_until) <= nowMs
    ? {}
    : { previousSecretExpiresAt: n(r.previous_secret_until) }),
});

export const toAttempt = (r: Row): DeliveryAttempt => ({
  attempt: n(r.attempt),
  startedAt: n(r.started_at),
  durationMs: n(r.duration_ms),
  ...(r.status_code == null ? {} : { statusCode: n(r.status_code) }),
  outcome: s(r.outcome) as AttemptOutcome,
  ...(r.error == null ? {} : { error: s(r.error) }),
  ...(r.next_attempt_at == null ? {} : { nextAttemptAt: n(r.next_attempt_at) }),
});

export const toDelivery = (r: Row, attemptLog: DeliveryAttempt[]): WebhookDelivery => ({
  id: n(r.id),
  subscriptionId: s(r.subscription_id),
  eventId: s(r.event_id),
  eventType: s(r.event_type),
  occurredAt: n(r.occurred_at),
  origin: s(r.origin) as DeliveryOrigin,
  ...(r.replay_of == null ? {} : { replayOf: n(r.replay_of) }),
  status: s(r.status) as DeliveryStatus,
  attempts: n(r.attempts),
  ...(r.next_attempt_at == null ? {} : { nextAttemptAt: n(r.next_attempt_at) }),
  createdAt: n(r.created_at),
  ...(r.finished_at == null ? {} : { finishedAt: n(r.finished_at) }),
  ...(r.last_status_code == null ? {} : { lastStatusCode: n(r.last_status_code) }),
  ...(r.last_error == null ? {} : { lastError: s(r.last_error) }),
  attemptLog,
});
