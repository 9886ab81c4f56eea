import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ScopedStorage } from '../../scoped-storage.js';
import BetterSqlite3 from 'better-sqlite3';
import { RiskfuseError } from '../../errors.js';
import {
  ConstraintError,
  placeholders,
  type Database,
  type Migration,
  type Row,
  type SqlParams,
  type SqlValue,
  type TransactionOptions,
} from '../database.js';
import { applySqliteMigrations } from './sqlite-migrate.js';

/** How long a statement waits for another connection's write lock before STORE_UNAVAILABLE. */
const BUSY_TIMEOUT_MS = 5_000;
/** Statements kept prepared; past this many distinct texts (IN lists of every length) the cache starts over. */
const STATEMENT_CACHE_SIZE = 2_000;

/**
 * The embedded database: one better-sqlite3 connection (WAL, `synchronous = FULL`: a dead letter is the
 * ingest's reason to acknowledge an MQTT message, so it must survive power loss; foreign keys on).
 *
 * better-sqlite3 is synchronous, so statements complete before the promise is returned. A transaction spans
 * awaits, though, and the connection is shared: while one is open, statements from outside it wait for it to
 * end instead of slipping into it (they would commit or roll back with it). Async local storage tells which
 * caller is inside: the transaction's own statements run at once, nested transactions join it.
 */
export class SqliteDatabase implements Database {
  readonly dialect = 'sqlite' as const;
  readonly location: string;
  /** The connection, for the few SQLite-only callers (backup, the legacy adapters' tests); repositories never. */
  readonly raw: BetterSqlite3.Database;
  readonly #statements = new Map<string, BetterSqlite3.Statement>();
  readonly #scope = new ScopedStorage<true>();
  /** Resolves when the transaction now open (and those queued before the last caller) have ended. */
  #tail: Promise<void> = Promise.resolve();
  #open = false;

  constructor(path: string, migrations: readonly Migration[]) {
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    this.location = path;
    this.raw = new BetterSqlite3(path);
    this.raw.pragma('journal_mode = WAL');
    this.raw.pragma('synchronous = FULL');
    this.raw.pragma('foreign_keys = ON');
    this.raw.pragma(`busy_timeout = ${String(BUSY_TIMEOUT_MS)}`);
    try {
      applySqliteMigrations(this.raw, migrations);
    } catch (err) {
      this.raw.close();
      throw err;
    }
  }

  inTransaction(): boolean {
    return this.#scope.getStore() === true;
  }

  tryLock(): Promise<boolean> {
    if (!this.inTransaction()) return Promise.reject(new Error('tryLock needs a transaction'));
    return Promise.resolve(true);
  }

  all<R extends object = Row>(sql: string, params?: SqlParams): Promise<R[]> {
    return this.#when(() => this.#statement(sql).all(...args(params)) as R[]);
  }

  get<R extends object = Row>(sql: string, params?: SqlParams): Promise<R | undefined> {
    return this.#when(() => this.#statement(sql).get(...args(params)) as R | undefined);
  }

  run(sql: string, params?: SqlParams): Promise<number> {
    return this.#when(() => this.#statement(sql).run(...args(params)).changes);
  }

