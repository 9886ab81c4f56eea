import { randomBytes } from 'node:crypto';

/**
 * Platform events: what webhooks announce and the dashboard streams. Every event is written to the outbox
 * (`core/storage/event-outbox.ts`) in the same state-store transaction as the change it announces, so an
 * accepted alert or score change is never lost across a crash, and is delivered at least once.
 */
export const EVENT_TYPES = [
  'alert.opened',
  'alert.acknowledged',
  'alert.resolved',
  'case.opened',
  'case.closed',
  'score.changed',
  'device.offline',
  'device.online',
  // Credit (risk/credit, risk/decisions): a borrower's exposure broke the lending policy, a person decided a
  // credit application, a limit review opened.
  'policy.breached',
  'decision.made',
  'review.opened',
] as const;
export type EventType = (typeof EVENT_TYPES)[number];

export interface PlatformEvent {
  /** `evt_` + 24 random base32hex characters; also the Standard Webhooks `webhook-id` of its deliveries. */
  readonly id: string;
  readonly type: EventType;
  /** When the change happened, epoch ms. */
  readonly occurredAt: number;
  /** The event's body (JSON-serialisable), e.g. the alert or the score change. */
  readonly data: Readonly<Record<string, unknown>>;
}

export function newEventId(): string {
  return `evt_${randomBytes(15).toString('hex')}`;
}
