import type { EventType, PlatformEvent } from '../../contracts/events.js';

/**
 * The event outbox port: events appended inside the state store's transaction (with the change they
 * announce), read back in order by the deliverers (webhooks, live streams). `seq` is the outbox's own
 * monotonically increasing position; consumers remember the last `seq` they handled.
 */
export interface StoredEvent extends PlatformEvent {
  readonly seq: number;
}

export interface EventOutbox {
  /** Appends events; call inside `State.transaction` with the change they announce (on PostgreSQL appends
   * are serialised until commit, so `seq` order is commit order and a consumer never skips a late commit). */
  append(events: readonly PlatformEvent[]): Promise<void>;
  /** Events after `afterSeq` in order, at most `limit` (default 1,000), optionally of some types. */
  after(afterSeq: number, options?: { limit?: number; types?: readonly EventType[] }): Promise<StoredEvent[]>;
  get(id: string): Promise<StoredEvent | undefined>;
  /** Events that occurred in [fromMs, toMs), in order (for replay). */
  between(fromMs: number, toMs: number, limit?: number): Promise<StoredEvent[]>;
  lastSeq(): Promise<number>;
}
