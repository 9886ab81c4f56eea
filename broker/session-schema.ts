import { deserialize } from 'node:v8';
import type Database from 'better-sqlite3';
import { RiskfuseError, errorMessage } from '../core/errors.js';

/**
 * The SQLite session store's file (persistence-sqlite.ts): its schema and migrations, and every statement
 * the writer thread runs (session-writer.ts), with the encoding of the packets and subscriptions they store.
 */

/** No packet id yet: stored as NULL in `outgoing`, as this in `incoming` (part of its primary key). */
export const NO_INCOMING_ID = -1;

/** Versioned migrations: entry i moves the schema from version i to i + 1. Never edit a shipped one. */
export const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE retained (topic TEXT NOT NULL UNIQUE, packet BLOB NOT NULL);
  CREATE TABLE subscriptions (
    client_id TEXT NOT NULL, topic TEXT NOT NULL, subscription BLOB NOT NULL, UNIQUE (client_id, topic)
  );
  CREATE TABLE outgoing (seq INTEGER PRIMARY KEY, client_id TEXT NOT NULL, message_id INTEGER, packet BLOB NOT NULL);
  CREATE TABLE incoming (
    client_id TEXT NOT NULL, message_id INTEGER NOT NULL, packet BLOB NOT NULL, PRIMARY KEY (client_id, message_id)
  ) WITHOUT ROWID;
  CREATE TABLE wills (client_id TEXT PRIMARY KEY, packet BLOB NOT NULL) WITHOUT ROWID;
  `,
];

/** Every write the store makes, run on the writer thread (session-writer.ts). */
export const STATEMENTS = {
  upsertRetained:
    'INSERT INTO retained (topic, packet) VALUES (?, ?) ON CONFLICT (topic) DO UPDATE SET packet = excluded.packet',
  deleteRetained: 'DELETE FROM retained WHERE topic = ?',
  upsertSubscription:
    'INSERT INTO subscriptions (client_id, topic, subscription) VALUES (?, ?, ?) ' +
    'ON CONFLICT (client_id, topic) DO UPDATE SET subscription = excluded.subscription',
  deleteSubscription: 'DELETE FROM subscriptions WHERE client_id = ? AND topic = ?',
  deleteSubscriptions: 'DELETE FROM subscriptions WHERE client_id = ?',
  insertOutgoing: 'INSERT INTO outgoing (seq, client_id, message_id, packet) VALUES (?, ?, ?, ?)',
  setOutgoingMessageId: 'UPDATE outgoing SET message_id = ? WHERE seq = ?',
  replaceOutgoing: 'UPDATE outgoing SET message_id = ?, packet = ? WHERE seq = ?',
  deleteOutgoing: 'DELETE FROM outgoing WHERE seq = ?',
  upsertIncoming:
    'INSERT INTO incoming (client_id, message_id, packet) VALUES (?, ?, ?) ' +
    'ON CONFLICT (client_id, message_id) DO UPDATE SET packet = excluded.packet',
  deleteIncoming: 'DELETE FROM incoming WHERE client_id = ? AND message_id = ?',
  deleteIncomingOf: 'DELETE FROM incoming WHERE client_id = ?',
  upsertWill:
    'INSERT INTO wills (client_id, packet) VALUES (?, ?) ON CONFLICT (client_id) DO UPDATE SET packet = excluded.packet',
  deleteWill: 'DELETE FROM wills WHERE client_id = ?',
} as const;
export type StatementName = keyof typeof STATEMENTS;

/**
 * Packets and subscriptions are stored in V8's serialisation format (the writer thread serialises them):
 * Buffers (payload, MQTT 5 correlation data) and `undefined` fields come back as they went in. Functions
 * (Aedes hangs a write callback on the packets it delivers) are not data: a copy without them is stored,
 * taken when the write is queued, so later changes to the packet in memory do not reach the row.
 */
export function plain(value: object): Record<string, unknown> {
  const copy: Record<string, unknown> = {};
  for (const [key, field] of Object.entries(value)) {
    if (typeof field !== 'function') copy[key] = field;
  }
  return copy;
}

/** Brings the file's schema to this build's version, or refuses a newer one. */
export function migrate(db: Database.Database): void {
  const version = Number(db.pragma('user_version', { simple: true }));
  if (version > MIGRATIONS.length) {
    throw new RiskfuseError(
      'MIGRATION_FAILED',
      `broker session store schema version ${version} is newer than this riskfuse (${MIGRATIONS.length}); upgrade riskfuse`,
    );
  }
  for (let v = version; v < MIGRATIONS.length; v += 1) {
    db.transaction(() => {
      db.exec(MIGRATIONS[v] as string);
      db.pragma(`user_version = ${v + 1}`);
    })();
  }
}

export function unavailable(path: string, err: unknown): RiskfuseError {
  return new RiskfuseError(
    'STORE_UNAVAILABLE',
    `cannot open the broker session store ${path}: ${errorMessage(err)}`,
    {
      cause: err,
      retryable: false,
    },
  );
}

export function decode<T>(blob: Buffer): T {
  return deserialize(blob) as T;
}
