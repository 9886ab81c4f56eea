import { newEventId, type EventType, type PlatformEvent } from '../../contracts/events.js';
import type { DeliveryAttempt, State, StoredEvent } from '../index.js';
import type { StateBackend } from './backends.js';

/** Shared by the webhook repository's contract suites (webhooks.contract.test.ts, webhook-deliveries.contract.test.ts). */
export const T0 = 1_700_000_000_000;
export const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';

/** The body a delivery carries (Standard Webhooks' JSON shape), written out here rather than taken from the code. */
export const body = (type: EventType, data: Record<string, unknown>): string =>
  JSON.stringify({ type, timestamp: new Date(T0).toISOString(), data });

export const ev = (type: EventType = 'score.changed', data: Record<string, unknown> = {}): PlatformEvent => ({
  id: newEventId(),
  type,
  occurredAt: T0,
  data,
});

/** A state whose clock the test moves. */
export async function openWithClock(backend: StateBackend): Promise<{ state: State; clock: { ms: number } }> {
  const clock = { ms: T0 };
  const state = await backend.open({ now: () => clock.ms });
  return { state, clock };
}

/** Appends events to the outbox (as the change's transaction would) and returns them with their seq. */
export async function append(state: State, events: readonly PlatformEvent[]): Promise<StoredEvent[]> {
  const from = await state.outbox.lastSeq();
  await state.transaction(() => state.outbox.append(events));
  return state.outbox.after(from, { limit: events.length });
}

export const subscribe = (state: State, eventTypes: string[] = ['*'], enabled = true) =>
  state.webhooks.createSubscription({ url: 'https://receiver.example/hook', eventTypes, enabled }, SECRET);

/** Dispatches everything in the outbox after the current position. */
export async function dispatchAll(state: State): Promise<{ created: number; advanced: boolean }> {
  const from = await state.webhooks.dispatchPosition();
  return state.webhooks.dispatch(await state.outbox.after(from), from);
}

export const attempt = (
  n: number,
  outcome: DeliveryAttempt['outcome'],
  over: Partial<DeliveryAttempt> = {},
) => ({
  attempt: n,
  startedAt: T0 + n,
  durationMs: 12,
  outcome,
  ...over,
});
