import { RiskfuseError } from '../../errors.js';
import { placeholders, type Database, type Row, type SqlValue } from '../database.js';
import {
  identityColumns,
  primaryKey,
  schemaTables,
  SELF_REFERENCES,
  SINGLETONS,
  TABLE_ORDER,
} from './tables.js';

/**
 * Moving a whole state from one database to another, ids and all (`riskfuse state export|import`): an embedded
 * installation's SQLite file to PostgreSQL, or back. The format is JSON lines: a header, then one line per row
 * (`{"t":"borrowers","r":{…}}`) in foreign-key order, so an import can insert line by line.
 */
export const EXPORT_FORMAT = 'riskfuse-state';
const PAGE_ROWS = 5_000;

export interface ExportHeader {
  readonly format: typeof EXPORT_FORMAT;
  /** The schema version (migrations applied) of the exporting database: the importing one must match. */
  readonly schemaVersion: number;
  readonly exportedAt: number;
  readonly source: string;
  readonly tables: readonly string[];
}

export type Progress = (table: string, rows: number) => void;

/** Every line of an export, header first; pages through each table on its primary key. */
export async function* exportState(db: Database, progress: Progress = () => {}): AsyncGenerator<string> {
  const tables = await orderedTables(db);
  const header: ExportHeader = {
    format: EXPORT_FORMAT,
    schemaVersion: await db.schemaVersion(),
    exportedAt: Date.now(),
    source: db.dialect,
    tables,
  };
  yield JSON.stringify(header);
  for (const table of tables) {
    const key = await primaryKey(db, table);
    if (key.length === 0) throw new Error(`table ${table} has no primary key to page on`);
    const order = key.join(', ');
    let after: SqlValue[] | undefined;
    let count = 0;
    for (;;) {
      const where = after === undefined ? '' : `WHERE (${order}) > ${placeholders(key.length)}`;
      const rows: Row[] = await db.all(
        `SELECT * FROM ${table} ${where} ORDER BY ${order} LIMIT ${String(PAGE_ROWS)}`,
        after ?? [],
      );
      for (const r of self(table, rows)) yield JSON.stringify({ t: table, r });
      count += rows.length;
      progress(table, count);
      const last = rows.at(-1);
      if (last === undefined || rows.length < PAGE_ROWS) break;
      after = key.map((k) => last[k] as SqlValue);
    }
  }
}

/**
 * Imports an export into an empty, migrated database of the same schema version, in one transaction: all of it
 * or nothing. Refuses a database that already holds state, and an export of another schema version (migrate
 * the older side first).
 */
export async function importState(
  db: Database,
  lines: AsyncIterable<string>,
  progress: Progress = () => {},
): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  await db.transaction(async () => {
    let header: ExportHeader | undefined;
    let batch: { table: string; rows: Row[] } | undefined;
    const flush = async (): Promise<void> => {
      if (batch === undefined || batch.rows.length === 0) return;
      await insertRows(db, batch.table, batch.rows);
      counts[batch.table] = (counts[batch.table] ?? 0) + batch.rows.length;
      progress(batch.table, counts[batch.table] ?? 0);
      batch.rows = [];
    };
    for await (const line of lines) {
      if (line.trim() === '') continue;
      if (header === undefined) {
        header = await checkHeader(db, line);
        continue;
      }
      const { t, r } = JSON.parse(line) as { t: string; r: Row };
      if (!header.tables.includes(t)) throw invalid(`row of unknown table ${t}`);
      if (batch?.table !== t) {
        await flush();
        batch = { table: t, rows: [] };
      }
      batch.rows.push(r);
      if (batch.rows.length >= 1_000) await flush();
    }
    if (header === undefined) throw invalid('the file is empty');
    await flush();
    for (const { table, column } of await identityColumns(db)) {
      await db.get(
        `SELECT setval(pg_get_serial_sequence(?, ?), coalesce(max(${column}), 1), max(${column}) IS NOT NULL)
         FROM ${table}`,
        [table, column],
      );
    }
  });
  return counts;
}

async function checkHeader(db: Database, line: string): Promise<ExportHeader> {
  let header: ExportHeader;
  try {
    header = JSON.parse(line) as ExportHeader;
  } catch {
    throw invalid('the first line is not a riskfuse state export header');
  }
  if (header.format !== EXPORT_FORMAT) throw invalid('the first line is not a riskfuse state export header');
  const version = await db.schemaVersion();
  if (header.schemaVersion !== version) {
    throw invalid(
      `the export has schema version ${String(header.schemaVersion)}, this database ${String(version)}: ` +
        'run the same riskfuse version on both (open the older state once with it to migrate)',
    );
  }
  for (const table of await orderedTables(db)) {
    const any = await db.get(
      `SELECT 1 AS x FROM ${table} ${table in SINGLETONS ? 'WHERE 1 = 0' : ''} LIMIT 1`,
    );
    if (any !== undefined)
      throw invalid(
        `the target already holds state (table ${table} has rows); import needs an empty database`,
      );
  }
  return header;
}

async function insertRows(db: Database, table: string, rows: readonly Row[]): Promise<void> {
  const first = rows[0];
  if (first === undefined) return;
  const columns = Object.keys(first);
  const singleton = SINGLETONS[table];
  const tail =
    singleton === undefined
      ? ''
      : `ON CONFLICT (${singleton}) DO UPDATE SET ${columns.map((c) => `${c} = excluded.${c}`).join(', ')}`;
  await db.insertMany(
    table,
    columns,
    rows.map((r) => columns.map((c) => (r[c] ?? null) as SqlValue)),
    tail,
  );
}

/** The schema's tables in foreign-key order; refuses a schema with tables this version does not know. */
async function orderedTables(db: Database): Promise<string[]> {
  const present = await schemaTables(db);
  const unknown = present.filter((t) => !TABLE_ORDER.includes(t));
  if (unknown.length > 0) throw new Error(`tables missing from TABLE_ORDER: ${unknown.join(', ')}`);
  return TABLE_ORDER.filter((t) => present.includes(t));
}

/** Rows of a self-referencing table with each referenced row before its referrers. */
function self(table: string, rows: readonly Row[]): readonly Row[] {
  const ref = SELF_REFERENCES[table];
  if (ref === undefined) return rows;
  const byKey = new Map(rows.map((r) => [r[ref.references], r]));
  const out: Row[] = [];
  const seen = new Set<unknown>();
  const visit = (r: Row): void => {
    const key = r[ref.references];
    if (seen.has(key)) return;
    seen.add(key);
    const parent = byKey.get(r[ref.column]);
    if (parent !== undefined) visit(parent);
    out.push(r);
  };
  rows.forEach(visit);
  return out;
}

const invalid = (message: string): RiskfuseError =>
  new RiskfuseError('VALIDATION_FAILED', `state import: ${message}`);
