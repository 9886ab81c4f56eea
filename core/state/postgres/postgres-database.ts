import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { ScopedStorage } from '../../scoped-storage.js';
import { RiskfuseError } from '../../errors.js';
import type { Logger } from '../../logger.js';
import {
  ConstraintError,
  LOCK_CLASS,
  lockKey,
  placeholders,
  rowsPerInsert,
  type Database,
  type Migration,
  type Row,
  type SqlParams,
  type SqlValue,
  type TransactionOptions,
} from '../database.js';
import { applyPostgresMigrations } from './postgres-migrate.js';
import { toPostgres } from './postgres-sql.js';

export interface PostgresOptions {
  readonly url: string;
  /** Connections in the pool. */
  readonly poolSize: number;
  /** A statement running longer is cancelled (PostgreSQL's `statement_timeout`). */
  readonly statementTimeoutMs: number;
  /** Waiting longer for a connection from the pool (or to the server) fails with STORE_UNAVAILABLE. */
  readonly connectTimeoutMs: number;
  /** Shown in `pg_stat_activity`, e.g. `riskfuse-api`. */
  readonly applicationName: string;
  readonly log: Logger;
}

/** Attempts of a transaction that hits a serialization failure or a deadlock before giving up. */
const TRANSACTION_ATTEMPTS = 5;
const RETRY_BASE_MS = 10;

/**
 * int8 (counts, epoch ms, identity ids) and numeric (sums of int8) as JavaScript numbers: the state's integers
 * are far below 2^53, and both engines must hand repositories the same rows.
 */
const toNumber = (v: string): number => Number(v);
const types = {
  getTypeParser: ((oid: number, format?: 'text') =>
    oid === 20 || oid === 1700
      ? toNumber
      : (pg.types.getTypeParser(oid, format) as (v: string) => unknown)) as typeof pg.types.getTypeParser,
};

/** The state on PostgreSQL: a connection pool, transactions on one pooled client, retried when they must be. */
export class PostgresDatabase implements Database {
  readonly dialect = 'postgres' as const;
  readonly location: string;
  /** The connection URL (with its password): sessions outside the pool, e.g. leader election, use it. */
  readonly url: string;
  readonly pool: pg.Pool;
  readonly #scope = new ScopedStorage<pg.PoolClient>();
  readonly #log: Logger;
  #closed = false;

