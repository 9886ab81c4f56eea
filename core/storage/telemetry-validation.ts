import { DEVICE_KINDS, PAYLOAD_SCHEMAS, type DeviceKind, type Reading } from '../contracts/index.js';
import { RiskfuseError } from '../errors.js';
import {
  AGGREGATE_FNS,
  GRID_STATS,
  MAX_AGGREGATE_BUCKETS,
  MAX_AGGREGATE_FIELDS,
  MAX_RANGE_LIMIT,
  type AggregateQuery,
  type FieldsAggregateQuery,
  type FieldsGridQuery,
  type RangeQuery,
  type RetentionCuts,
  type SeriesFilter,
} from './telemetry-store.js';

/**
 * Checks shared by every TelemetryStore adapter, so that they accept and refuse exactly the same writes and
 * queries (the contract suite holds them to it). Writes that break a rule are refused with STORE_REJECTED,
 * queries with STORE_QUERY_INVALID; neither reaches the backend.
 */

/** Field names: identifiers, so they are safe in SQLite JSON paths and InfluxQL without further quoting rules. */
export const FIELD_NAME_PATTERN = /^[A-Za-z][A-Za-z0-9_]{0,63}$/;

/** Names a field may not take: the InfluxDB adapter uses them for tags, the point's time and `seq`. */
export const RESERVED_FIELD_NAMES: ReadonlySet<string> = new Set([
  'time',
  'ts',
  'seq',
  'kind',
  'device',
  'borrower',
  'site',
]);

/** Largest accepted `ts`: InfluxDB stores `ts × 10⁶ + seq mod 10⁶` nanoseconds in an int64. */
export const MAX_TS_MS = 9_223_372_036_853;

/** InfluxDB 1.x caps a string field at 64 KiB. */
export const MAX_STRING_FIELD_BYTES = 65_535;

/** Tag values (device, borrower, site ids) are stored as InfluxDB tags; line protocol cannot carry every string. */
const MAX_TAG_VALUE_LENGTH = 256;
// Control characters have no line-protocol escape that InfluxDB 1.x reads back; a backslash right before a
// space, comma or equals sign, or at the end, is read as an escape by InfluxDB 1.x's tag scanner.
// eslint-disable-next-line no-control-regex
const BAD_TAG_VALUE = /[\u0000-\u001f\u007f]|\\(?=[ ,=]|$)/;

const KINDS: ReadonlySet<string> = new Set(DEVICE_KINDS);

function rejected(message: string, details: unknown): RiskfuseError {
  return new RiskfuseError('STORE_REJECTED', message, { details });
}

function invalid(message: string): RiskfuseError {
  return new RiskfuseError('STORE_QUERY_INVALID', message);
}

// Tag values repeat too (every reading of a device carries its device, borrower and site ids), and the rules do
// not depend on which tag it is: remember the values already checked, up to a bound (then start over).
const goodTagValues = new Set<string>();
const MAX_REMEMBERED_TAG_VALUES = 100_000;

function tagProblem(name: string, value: unknown): string | undefined {
  if (typeof value !== 'string' || value.length === 0) return `${name} must be a non-empty string`;
  if (goodTagValues.has(value)) return undefined;
  if (value.length > MAX_TAG_VALUE_LENGTH) return `${name} is longer than ${MAX_TAG_VALUE_LENGTH} characters`;
  if (BAD_TAG_VALUE.test(value)) {
    return `${name} contains a control character or a backslash before a space, comma, equals sign or the end`;
  }
  if (goodTagValues.size >= MAX_REMEMBERED_TAG_VALUES) goodTagValues.clear();
  goodTagValues.add(value);
  return undefined;
}

// Field names repeat across every reading of a kind: remember the ones already checked.
const goodFieldNames = new Set<string>();

function fieldProblem(name: string, value: unknown): string | undefined {
  if (!goodFieldNames.has(name)) {
    if (!FIELD_NAME_PATTERN.test(name))
      return `field name ${JSON.stringify(name)} must match ${String(FIELD_NAME_PATTERN)}`;
    if (RESERVED_FIELD_NAMES.has(name)) return `field name ${JSON.stringify(name)} is reserved`;
    if (goodFieldNames.size < 10_000) goodFieldNames.add(name);
  }
  if (typeof value === 'number')
    return Number.isFinite(value) ? undefined : `field ${name} must be a finite number`;
  if (typeof value === 'string') {
    return Buffer.byteLength(value, 'utf8') <= MAX_STRING_FIELD_BYTES
      ? undefined
      : `field ${name} is longer than ${MAX_STRING_FIELD_BYTES} bytes`;
  }
  return `field ${name} must be a number or a string`;
}

