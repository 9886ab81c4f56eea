import type { DeviceKind } from '../../core/contracts/index.js';
import { RiskfuseError } from '../../core/errors.js';
import {
  gridSeries,
  type FieldsGrid,
  type GridStat,
  type TelemetryStore,
} from '../../core/storage/telemetry-store.js';
import { DAY_MS } from './online.js';

/**
 * Daily aggregates of a few device fields over a span of days, fetched from the `TelemetryStore` port with a
 * handful of queries (`aggregateGrid`, one per device kind and device list), held as the store's per-device
 * Float64Arrays (NaN = no data that day). Feature extraction for a whole portfolio at many observation
 * times reads from one panel instead of querying per borrower.
 *
 * Whole days come from the store's daily aggregates (core/storage/resolution.ts), which a late reading updates
 * as it is written, so every run reads the days as they are now: no panel is kept between runs. (A cache that
 * trusted days older than two for six hours gave a periodic score right after a device's offline queue drained
 * a tamper share of 0 where a rescore a minute later saw 0.125; pinned by risk/test/features.test.ts, "late".)
 *
 * Point-in-time rule: day d covers [fromMs + d·DAY, +DAY) clipped to `toMs`. At an observation time t only
 * days that end by t may be read — or, when t is the panel's own `toMs`, the partial day that ends at t. `daysBefore(t)`
 * enforces it and throws otherwise, so a feature can never see data from after t.
 */
/** The order-free aggregates a panel holds (one grouped pass in every store). */
export type PanelFn = GridStat;

export interface PanelField {
  readonly kind: DeviceKind;
  readonly field: string;
  readonly fns: readonly PanelFn[];
  /** Only these devices (e.g. inspectors' helmets); all of the kind when absent. */
  readonly deviceIds?: readonly string[];
  /**
   * Days before an observation time the features read of this field (default: the panel's whole lookback).
   * The panel holds the field from that many days before the first time on, not from its own start.
   */
  readonly days?: number;
}

/** A device's daily values of an aggregate from panel day `d0` on: day d is `values[d − d0]` (NaN = no data). */
export interface PanelSeries {
  readonly values: Float64Array;
  readonly d0: number;
}

export class DailyPanel {
  /** `kind.field` → the grid holding it (each field of a kind is read by one query) and the grid's first day. */
  private readonly grids = new Map<string, { grid: FieldsGrid; d0: number }>();

  constructor(
    readonly fromMs: number,
    readonly toMs: number,
  ) {}

  get days(): number {
    return Math.ceil((this.toMs - this.fromMs) / DAY_MS);
  }

  /** Number of whole days usable at t (see the point-in-time rule above). */
  daysBefore(t: number): number {
    if (t === this.toMs) return this.days;
    if (t > this.toMs || t < this.fromMs || (t - this.fromMs) % DAY_MS !== 0) {
      throw new RiskfuseError(
        'INTERNAL',
        `observation time ${new Date(t).toISOString()} is not a day boundary inside the panel ` +
          `[${new Date(this.fromMs).toISOString()}, ${new Date(this.toMs).toISOString()}]`,
      );
    }
    return (t - this.fromMs) / DAY_MS;
  }

  /** A device's daily values of an aggregate (NaN = no data that day), a view into the store's grid. */
  get(kind: DeviceKind, field: string, fn: PanelFn, deviceId: string): PanelSeries | undefined {
    const held = this.grids.get(`${kind}.${field}`);
    if (held === undefined) return undefined;
    const values = gridSeries(held.grid, deviceId, field, fn);
    return values === undefined ? undefined : { values, d0: held.d0 };
  }

  add(kind: DeviceKind, grid: FieldsGrid): void {
    const d0 = (grid.fromMs - this.fromMs) / DAY_MS;
    if (!Number.isInteger(d0) || d0 < 0)
      throw new RiskfuseError('INTERNAL', 'grid starts off the panel days');
    for (const { field } of grid.columns) this.grids.set(`${kind}.${field}`, { grid, d0 });
  }
}

/**
 * Day d of a series; NaN when there is no series. A day before the series' first day is a feature reading
 * further back than its field's declared `days` (offline.ts panelFields): an error, never a silent NaN.
 */
export function dayValue(s: PanelSeries | undefined, d: number): number {
  if (s === undefined || d < 0) return Number.NaN;
  if (d < s.d0) throw new RiskfuseError('INTERNAL', `panel day ${d} is before its field's window (${s.d0})`);
  return s.values[d - s.d0] ?? Number.NaN;
}

export interface LoadPanelOptions {
  readonly store: TelemetryStore;
  readonly fields: readonly PanelField[];
  /** Day-aligned (UTC midnight) start. */
  readonly fromMs: number;
  readonly toMs: number;
  /**
   * Whole days of the panel before its first observation time's day: a field read `days` back starts
   * `lookbackDays − days` days after the panel.
   */
  readonly lookbackDays: number;
  readonly onQuery?: (done: number, total: number) => void;
}

/**
 * One `aggregateGrid` query per device kind and device list, over the days its fields read (`days`): each store
 * reads a kind's daily (and edge hourly/raw) aggregates in one pass and merges them into per-device arrays, which
 * the panel keeps as they are. Why per field: a stake's features look back 33 days and a satellite's 30, not
 * the 120 of an inspection; reading every field over 120 days read 3.6× the stake rows of a year-old portfolio
 * and held arrays as long for every device. Pinned by risk/test/features.test.ts (live and batch runs, whose
 * windows start on different days, give identical features).
 */
export async function loadPanel(opts: LoadPanelOptions): Promise<DailyPanel> {
  if (opts.fromMs % DAY_MS !== 0) throw new RiskfuseError('INTERNAL', 'panel start must be a UTC midnight');
  if (!(opts.toMs > opts.fromMs)) throw new RiskfuseError('INTERNAL', 'panel range is empty');
  const panel = new DailyPanel(opts.fromMs, opts.toMs);
  // Fields of one kind and one device list share a query: the store reads those rows once for all of them.
  const groups = new Map<string, PanelField[]>();
  for (const f of opts.fields) {
    if (f.deviceIds !== undefined && f.deviceIds.length === 0) continue;
    const key = `${f.kind}|${f.deviceIds === undefined ? '*' : JSON.stringify(f.deviceIds)}`;
    groups.set(key, [...(groups.get(key) ?? []), f]);
  }
  // Every group's query is asked for at once: a store that reads on more than one thread (the SQLite store's
  // reader threads, InfluxDB's server) answers them side by side; a store on one thread answers them in turn.
  let done = 0;
  const grids = await Promise.all(
    [...groups.values()].map(async (group) => {
      const first = group[0] as PanelField;
      // The group's fields from the longest of their windows on (whole days, inside the panel).
      const days = Math.max(...group.map((f) => f.days ?? opts.lookbackDays));
      const skip = Math.max(
        0,
        Math.min(opts.lookbackDays - days, Math.floor((opts.toMs - opts.fromMs - 1) / DAY_MS)),
      );
      const grid = await opts.store.aggregateGrid({
        kind: first.kind,
        fields: group.map((f) => ({ field: f.field, stats: f.fns })),
        fromMs: opts.fromMs + skip * DAY_MS,
        toMs: opts.toMs,
        intervalMs: DAY_MS,
        ...(first.deviceIds === undefined ? {} : { deviceIds: first.deviceIds }),
      });
      opts.onQuery?.(++done, groups.size);
      return { kind: first.kind, grid };
    }),
  );
  for (const { kind, grid } of grids) panel.add(kind, grid);
  return panel;
}
