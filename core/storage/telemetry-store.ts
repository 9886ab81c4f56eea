import type { DeviceKind, Reading } from '../contracts/index.js';

/**
 * The telemetry store port: time series of device readings. Adapters: SQLite (embedded default,
 * `sqlite-telemetry-store.ts`) and InfluxDB (`influx-telemetry-store.ts`, line protocol + InfluxQL, the HTTP
 * API shared by InfluxDB 1.x, 2.x and 3.x). Every adapter runs the same contract suite
 * (`core/test/telemetry-store.contract.ts`).
 *
 * Semantics every adapter honours:
 * - A reading's identity is (deviceId, ts, seq): writing it again is a no-op (idempotent), so redelivery
 *   never double-counts.
 * - Times are epoch ms; ranges are half-open `[fromMs, toMs)`.
 * - Aggregate buckets are aligned to the epoch (bucket start = ts − ts mod intervalMs), only buckets with
 *   data are returned, ordered by group then bucket start.
 */
export type AggregateFn = 'mean' | 'min' | 'max' | 'count' | 'first' | 'last';
export const AGGREGATE_FNS: readonly AggregateFn[] = ['mean', 'min', 'max', 'count', 'first', 'last'];

export interface SeriesFilter {
  readonly kind?: DeviceKind;
  readonly deviceIds?: readonly string[];
  readonly borrowerIds?: readonly string[];
  readonly siteIds?: readonly string[];
}

export interface RangeQuery extends SeriesFilter {
  readonly fromMs: number;
  readonly toMs: number;
  /** Maximum readings returned; adapters cap it at `MAX_RANGE_LIMIT`. */
  readonly limit: number;
  readonly order?: 'asc' | 'desc';
}

export interface AggregateQuery extends SeriesFilter {
  readonly kind: DeviceKind;
  /** A numeric field of that kind, e.g. `weightKg`. */
  readonly field: string;
  readonly fromMs: number;
  readonly toMs: number;
  readonly intervalMs: number;
  /** One row per (group, bucket). `none` aggregates over all matching series. */
  readonly groupBy: 'device' | 'borrower' | 'none';
  /**
   * The aggregates the caller needs (default: all). `count` always comes back; the others not asked for may
   * be NaN, so an adapter can skip work — on SQLite, first/last need an ordered pass the others do not.
   */
  readonly fns?: readonly AggregateFn[];
}

export interface AggregateRow {
  /** deviceId or borrowerId, or `*` when groupBy is `none`. */
  readonly group: string;
  /** Bucket start, epoch ms. */
  readonly startMs: number;
  readonly count: number;
  readonly mean: number;
  readonly min: number;
  readonly max: number;
  readonly first: number;
  readonly last: number;
}

/** Order-free aggregates of several numeric fields of one kind, in one pass over the readings. */
export interface FieldsAggregateQuery extends SeriesFilter {
  readonly kind: DeviceKind;
  /** 1–16 distinct numeric fields of that kind. */
  readonly fields: readonly string[];
  readonly fromMs: number;
  readonly toMs: number;
  readonly intervalMs: number;
  readonly groupBy: 'device' | 'borrower' | 'none';
}

export interface FieldStats {
  readonly count: number;
  readonly mean: number;
  readonly min: number;
  readonly max: number;
}

export interface FieldsAggregateRow {
  readonly group: string;
  readonly startMs: number;
  /** One entry per field with numeric data in the bucket; a field without any is absent. */
  readonly fields: Readonly<Record<string, FieldStats>>;
}

export const MAX_AGGREGATE_FIELDS = 16;

/**
 * `aggregateFields` grouped by device, laid out for a whole portfolio: every device's buckets in one typed array,
 * no object per row. `fromMs` is a multiple of `intervalMs`; each field names the statistics wanted (a mean
 * brings its count along, which it is computed from).
 */
export interface FieldsGridQuery extends SeriesFilter {
  readonly kind: DeviceKind;
  readonly fields: readonly { readonly field: string; readonly stats: readonly GridStat[] }[];
  readonly fromMs: number;
  readonly toMs: number;
  readonly intervalMs: number;
}

export const GRID_STATS = ['count', 'mean', 'min', 'max'] as const;
export type GridStat = (typeof GRID_STATS)[number];