function readingProblem(r: Reading): string | undefined {
  if (!KINDS.has(r.kind)) return `kind must be one of ${DEVICE_KINDS.join(', ')}`;
  const tag =
    tagProblem('deviceId', r.deviceId) ??
    tagProblem('borrowerId', r.borrowerId) ??
    tagProblem('siteId', r.siteId);
  if (tag !== undefined) return tag;
  if (!Number.isSafeInteger(r.ts) || r.ts < 0 || r.ts > MAX_TS_MS)
    return `ts must be an integer in 0..${MAX_TS_MS} (epoch ms)`;
  if (!Number.isSafeInteger(r.seq) || r.seq < 0) return 'seq must be a non-negative safe integer';
  if (typeof r.fields !== 'object' || r.fields === null) return 'fields must be an object';
  for (const [name, value] of Object.entries(r.fields)) {
    const problem = fieldProblem(name, value);
    if (problem !== undefined) return problem;
  }
  return undefined;
}

/** Refuses the whole batch (STORE_REJECTED) when any reading cannot be stored identically by every adapter. */
export function checkReadings(readings: readonly Reading[]): void {
  for (let i = 0; i < readings.length; i += 1) {
    const r = readings[i];
    if (r === undefined) continue;
    const problem = readingProblem(r);
    if (problem !== undefined) {
      throw rejected(`reading ${i} (device ${String(r.deviceId)}) refused: ${problem}`, {
        index: i,
        problem,
      });
    }
  }
}

function checkIdList(name: string, ids: readonly string[] | undefined): void {
  if (ids === undefined) return;
  if (!Array.isArray(ids)) throw invalid(`${name} must be an array of strings`);
  for (const id of ids) {
    if (typeof id !== 'string') throw invalid(`${name} must be an array of strings`);
  }
}

/** Validates the series filter part of any query. */
export function checkFilter(f: SeriesFilter): void {
  if (f.kind !== undefined && !KINDS.has(f.kind))
    throw invalid(`kind must be one of ${DEVICE_KINDS.join(', ')}`);
  checkIdList('deviceIds', f.deviceIds);
  checkIdList('borrowerIds', f.borrowerIds);
  checkIdList('siteIds', f.siteIds);
}

/** An empty id list matches no series at all (it is not "no filter"). */
export function matchesNothing(f: SeriesFilter): boolean {
  return f.deviceIds?.length === 0 || f.borrowerIds?.length === 0 || f.siteIds?.length === 0;
}

function checkTime(name: string, ms: number): void {
  if (!Number.isSafeInteger(ms) || ms < 0 || ms > MAX_TS_MS + 1)
    throw invalid(`${name} must be an integer in 0..${MAX_TS_MS + 1} (epoch ms)`);
}

function checkSpan(fromMs: number, toMs: number): void {
  checkTime('fromMs', fromMs);
  checkTime('toMs', toMs);
  if (fromMs >= toMs) throw invalid(`fromMs (${fromMs}) must be before toMs (${toMs})`);
}

/** Validates a range query; returns the effective limit (capped at MAX_RANGE_LIMIT, as the port says) and order. */
export function checkRangeQuery(q: RangeQuery): { limit: number; order: 'asc' | 'desc' } {
  checkFilter(q);
  checkSpan(q.fromMs, q.toMs);
  if (!Number.isSafeInteger(q.limit) || q.limit < 1)
    throw invalid(`limit must be a positive integer, got ${q.limit}`);
  if (q.order !== undefined && q.order !== 'asc' && q.order !== 'desc')
    throw invalid('order must be asc or desc');
  return { limit: Math.min(q.limit, MAX_RANGE_LIMIT), order: q.order ?? 'asc' };
}

/** Validates a count query; returns the span to count over (all time when unbounded). */
export function checkCountQuery(q: SeriesFilter & { readonly fromMs?: number; readonly toMs?: number }): {
  fromMs: number;
  toMs: number;
} {
  checkFilter(q);
  const span = { fromMs: q.fromMs ?? 0, toMs: q.toMs ?? MAX_TS_MS + 1 };
  checkSpan(span.fromMs, span.toMs);
  return span;
}

const NUMERIC_SCHEMA_TYPES: ReadonlySet<unknown> = new Set(['number', 'integer', 'boolean']);

/** The JSON-schema type of `field` in the payload schema of `kind`, when the schema declares the field. */
function declaredFieldType(kind: DeviceKind, field: string): unknown {
  const properties: unknown = (PAYLOAD_SCHEMAS[kind] as { properties?: unknown }).properties;
  if (typeof properties !== 'object' || properties === null || !Object.hasOwn(properties, field))
    return undefined;
  const prop: unknown = (properties as Record<string, unknown>)[field];
  return typeof prop === 'object' && prop !== null
    ? ((prop as { type?: unknown }).type ?? 'union')
    : undefined;
}

