import type { DeviceKind, FieldValue, Reading } from '../contracts/index.js';
import { DEVICE_KINDS } from '../contracts/index.js';
import { RiskfuseError, errorMessage } from '../errors.js';
import type { Partial } from './resolution.js';
import type { WriterError } from './sqlite-writer.js';
import type { AggregateQuery, SeriesFilter } from './telemetry-store.js';

/**
 * What the SQLite telemetry store's reads share: the readings table's row shape, the WHERE clause of a filter,
 * grouping columns, and how SQLite errors become the port's errors.
 */

export interface ReadingRow {
  device_id: string;
  ts: number;
  seq: number;
  kind: DeviceKind;
  borrower_id: string;
  site_id: string;
  fields: string;
}

export interface AggregateSqlRow {
  g: string;
  b: number;
  n: number;
  total: number;
  mn: number;
  mx: number;
  fts: number;
  fseq: number;
  fv: number;
  lts: number;
  lseq: number;
  lv: number;
}

/** A partial without first/last (an order-free pass): never wins a first/last comparison. */
export const orderFree = (n: number, sum: number, min: number, max: number): Partial => ({
  n,
  sum,
  min,
  max,
  firstTs: Number.POSITIVE_INFINITY,
  firstSeq: 0,
  first: Number.NaN,
  lastTs: Number.NEGATIVE_INFINITY,
  lastSeq: 0,
  last: Number.NaN,
});

export const READING_COLUMNS = 'device_id, ts, seq, kind, borrower_id, site_id, fields';
export const ALL_KINDS_SQL = `kind IN (${DEVICE_KINDS.map((k) => `'${k}'`).join(', ')})`;

/** SQLite result codes that mean "the store cannot serve this now", as opposed to "this request is wrong". */
const UNAVAILABLE_CODES = /^SQLITE_(BUSY|LOCKED|IOERR|FULL|CANTOPEN|PROTOCOL|NOMEM)/;

/** SQLite busy timeout of both connections. */
export const BUSY_TIMEOUT_MS = 5_000;

function isWriterError(err: unknown): err is WriterError {
  return (
    typeof err === 'object' && err !== null && !(err instanceof Error) && 'code' in err && 'message' in err
  );
}

export function toStoreError(err: unknown, op: 'write' | 'query'): RiskfuseError {
  if (err instanceof RiskfuseError) return err;
  if (isWriterError(err)) return toStoreError(Object.assign(new Error(err.message), { code: err.code }), op);
  // The writer thread failed (crashed, or could not open the file): whether the batch landed is unknown,
  // and writing it again is harmless (writes are idempotent), so it is worth retrying.
  if (op === 'write' && err instanceof Error && !('code' in err)) {
    return new RiskfuseError('STORE_UNAVAILABLE', `telemetry store (sqlite) writer failed: ${err.message}`, {
      cause: err,
    });
  }
  const code = err instanceof Error && 'code' in err && typeof err.code === 'string' ? err.code : '';
  if (UNAVAILABLE_CODES.test(code)) {
    return new RiskfuseError(
      'STORE_UNAVAILABLE',
      `telemetry store (sqlite) unavailable: ${errorMessage(err)}`,
      { cause: err },
    );
  }
  return op === 'write'
    ? new RiskfuseError(
        'STORE_REJECTED',
        `telemetry store (sqlite) refused the write: ${errorMessage(err)}`,
        { cause: err },
      )
    : new RiskfuseError('INTERNAL', `telemetry store (sqlite) query failed: ${errorMessage(err)}`, {
        cause: err,
      });
}

export function toReading(row: ReadingRow): Reading {
  return {
    kind: row.kind,
    deviceId: row.device_id,
    borrowerId: row.borrower_id,
    siteId: row.site_id,
    ts: row.ts,
    seq: row.seq,
    // Our own JSON, written by writeReadings from validated fields.
    fields: JSON.parse(row.fields) as Record<string, FieldValue>,
  };
}

/**
 * Builds the WHERE conditions of a filter; id lists travel as one JSON parameter so the SQL text stays fixed.
 * Without statistics SQLite's planner prefers the (kind, ts) index even when a device or borrower list is far
 * more selective, so the less selective terms get a unary `+`, which keeps them out of index selection:
 * devices use the primary key, else borrowers their index, else kind its index.
 */
export function whereSql(
  f: SeriesFilter,
  span: { fromMs: number; toMs: number } | undefined,
): { sql: string; params: (string | number)[] } {
  const conds: string[] = [];
  const params: (string | number)[] = [];
  if (span !== undefined) {
    conds.push('ts >= ? AND ts < ?');
    params.push(span.fromMs, span.toMs);
  }
  filterConditions(f, conds, params);
  return { sql: conds.join(' AND '), params };
}

/**
 * A filter's kind and id-list conditions (see whereSql for the unary `+`), appended to `conds` and `params`: the
 * readings table and the rollup table (sqlite-rollup.ts rollupWhere) share them.
 */
export function filterConditions(f: SeriesFilter, conds: string[], params: (string | number)[]): void {
  const byDevice = f.deviceIds !== undefined;
  const byBorrower = !byDevice && f.borrowerIds !== undefined;
  if (f.kind !== undefined) {
    conds.push(byDevice || byBorrower ? '+kind = ?' : 'kind = ?');
    params.push(f.kind);
  } else if (!byDevice && !byBorrower) {
    // Naming every kind lets the (kind, ts) index serve a plain time range.
    conds.push(ALL_KINDS_SQL);
  }
  const lists: [string, readonly string[] | undefined][] = [
    ['device_id', f.deviceIds],
    [byDevice ? '+borrower_id' : 'borrower_id', f.borrowerIds],
    ['+site_id', f.siteIds],
  ];
  for (const [column, ids] of lists) {
    if (ids === undefined) continue;
    conds.push(`${column} IN (SELECT value FROM json_each(?))`);
    params.push(JSON.stringify(ids));
  }
}

export function groupSql(groupBy: AggregateQuery['groupBy']): string {
  switch (groupBy) {
    case 'device':
      return 'device_id';
    case 'borrower':
      return 'borrower_id';
    case 'none':
      return "'*'";
  }
}