  private constructor(options: PostgresOptions) {
    this.#log = options.log;
    this.location = redact(options.url);
    this.url = options.url;
    this.pool = new pg.Pool({
      connectionString: options.url,
      max: options.poolSize,
      statement_timeout: options.statementTimeoutMs,
      // A transaction left open by a stalled process must not hold its locks for ever.
      idle_in_transaction_session_timeout: Math.max(options.statementTimeoutMs * 2, 10_000),
      connectionTimeoutMillis: options.connectTimeoutMs,
      application_name: options.applicationName,
      // The state's queries are short index lookups, yet the planner's row estimates for set-returning
      // functions (json_to_recordset, generate_series) exceed the JIT threshold: compiling took 430 ms of a
      // 445 ms portfolio-trend query in bench:state. Without JIT the same query takes ~15 ms.
      options: '-c jit=off',
      types,
    });
    // An idle client whose server went away emits here; without a listener the process would crash.
    this.pool.on('error', (err) => this.#log.warn({ err: err.message }, 'state database connection lost'));
  }

  /** Connects, applies the migrations (one process at a time, under an advisory lock) and returns the database. */
  static async open(options: PostgresOptions, migrations: readonly Migration[]): Promise<PostgresDatabase> {
    const db = new PostgresDatabase(options);
    try {
      await applyPostgresMigrations(db.pool, migrations);
    } catch (err) {
      await db.pool.end();
      throw mapPostgresError(err);
    }
    return db;
  }

  inTransaction(): boolean {
    return this.#scope.getStore() !== undefined;
  }

  async tryLock(name: string): Promise<boolean> {
    if (!this.inTransaction()) throw new Error('tryLock needs a transaction');
    const r = await this.get<{ ok: boolean }>('SELECT pg_try_advisory_xact_lock(?, ?) AS ok', [
      LOCK_CLASS,
      lockKey(name),
    ]);
    return r?.ok === true;
  }

  async all<R extends object = Row>(sql: string, params?: SqlParams): Promise<R[]> {
    return (await this.#query<R>(sql, params)).rows;
  }

  async get<R extends object = Row>(sql: string, params?: SqlParams): Promise<R | undefined> {
    return (await this.#query<R>(sql, params)).rows[0];
  }

  async run(sql: string, params?: SqlParams): Promise<number> {
    return (await this.#query(sql, params)).rowCount ?? 0;
  }

  async insertMany(
    table: string,
    columns: readonly string[],
    rows: readonly (readonly SqlValue[])[],
    onConflict = '',
  ): Promise<number> {
    if (rows.length === 0) return 0;
    const chunk = Math.min(1_000, rowsPerInsert(columns.length));
    const write = async (): Promise<number> => {
      let changed = 0;
      for (let i = 0; i < rows.length; i += chunk) {
        const part = rows.slice(i, i + chunk);
        const values = part.map(() => placeholders(columns.length)).join(', ');
        changed += await this.run(
          `INSERT INTO ${table} (${columns.join(', ')}) VALUES ${values} ${onConflict}`,
          part.flat(),
        );
      }
      return changed;
    };
    return rows.length > chunk ? this.transaction(write) : write();
  }

  async transaction<T>(fn: () => Promise<T>, options: TransactionOptions = {}): Promise<T> {
    if (this.inTransaction()) return fn();
    for (let attempt = 1; ; attempt++) {
      const client = await this.#connect();
      let broken = false;
      try {
        await control(client, BEGIN[options.isolation ?? 'read-committed']);
        const out = await this.#scope.run(client, fn);
        await control(client, 'COMMIT');
        return out;
      } catch (err) {
        try {
          await client.query('ROLLBACK');
        } catch {
          broken = true; // the connection is gone; the pool must not hand it out again
        }
        const code = ((err as { cause?: unknown }).cause as { code?: unknown } | undefined)?.code;
        if ((code === '40001' || code === '40P01') && attempt < TRANSACTION_ATTEMPTS) {
          this.#log.debug({ code, attempt }, 'state transaction retried');
          await sleep(RETRY_BASE_MS * 2 ** attempt * (0.5 + Math.random()));
          continue;
        }
        // Errors of `fn` itself pass unchanged; the database's were mapped where they arose.
        throw err;
      } finally {
        client.release(broken);
      }
    }
  }

  async schemaVersion(): Promise<number> {
    const r = await this.get<{ v: number | null }>('SELECT max(version) AS v FROM schema_migrations');
    return r?.v ?? 0;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.pool.end();
  }

  async #connect(): Promise<pg.PoolClient> {
    try {
      return await this.pool.connect();
    } catch (err) {
      throw mapPostgresError(err);
    }
  }

  async #query<R extends object>(sql: string, params: SqlParams | undefined): Promise<pg.QueryResult<R>> {
    const { text, values } = toPostgres(sql, params);
    try {
      const client = this.#scope.getStore();
      return client === undefined
        ? await this.pool.query<R>(text, values)
        : await client.query<R>(text, values);
    } catch (err) {
      throw mapPostgresError(err);
    }
  }
}

/** BEGIN or COMMIT, with the database's errors mapped like any statement's. */
const BEGIN = {
  'read-committed': 'BEGIN',
  'repeatable-read': 'BEGIN ISOLATION LEVEL REPEATABLE READ',
  serializable: 'BEGIN ISOLATION LEVEL SERIALIZABLE',
} as const;

async function control(client: pg.PoolClient, sql: string): Promise<void> {
  let result: pg.QueryResult;
  try {
    result = await client.query(sql);
  } catch (err) {
    throw mapPostgresError(err);
  }
  // A statement that failed inside the transaction (its error caught and swallowed by the caller) leaves it
  // aborted, and PostgreSQL answers COMMIT with ROLLBACK: the caller must not believe its writes committed.
  if (sql === 'COMMIT' && result.command === 'ROLLBACK') {
    throw new RiskfuseError(
      'STORE_REJECTED',
      'state transaction rolled back: a statement in it failed (its error was caught inside the transaction)',
    );
  }
}

const CONSTRAINTS: Record<string, ConstraintError['constraint']> = {
  '23505': 'unique',
  '23503': 'foreign-key',
  '23514': 'check',
  '23502': 'not-null',
  '23001': 'append-only',
};

/** PostgreSQL's errors as the port's: constraints become ConstraintError; a lost server STORE_UNAVAILABLE. */
export function mapPostgresError(err: unknown): unknown {
  if (err instanceof RiskfuseError || !(err instanceof Error)) return err;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string') {
    const constraint = CONSTRAINTS[code];
    if (constraint !== undefined) return new ConstraintError(constraint, err.message, err);
    // 08: connection exceptions; 57: operator intervention (shutdown, statement timeout); 53: resources.
    if (code === '57014')
      return new RiskfuseError('STORE_UNAVAILABLE', 'state database: statement timed out', { cause: err });
    if (/^(08|57|53)/.test(code) || code.startsWith('E')) return unavailable(err);
    if (code === '40001' || code === '40P01')
      return new RiskfuseError('CONFLICT', `state database: ${err.message}`, { cause: err, retryable: true });
    return new RiskfuseError('STORE_REJECTED', `state database: ${err.message}`, { cause: err });
  }
  // pg's own errors without a SQLSTATE: connection refused or terminated, pool timeout.
  return unavailable(err);
}

/**
 * The server is unreachable or going away. The message reaches API clients (503), so it names no host or port;
 * the cause (pg's own message) stays for the logs.
 */
const unavailable = (err: Error): RiskfuseError =>
  new RiskfuseError('STORE_UNAVAILABLE', 'state database unavailable', { cause: err });

/** The URL without its password, for logs. */
export function redact(url: string): string {
  try {
    const u = new URL(url);
    if (u.password !== '') u.password = '***';
    return u.toString();
  } catch {
    return 'postgres://(unparsable URL)';
  }
}
