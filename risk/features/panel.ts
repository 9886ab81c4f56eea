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
}

export class DailyPanel {
  /** `kind.field` → the grid holding it (each field of a kind is read by one query). */
  private readonly grids = new Map<string, FieldsGrid>();

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
  get(kind: DeviceKind, field: string, fn: PanelFn, deviceId: string): Float64Array | undefined {
    const grid = this.grids.get(`${kind}.${field}`);
    return grid === undefined ? undefined : gridSeries(grid, deviceId, field, fn);
  }

  add(kind: DeviceKind, grid: FieldsGrid): void {
    for (const { field } of grid.columns) this.grids.set(`${kind}.${field}`, grid);
  }
}

export interface LoadPanelOptions {
  readonly store: TelemetryStore;
  readonly fields: readonly PanelField[];
  /** Day-aligned (UTC midnight) start. */
  readonly fromMs: number;
  readonly toMs: number;
  readonly onQuery?: (done: number, total: number) => void;
}

/**
 * One `aggregateGrid` query per device kind and device list, over the whole window: each store reads a kind's
 * daily (and edge hourly/raw) aggregates in one pass and merges them into per-device arrays, which the panel
 * keeps as they are.
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
  let done = 0;
  for (const group of groups.values()) {
    const first = group[0] as PanelField;
    const grid = await opts.store.aggregateGrid({
      kind: first.kind,
      fields: group.map((f) => ({ field: f.field, stats: f.fns })),
      fromMs: opts.fromMs,
      toMs: opts.toMs,
      intervalMs: DAY_MS,
      ...(first.deviceIds === undefined ? {} : { deviceIds: first.deviceIds }),
    });
    panel.add(first.kind, grid);
    opts.onQuery?.(++done, groups.size);
  }
  return panel;
}
