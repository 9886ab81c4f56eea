import type { EventType, PlatformEvent } from '../contracts/events.js';

/**
 * The event outbox port: events appended inside the state store's transaction (with the change they
 * announce), read back in order by the deliverers (webhooks, live streams). `seq` is the outbox's own
 * monotonically increasing position; consumers remember the last `seq` they handled.
 */
export interface StoredEvent extends PlatformEvent {
  readonly seq: number;
}

export interface EventOutbox {
  /** Appends events; call inside `StateStore.transaction` with the change they announce. */
  append(events: readonly PlatformEvent[]): void;
  /** Events after `afterSeq` in order, at most `limit` (default 1,000), optionally of some types. */
  after(afterSeq: number, options?: { limit?: number; types?: readonly EventType[] }): StoredEvent[];
  get(id: string): StoredEvent | undefined;
  /** Events that occurred in [fromMs, toMs), in order (for replay). */
  between(fromMs: number, toMs: number, limit?: number): StoredEvent[];
  lastSeq(): number;
}
