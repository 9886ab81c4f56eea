import type { EventType, PlatformEvent } from '../contracts/events.js';
import type { EventOutbox, StoredEvent } from './event-outbox.js';
import type { SqliteStateStore } from './sqlite-state-store.js';

type Row = { seq: number; id: string; type: string; occurred_at: number; data: string };

const toEvent = (r: Row): StoredEvent => ({
  seq: r.seq,
  id: r.id,
  type: r.type as EventType,
  occurredAt: r.occurred_at,
  data: JSON.parse(r.data) as Record<string, unknown>,
});

/** The outbox on the state store's SQLite file: appends join the caller's transaction. */
export class SqliteEventOutbox implements EventOutbox {
  constructor(private readonly state: SqliteStateStore) {}

  append(events: readonly PlatformEvent[]): void {
    const stmt = this.state.db.prepare(
      'INSERT INTO event_outbox (id, type, occurred_at, data) VALUES (@id, @type, @occurredAt, @data)',
    );
    this.state.transaction(() => {
      for (const e of events)
        stmt.run({ id: e.id, type: e.type, occurredAt: e.occurredAt, data: JSON.stringify(e.data) });
    });
  }

  after(afterSeq: number, options: { limit?: number; types?: readonly EventType[] } = {}): StoredEvent[] {
    const limit = Math.min(Math.max(1, options.limit ?? 1000), 100_000);
    const types = options.types;
    const sql =
      types === undefined || types.length === 0
        ? 'SELECT * FROM event_outbox WHERE seq > ? ORDER BY seq LIMIT ?'
        : `SELECT * FROM event_outbox WHERE seq > ? AND type IN (${types.map(() => '?').join(',')}) ORDER BY seq LIMIT ?`;
    const params =
      types === undefined || types.length === 0 ? [afterSeq, limit] : [afterSeq, ...types, limit];
    return (this.state.db.prepare(sql).all(...params) as Row[]).map(toEvent);
  }

  get(id: string): StoredEvent | undefined {
    const r = this.state.db.prepare('SELECT * FROM event_outbox WHERE id = ?').get(id) as Row | undefined;
    return r === undefined ? undefined : toEvent(r);
  }

  between(fromMs: number, toMs: number, limit = 10_000): StoredEvent[] {
    return (
      this.state.db
        .prepare('SELECT * FROM event_outbox WHERE occurred_at >= ? AND occurred_at < ? ORDER BY seq LIMIT ?')
        .all(fromMs, toMs, limit) as Row[]
    ).map(toEvent);
  }

  lastSeq(): number {
    const r = this.state.db.prepare('SELECT max(seq) AS s FROM event_outbox').get() as { s: number | null };
    return r.s ?? 0;
  }
}