/** Validates an aggregate query: a numeric field of the kind, a sane span and interval. */
export function checkAggregateQuery(q: AggregateQuery): void {
  checkFilter(q);
  if (!KINDS.has(q.kind)) throw invalid(`kind must be one of ${DEVICE_KINDS.join(', ')}`);
  if (typeof q.field !== 'string' || !FIELD_NAME_PATTERN.test(q.field)) {
    throw invalid(`field must match ${String(FIELD_NAME_PATTERN)}, got ${JSON.stringify(q.field)}`);
  }
  if (RESERVED_FIELD_NAMES.has(q.field)) throw invalid(`${q.field} is not a stored field`);
  const declared = declaredFieldType(q.kind, q.field);
  if (declared !== undefined && !NUMERIC_SCHEMA_TYPES.has(declared))
    throw invalid(`field ${q.field} of ${q.kind} is not numeric`);
  checkSpan(q.fromMs, q.toMs);
  if (!Number.isSafeInteger(q.intervalMs) || q.intervalMs <= 0)
    throw invalid(`intervalMs must be a positive integer, got ${q.intervalMs}`);
  const buckets = Math.ceil((q.toMs - q.fromMs) / q.intervalMs);
  if (buckets > MAX_AGGREGATE_BUCKETS)
    throw invalid(`${buckets} buckets requested; at most ${MAX_AGGREGATE_BUCKETS}`);
  if (q.groupBy !== 'device' && q.groupBy !== 'borrower' && q.groupBy !== 'none')
    throw invalid('groupBy must be device, borrower or none');
  for (const fn of q.fns ?? []) {
    if (!AGGREGATE_FNS.includes(fn)) throw invalid(`unknown aggregate function ${JSON.stringify(fn)}`);
  }
}

export function checkFieldsAggregateQuery(q: FieldsAggregateQuery): void {
  const raw: unknown = q.fields;
  const fields: readonly string[] = q.fields;
  if (!Array.isArray(raw) || fields.length === 0 || fields.length > MAX_AGGREGATE_FIELDS) {
    throw invalid(`fields must list 1 to ${MAX_AGGREGATE_FIELDS} fields`);
  }
  if (new Set(fields).size !== fields.length) throw invalid('fields must not repeat');
  for (const field of fields) checkAggregateQuery({ ...q, field });
}

export function checkFieldsGridQuery(q: FieldsGridQuery): void {
  const raw: unknown = q.fields;
  if (!Array.isArray(raw)) throw invalid(`fields must list 1 to ${MAX_AGGREGATE_FIELDS} fields`);
  checkFieldsAggregateQuery({ ...q, fields: q.fields.map((f) => f.field), groupBy: 'device' });
  for (const f of q.fields) {
    const stats: unknown = f.stats;
    if (!Array.isArray(stats) || f.stats.length === 0 || f.stats.some((s) => !GRID_STATS.includes(s)))
      throw invalid(`stats of ${f.field} must list some of ${GRID_STATS.join(', ')}`);
  }
  if (q.fromMs % q.intervalMs !== 0) throw invalid('fromMs must be a multiple of intervalMs');
}

/** Code-unit string order, the same for every adapter (SQLite's BINARY collation agrees on ASCII ids). */
export function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The port's reading order: ts, then deviceId, then seq. */
export function compareReadings(a: Reading, b: Reading): number {
  return a.ts - b.ts || compareText(a.deviceId, b.deviceId) || a.seq - b.seq;
}

const DAY_MS = 86_400_000;

/**
 * Retention cut-offs: whole UTC days (a resolution is then cut at a bucket edge of every coarser one), and
 * each resolution kept at least as long as the finer one before it, so what a query reads from a coarser
 * resolution is never gone while the finer one still has it.
 */
export function checkRetentionCuts(c: RetentionCuts): void {
  for (const [name, v] of Object.entries(c)) {
    if (!Number.isSafeInteger(v) || v < 0 || v % DAY_MS !== 0) {
      throw invalid(`${name} must be a UTC midnight in epoch ms, got ${String(v)}`);
    }
  }
  if (!(c.rawBeforeMs >= c.hourlyBeforeMs && c.hourlyBeforeMs >= c.dailyBeforeMs)) {
    throw invalid(
      'retention must keep raw readings no longer than hourly aggregates, and those no longer than daily ones',
    );
  }
}