  insertMany(
    table: string,
    columns: readonly string[],
    rows: readonly (readonly SqlValue[])[],
    onConflict = '',
  ): Promise<number> {
    if (rows.length === 0) return Promise.resolve(0);
    // One prepared single-row statement in one transaction is SQLite's fastest bulk insert.
    const stmt = this.#statement(
      `INSERT INTO ${table} (${columns.join(', ')}) VALUES ${placeholders(columns.length)} ${onConflict}`,
    );
    return this.#when(() => {
      let changed = 0;
      this.raw.transaction(() => {
        for (const row of rows) changed += stmt.run(...row).changes;
      })();
      return changed;
    });
  }

  async transaction<T>(fn: () => Promise<T>, _options?: TransactionOptions): Promise<T> {
    if (this.inTransaction()) return fn();
    const previous = this.#tail;
    let release!: () => void;
    this.#tail = new Promise((resolve) => (release = resolve));
    await previous;
    this.#open = true;
    try {
      await this.#begin();
      const out = await this.#scope.run(true, fn);
      this.raw.exec('COMMIT');
      return out;
    } catch (err) {
      if (this.raw.inTransaction) this.raw.exec('ROLLBACK');
      throw mapSqliteError(err);
    } finally {
      this.#open = false;
      release();
    }
  }

  /**
   * BEGIN IMMEDIATE without blocking the event loop: SQLite's busy timeout waits synchronously, which would
   * freeze this process while another connection (another process, or another state in this one) holds the
   * write lock — and, in this process, keep that holder from ever finishing. So the lock is tried with no
   * busy wait and retried asynchronously with backoff, up to the same 5 s, then STORE_UNAVAILABLE.
   */
  async #begin(): Promise<void> {
    const deadline = Date.now() + BUSY_TIMEOUT_MS;
    for (let wait = 1; ; wait = Math.min(wait * 2, 50)) {
      this.raw.pragma('busy_timeout = 0');
      try {
        this.raw.exec('BEGIN IMMEDIATE');
        return;
      } catch (err) {
        const busy = err instanceof BetterSqlite3.SqliteError && err.code.startsWith('SQLITE_BUSY');
        if (!busy || Date.now() >= deadline) throw err;
      } finally {
        this.raw.pragma(`busy_timeout = ${String(BUSY_TIMEOUT_MS)}`);
      }
      await sleep(wait);
    }
  }

  schemaVersion(): Promise<number> {
    return this.get<{ v: number | null }>('SELECT max(version) AS v FROM schema_migrations').then(
      (r) => r?.v ?? 0,
    );
  }

  close(): Promise<void> {
    if (this.raw.open) this.raw.close();
    return Promise.resolve();
  }

  /** Runs `op` now when the caller may use the connection, else once the open transaction has ended. */
  #when<T>(op: () => T): Promise<T> {
    if (this.#open && !this.inTransaction()) return this.#tail.then(() => this.#when(op));
    try {
      return Promise.resolve(op());
    } catch (err) {
      return Promise.reject(mapSqliteError(err));
    }
  }

  #statement(sql: string): BetterSqlite3.Statement {
    let stmt = this.#statements.get(sql);
    if (stmt === undefined) {
      if (this.#statements.size >= STATEMENT_CACHE_SIZE) this.#statements.clear();
      stmt = this.raw.prepare(sql);
      this.#statements.set(sql, stmt);
    }
    return stmt;
  }
}

const args = (params: SqlParams | undefined): unknown[] =>
  params === undefined ? [] : Array.isArray(params) ? params : [params];

const CONSTRAINTS: Record<string, ConstraintError['constraint']> = {
  SQLITE_CONSTRAINT_UNIQUE: 'unique',
  SQLITE_CONSTRAINT_PRIMARYKEY: 'unique',
  SQLITE_CONSTRAINT_FOREIGNKEY: 'foreign-key',
  SQLITE_CONSTRAINT_CHECK: 'check',
  SQLITE_CONSTRAINT_NOTNULL: 'not-null',
  SQLITE_CONSTRAINT_TRIGGER: 'append-only',
};
const UNAVAILABLE = /^SQLITE_(BUSY|LOCKED|IOERR|FULL|CANTOPEN|PROTOCOL|NOMEM|READONLY)/;

/** SQLite's errors as the port's: constraints become ConstraintError, a busy or failing disk STORE_UNAVAILABLE. */
export function mapSqliteError(err: unknown): Error {
  if (!(err instanceof BetterSqlite3.SqliteError)) return err instanceof Error ? err : new Error(String(err));
  const constraint = CONSTRAINTS[err.code];
  if (constraint !== undefined) return new ConstraintError(constraint, err.message, err);
  if (UNAVAILABLE.test(err.code))
    return new RiskfuseError('STORE_UNAVAILABLE', `state database: ${err.message}`, { cause: err });
  return new RiskfuseError('STORE_REJECTED', `state database: ${err.message}`, { cause: err });
}
