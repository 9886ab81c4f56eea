/** The webhooks' records, as the store returns them and the API shows them (never with a secret). */
export const PING_EVENT_TYPE = 'webhook.ping';
/** Matches every event type in a subscription's `eventTypes`. */
export const ALL_EVENTS = '*';

export const DELIVERY_STATUSES = ['pending', 'sending', 'delivered', 'dead'] as const;
export type DeliveryStatus = (typeof DELIVERY_STATUSES)[number];
/** dispatch: from the outbox; replay: a replay (one delivery or a time range); ping: the test ping. */
export type DeliveryOrigin = 'dispatch' | 'replay' | 'ping';
/** delivered: 2xx; retry: will be tried again; dead: no more tries; gone: 410, subscription disabled. */
export type AttemptOutcome = 'delivered' | 'retry' | 'dead' | 'gone';

export interface WebhookSubscription {
  readonly id: string;
  readonly url: string;
  readonly eventTypes: string[];
  readonly description?: string;
  readonly enabled: boolean;
  /** Why it was disabled by the platform (a 410 Gone), until re-enabled. */
  readonly disabledReason?: string;
  readonly createdAt: number;
  readonly updatedAt: number;
  /** Until then (epoch ms) deliveries are signed with the previous secret too. */
  readonly previousSecretExpiresAt?: number;
}

export interface NewSubscription {
  readonly url: string;
  readonly eventTypes: string[];
  readonly description?: string;
  readonly enabled: boolean;
}

export interface SubscriptionPatch {
  readonly url?: string;
  readonly eventTypes?: readonly string[];
  readonly description?: string;
  readonly enabled?: boolean;
}

export interface DeliveryAttempt {
  readonly attempt: number;
  readonly startedAt: number;
  readonly durationMs: number;
  readonly statusCode?: number;
  readonly outcome: AttemptOutcome;
  readonly error?: string;
  readonly nextAttemptAt?: number;
}

export interface WebhookDelivery {
  readonly id: number;
  readonly subscriptionId: string;
  /** The `webhook-id`: the event's id, the same on every attempt and replay. */
  readonly eventId: string;
  readonly eventType: string;
  readonly occurredAt: number;
  readonly origin: DeliveryOrigin;
  readonly replayOf?: number;
  readonly status: DeliveryStatus;
  readonly attempts: number;
  readonly nextAttemptAt?: number;
  readonly createdAt: number;
  readonly finishedAt?: number;
  readonly lastStatusCode?: number;
  readonly lastError?: string;
  readonly attemptLog: DeliveryAttempt[];
}

/** What a worker needs to send one attempt. */
export interface DeliveryJob {
  readonly id: number;
  readonly subscriptionId: string;
  readonly url: string;
  readonly eventId: string;
  readonly payload: string;
  /** Attempts made before this one. */
  readonly attempts: number;
}