export interface FieldsGrid {
  readonly fromMs: number;
  readonly intervalMs: number;
  /** ⌈(toMs − fromMs) / intervalMs⌉: bucket b starts at fromMs + b·intervalMs (the last one may end at toMs). */
  readonly buckets: number;
  /** The columns of every device's array, in order. */
  readonly columns: readonly { readonly field: string; readonly stat: GridStat }[];
  /**
   * deviceId → its values, column c's bucket b at `c·buckets + b`; NaN where the field had no numeric reading in
   * the bucket. Devices without any are absent. Bucket for bucket what `aggregateFields` gives for the same
   * query grouped by device (pinned by the contract suite).
   */
  readonly devices: ReadonlyMap<string, Float64Array>;
}

/** One column of a device in a grid (a view, not a copy); undefined when the device has no data or no such column. */
export function gridSeries(
  grid: FieldsGrid,
  deviceId: string,
  field: string,
  stat: GridStat,
): Float64Array | undefined {
  const all = grid.devices.get(deviceId);
  if (all === undefined) return undefined;
  const c = grid.columns.findIndex((col) => col.field === field && col.stat === stat);
  return c < 0 ? undefined : all.subarray(c * grid.buckets, (c + 1) * grid.buckets);
}

export interface WriteResult {
  /** Readings accepted by the store (including ones it already had). */
  readonly written: number;
}

/**
 * Retention cut-offs (epoch ms): raw readings before `rawBeforeMs`, hourly aggregates before `hourlyBeforeMs`
 * and daily aggregates before `dailyBeforeMs` are deleted. The aggregates of a deleted reading stay as long
 * as their own cut-off allows, so features and charts over days keep their values across the cut.
 */
export interface RetentionCuts {
  readonly rawBeforeMs: number;
  readonly hourlyBeforeMs: number;
  readonly dailyBeforeMs: number;
}

/** Rows (SQLite) or series points deleted by a retention pass, per resolution. */
export interface PruneResult {
  readonly raw: number;
  readonly hourly: number;
  readonly daily: number;
}

export const MAX_RANGE_LIMIT = 10_000;
export const MAX_AGGREGATE_BUCKETS = 100_000;

export interface TelemetryStore {
  readonly backend: 'sqlite' | 'influxdb';
  /** Durably writes a batch; resolves only once the store has it. Throws RiskfuseError STORE_UNAVAILABLE
   * (retryable) when the store cannot be reached, STORE_REJECTED when it refuses the data. */
  writeReadings(readings: readonly Reading[]): Promise<WriteResult>;
  /** The latest reading of each matching device (one per device), ordered by deviceId. */
  latest(filter: SeriesFilter): Promise<Reading[]>;
  /** Readings in `[fromMs, toMs)`, ordered by ts (then deviceId, seq), at most `limit`. */
  range(query: RangeQuery): Promise<Reading[]>;
  /** Windowed aggregates of one field. */
  aggregate(query: AggregateQuery): Promise<AggregateRow[]>;
  /**
   * Windowed count/mean/min/max of several fields in one pass (same buckets, grouping and order as
   * `aggregate`): what reading every field on its own would give, for the cost of one read of the rows.
   */
  aggregateFields(query: FieldsAggregateQuery): Promise<FieldsAggregateRow[]>;
  /**
   * The same figures per device as dense arrays (FieldsGrid), for a portfolio's features: the whole window of a
   * kind's devices in one pass, each row merged straight into its device's array.
   */
  aggregateGrid(query: FieldsGridQuery): Promise<FieldsGrid>;
  /** Number of stored readings matching the filter in `[fromMs, toMs)`. */
  count(query: SeriesFilter & { readonly fromMs?: number; readonly toMs?: number }): Promise<number>;
  /**
   * Applies retention (see RetentionCuts). Cut-offs must be UTC midnights with raw ≥ hourly ≥ daily (a coarser
   * resolution is kept at least as long as a finer one); STORE_QUERY_INVALID otherwise. Adapters without
   * aggregates of their own refuse with STORE_REJECTED rather than delete what nothing else holds.
   */
  prune(cuts: RetentionCuts): Promise<PruneResult>;
  /** Resolves when the store answers; throws STORE_UNAVAILABLE otherwise. */
  ping(): Promise<void>;
  close(): Promise<void>;
}
