import type { Database, SqlValue } from './database.js';

/** What a bulk upsert writes: a table keyed by one column, and which columns an existing row takes over. */
export interface UpsertSpec {
  readonly table: string;
  readonly columns: readonly string[];
  /** The primary key column, the conflict target; one of `columns`. */
  readonly key: string;
  /** Columns an existing row takes from the new one; the others keep their first inserted values. */
  readonly update: readonly string[];
  /** Further assignments of the update, e.g. `revoked_at = NULL`. */
  readonly alsoSet?: string;
  /** A condition the update needs (it may use `excluded.` and the table's name), else the row is kept. */
  readonly where?: string;
}

export type UpsertRows = (db: Database, rows: readonly (readonly SqlValue[])[]) => Promise<number>;

/**
 * A bulk upsert of `spec`: `INSERT … ON CONFLICT (key) DO UPDATE SET c = excluded.c` through `db.insertMany`.
 *
 * Rows repeating a key are collapsed first into the row that applying them one by one would leave (update
 * columns from the last, the others from the first): PostgreSQL refuses a multi-row INSERT whose ON CONFLICT DO
 * UPDATE would touch one row twice ("cannot affect row a second time"), where SQLite (one statement per row)
 * applied them in turn. A conditional update (`where`) must be collapsed by its caller, which knows the rule.
 */
export function upsertRows(spec: UpsertSpec): UpsertRows {
  const keyAt = spec.columns.indexOf(spec.key);
  const updated = new Set(spec.update.map((c) => spec.columns.indexOf(c)));
  if (keyAt < 0 || updated.has(-1)) throw new Error(`upsert of ${spec.table}: key or update not in columns`);
  const set = [...spec.update.map((c) => `${c} = excluded.${c}`), ...(spec.alsoSet ? [spec.alsoSet] : [])];
  const onConflict =
    `ON CONFLICT (${spec.key}) DO UPDATE SET ${set.join(', ')}` + (spec.where ? ` WHERE ${spec.where}` : '');
  return (db, rows) => {
    const byKey = new Map<SqlValue | undefined, number>();
    const out: (readonly SqlValue[])[] = [];
    for (const row of rows) {
      const at = byKey.get(row[keyAt]);
      if (at === undefined) {
        byKey.set(row[keyAt], out.push(row) - 1);
      } else {
        const first = out[at] ?? row;
        out[at] = first.map((v, i) => (updated.has(i) ? (row[i] ?? null) : v));
      }
    }
    return db.insertMany(spec.table, spec.columns, out, onConflict);
  };
}
