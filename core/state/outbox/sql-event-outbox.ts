import type { EventType, PlatformEvent } from '../../contracts/events.js';
import type { Database, Row } from '../database.js';
import type { EventOutbox, StoredEvent } from './event-outbox.js';

/**
 * PostgreSQL advisory lock key (transaction-scoped) that serialises outbox appends until their transaction
 * commits. 'rf' + 2, beside the migrations' 0x7266_0001 (postgres/postgres-migrate.ts); any other riskfuse
 * advisory lock must take a key of its own.
 */
export const OUTBOX_APPEND_LOCK_KEY = 0x7266_0002;

const toEvent = (r: Row): StoredEvent => ({
  seq: Number(r.seq),
  id: String(r.id),
  type: String(r.type) as EventType,
  occurredAt: Number(r.occurred_at),
  data: JSON.parse(String(r.data)) as Record<string, unknown>,
});

/** The outbox on the state database (SQLite or PostgreSQL): appends join the caller's transaction. */
export class SqlEventOutbox implements EventOutbox {
  constructor(private readonly db: Database) {}

  /**
   * Consumers read `seq > last seen` and never look back, so a row must never become visible after a row with a
   * higher `seq`. SQLite gives that for free: one writer at a time (BEGIN IMMEDIATE), so seq order is commit
   * order. On PostgreSQL an identity value is taken at INSERT but the row becomes visible at COMMIT: two
   * transactions can take seq 10 and 11 and commit 11 first, and a consumer that reads 11 then skips 10 for ever.
   * So on PostgreSQL an append first takes a transaction-scoped advisory lock (released only when its transaction
   * commits or rolls back): appending transactions take their seqs one after another, each after every earlier
   * appender has committed, and seq order is commit order. The price: appends serialise for the rest of the
   * appending transaction, so append last, just before commit. A deadlock with row locks is detected by
   * PostgreSQL and the transaction re-run by `Database.transaction`. Rows inserted into event_outbox other than
   * through here bypass the lock.
   */
  async append(events: readonly PlatformEvent[]): Promise<void> {
    if (events.length === 0) return;
    await this.db.transaction(async () => {
      if (this.db.dialect === 'postgres')
        await this.db.get('SELECT pg_advisory_xact_lock(?)', [OUTBOX_APPEND_LOCK_KEY]);
      await this.db.insertMany(
        'event_outbox',
        ['id', 'type', 'occurred_at', 'data'],
        events.map((e) => [e.id, e.type, e.occurredAt, JSON.stringify(e.data)]),
      );
    });
  }

  async after(
    afterSeq: number,
    options: { limit?: number; types?: readonly EventType[] } = {},
  ): Promise<StoredEvent[]> {
    const limit = Math.min(Math.max(1, options.limit ?? 1000), 100_000);
    const types = options.types ?? [];
    const rows =
      types.length === 0
        ? await this.db.all('SELECT * FROM event_outbox WHERE seq > ? ORDER BY seq LIMIT ?', [
            afterSeq,
            limit,
          ])
        : await this.db.all(
            `SELECT * FROM event_outbox WHERE seq > ? AND type IN (${types.map(() => '?').join(', ')})
             ORDER BY seq LIMIT ?`,
            [afterSeq, ...types, limit],
          );
    return rows.map(toEvent);
  }

  async get(id: string): Promise<StoredEvent | undefined> {
    const r = await this.db.get('SELECT * FROM event_outbox WHERE id = ?', [id]);
    return r === undefined ? undefined : toEvent(r);
  }

  async between(fromMs: number, toMs: number, limit = 10_000): Promise<StoredEvent[]> {
    const rows = await this.db.all(
      'SELECT * FROM event_outbox WHERE occurred_at >= ? AND occurred_at < ? ORDER BY seq LIMIT ?',
      [fromMs, toMs, limit],
    );
    return rows.map(toEvent);
  }

  async lastSeq(): Promise<number> {
    const r = await this.db.get<{ s: number | null }>('SELECT max(seq) AS s FROM event_outbox');
    return Number(r?.s ?? 0);
  }
}
