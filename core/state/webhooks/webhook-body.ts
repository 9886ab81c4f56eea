import { ALL_EVENTS } from './webhook-types.js';

/**
 * The pure parts of a webhook delivery that the repository (which creates deliveries) and the webhooks
 * component (which pings and replays) share: they live here so that `core/` never imports from `webhooks/`.
 */

/** The body every delivery of an event carries: `{"type", "timestamp" (ISO 8601), "data"}`. */
export function webhookBody(type: string, occurredAtMs: number, data: unknown): string {
  return JSON.stringify({ type, timestamp: new Date(occurredAtMs).toISOString(), data });
}

/** Whether a subscription's `eventTypes` take an event of `type` (`*` takes every type). */
export function matchesEventType(eventTypes: readonly string[], type: string): boolean {
  return eventTypes.includes(ALL_EVENTS) || eventTypes.includes(type);
}
