import type { Database, Row } from '../database.js';
import type { DeadLetter, DeadLetterRepository, NewDeadLetter } from './dead-letter-repository.js';

/** String() of a column value narrowed to non-null (the lint rule would take `{}` for an object). */
const text = (v: unknown): string => String(v);
const toDeadLetter = (r: Row): DeadLetter => ({
  id: Number(r.id),
  receivedAt: Number(r.received_at),
  ...(r.device_id == null ? {} : { deviceId: text(r.device_id) }),
  topic: String(r.topic),
  reason: String(r.reason),
  detail: String(r.detail),
  payload: String(r.payload),
});

/**
 * Text as both engines store it: PostgreSQL's TEXT cannot hold U+0000 (it refuses the whole insert), and a
 * dead letter is the ingest's reason to acknowledge a message, so a NUL that slipped into a detail or topic
 * becomes U+FFFD on either engine rather than losing the batch.
 */
const storable = (text: string): string => text.replaceAll('\u0000', '\uFFFD');

/** Refused readings on the state database (SQLite or PostgreSQL), newest first. */
export class SqlDeadLetterRepository implements DeadLetterRepository {
  constructor(private readonly db: Database) {}

  async addDeadLetters(items: readonly NewDeadLetter[]): Promise<void> {
    await this.db.insertMany(
      'dead_letters',
      ['received_at', 'device_id', 'topic', 'reason', 'detail', 'payload'],
      items.map((x) => [
        x.receivedAt,
        x.deviceId === undefined ? null : storable(x.deviceId),
        storable(x.topic),
        storable(x.reason),
        storable(x.detail),
        storable(x.payload),
      ]),
    );
  }

  async listDeadLetters(
    options: { limit?: number; reason?: string; deviceId?: string } = {},
  ): Promise<DeadLetter[]> {
    const limit = Math.min(Math.max(Math.floor(options.limit ?? 100), 1), 10_000);
    const rows = await this.db.all(
      `SELECT * FROM dead_letters WHERE (CAST(@reason AS TEXT) IS NULL OR reason = @reason)
         AND (CAST(@deviceId AS TEXT) IS NULL OR device_id = @deviceId) ORDER BY id DESC LIMIT @limit`,
      { reason: options.reason ?? null, deviceId: options.deviceId ?? null, limit },
    );
    return rows.map(toDeadLetter);
  }

  async countDeadLetters(reason?: string): Promise<number> {
    const r = await this.db.get(
      'SELECT count(*) AS c FROM dead_letters WHERE (CAST(@reason AS TEXT) IS NULL OR reason = @reason)',
      { reason: reason ?? null },
    );
    return Number(r?.c ?? 0);
  }
}
