import { RiskfuseError } from '../errors.js';

/**
 * The database module's port: connections and transactions for every state repository, on SQLite (embedded
 * default, `sqlite/sqlite-database.ts`) or PostgreSQL (`postgres/postgres-database.ts`).
 *
 * Repositories write one SQL text for both engines: `?` positional or `@name` named placeholders (not mixed),
 * `ON CONFLICT … DO UPDATE SET x = excluded.x` upserts, `RETURNING`, `lower(col) LIKE ?` for case-insensitive
 * search, and `CAST(? AS TEXT)` where a parameter appears only in `? IS NULL` (PostgreSQL must know its type).
 * Where the engines truly differ a repository branches on `dialect`; schemas differ in the migrations folders.
 */
export type Dialect = 'sqlite' | 'postgres';
export type SqlValue = string | number | null;
export type SqlParams = readonly SqlValue[] | Readonly<Record<string, SqlValue>>;
export type Row = Record<string, unknown>;

export interface Database {
  readonly dialect: Dialect;
  /** Every row of a query. */
  all<R extends object = Row>(sql: string, params?: SqlParams): Promise<R[]>;
  /** The first row of a query, or undefined. */
  get<R extends object = Row>(sql: string, params?: SqlParams): Promise<R | undefined>;
  /** Runs a statement; resolves the number of rows it changed. */
  run(sql: string, params?: SqlParams): Promise<number>;
  /**
   * Inserts rows of `columns` values into `table` in as few statements as the engine allows, with an optional
   * `ON CONFLICT …` tail (which may use `excluded.`). Resolves the number of rows changed.
   */
  insertMany(
    table: string,
    columns: readonly string[],
    rows: readonly (readonly SqlValue[])[],
    onConflict?: string,
  ): Promise<number>;
  /**
   * Runs `fn` in one transaction: every statement issued through this database inside it (awaited or not, any
   * depth of calls) joins it, and nested calls join the outer one. It commits when `fn` resolves and rolls back
   * when it throws. On PostgreSQL a serialization failure or deadlock re-runs `fn` (a few times, with jitter),
   * so `fn` must not have effects outside the database.
   */
  transaction<T>(fn: () => Promise<T>, options?: TransactionOptions): Promise<T>;
  /** Whether the caller runs inside a transaction of this database. */
  inTransaction(): boolean;
  /**
   * Inside a transaction: takes the named lock until it ends, or resolves false at once when another
   * transaction holds it — for work where a second concurrent run must be refused, not queued (two imports of
   * a loan file at once). PostgreSQL: a transaction-scoped advisory lock. SQLite: always true, since its write
   * transactions already run one at a time (`BEGIN IMMEDIATE`).
   */
  tryLock(name: string): Promise<boolean>;
  /** Migrations applied (the highest version recorded in `schema_migrations`). */
  schemaVersion(): Promise<number>;
  /** Where the data lives, for logs: a file path, or the PostgreSQL URL without its password. */
  readonly location: string;
  close(): Promise<void>;
}

export interface TransactionOptions {
  /**
   * PostgreSQL's isolation for this transaction (SQLite's write transactions are serial already):
   * - `read-committed` (default): each statement sees what was committed before it began;
   * - `repeatable-read`: every read sees one snapshot — several reads that must agree (counts and ids);
   * - `serializable`: check-then-write (create unless the id is taken, revoke unless it is the last admin)
   *   behaves as if requests ran one at a time: a concurrent conflict fails with a serialization error and
   *   `fn` is re-run, now seeing the other's commit.
   * Ignored when joining an outer transaction.
   */
  readonly isolation?: 'read-committed' | 'repeatable-read' | 'serializable';
}

/** A numbered migration: applied once, in order, recorded in `schema_migrations`; never edited once shipped. */
export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
}

/**
 * Checks a migrations list is numbered in strictly ascending order from 1 (a programming error otherwise). A gap
 * is allowed: numbers are assigned to changes that land separately, and one may land before a lower-numbered
 * one. Both engines apply every listed version not yet recorded (by set, not by "newer than the newest"), so
 * the lower one still applies when it lands; such migrations must not depend on each other.
 */
export function checkMigrations(list: readonly Migration[]): readonly Migration[] {
  list.forEach((m, i) => {
    const previous = i === 0 ? 0 : (list[i - 1] as Migration).version;
    if (!Number.isInteger(m.version) || m.version <= previous || (i === 0 && m.version !== 1))
      throw new Error(`migration ${m.name} has version ${m.version}, expected one above ${previous}`);
  });
  return list;
}

/** The highest version a migrations list knows (a database recording a higher one is newer than this build). */
export const newestMigration = (list: readonly Migration[]): number => list.at(-1)?.version ?? 0;

/** What a refused constraint was; repositories turn it into their own CONFLICT or VALIDATION_FAILED errors. */
export type ConstraintKind = 'unique' | 'foreign-key' | 'check' | 'not-null' | 'append-only';

/** A statement the database refused because of a constraint: both engines' errors become this one. */
export class ConstraintError extends RiskfuseError {
  readonly constraint: ConstraintKind;
  constructor(constraint: ConstraintKind, message: string, cause: unknown) {
    super('CONFLICT', message, { cause, details: { constraint } });
    this.constraint = constraint;
  }
}

export function isConstraintError(err: unknown, kind?: ConstraintKind): err is ConstraintError {
  return err instanceof ConstraintError && (kind === undefined || err.constraint === kind);
}

/** A lock name as PostgreSQL advisory-lock key: FNV-1a of the name, as a signed 32-bit integer. */
export function lockKey(name: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) {
    h ^= name.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h | 0;
}

/** Advisory-lock class of riskfuse's named locks (the two-int form: class, then the name's key). */
export const LOCK_CLASS = 0x7266;

/** LIKE pattern (for `lower(col) LIKE ? ESCAPE '\'`) matching a substring, any case, with `%`, `_`, `\` literal. */
export const likeSubstring = (q: string): string =>
  `%${q.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`;

/** Fractions of a table's columns as `?` placeholders: `(?, ?, ?)`. */
export const placeholders = (n: number): string => `(${Array.from({ length: n }, () => '?').join(', ')})`;

/** Rows per multi-row INSERT: under both engines' parameter limits (SQLite 32,766, PostgreSQL 65,535). */
export const rowsPerInsert = (columns: number): number => Math.max(1, Math.floor(30_000 / columns));
