import type { DeviceKind } from '../../core/contracts/index.js';
import { RiskfuseError } from '../../core/errors.js';
import type { AggregateFn, FieldStats, TelemetryStore } from '../../core/storage/telemetry-store.js';
import { DAY_MS } from './online.js';

/**
 * Daily aggregates of a few device fields over a span of days, fetched from the `TelemetryStore` port with a
 * handful of queries (one per field and chunk of days, grouped by device), held as one Float64Array per
 * device and aggregate (NaN = no data that day). Feature extraction for a whole portfolio at many observation
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
export type PanelFn = 'count' | 'mean' | 'min' | 'max';

const statOf = (s: FieldStats, fn: PanelFn): number => s[fn];

export interface PanelField {
  readonly kind: DeviceKind;
  readonly field: string;
  readonly fns: readonly PanelFn[];
  /** Only these devices (e.g. inspectors' helmets); all of the kind when absent. */
  readonly deviceIds?: readonly string[];
}

export type PanelKey = `${string}.${string}.${AggregateFn}`;

export class DailyPanel {
  private readonly data = new Map<PanelKey, Map<string, Float64Array>>();

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

  get(kind: DeviceKind, field: string, fn: AggregateFn, deviceId: string): Float64Array | undefined {
    return this.data.get(`${kind}.${field}.${fn}`)?.get(deviceId);
  }

  private series(key: PanelKey, deviceId: string): Float64Array {
    let byDevice = this.data.get(key);
    if (byDevice === undefined) this.data.set(key, (byDevice = new Map<string, Float64Array>()));
    let arr = byDevice.get(deviceId);
    if (arr === undefined) byDevice.set(deviceId, (arr = new Float64Array(this.days).fill(Number.NaN)));
    return arr;
  }

  set(key: PanelKey, deviceId: string, day: number, value: number): void {
    this.series(key, deviceId)[day] = value;
  }
}

export interface LoadPanelOptions {
  readonly store: TelemetryStore;
  readonly fields: readonly PanelField[];
  /** Day-aligned (UTC midnight) start. */
  readonly fromMs: number;
  readonly toMs: number;
  /** Days per query; default 60. */
  readonly chunkDays?: number;
  readonly onQuery?: (done: number, total: number) => void;
}

export async function loadPanel(opts: LoadPanelOptions): Promise<DailyPanel> {
  if (opts.fromMs % DAY_MS !== 0) throw new RiskfuseError('INTERNAL', 'panel start must be a UTC midnight');
  if (!(opts.toMs > opts.fromMs)) throw new RiskfuseError('INTERNAL', 'panel range is empty');
  const panel = new DailyPanel(opts.fromMs, opts.toMs);
  const chunkMs = (opts.chunkDays ?? 60) * DAY_MS;
  const chunks: [number, number][] = [];
  for (let a = opts.fromMs; a < opts.toMs; a += chunkMs) chunks.push([a, Math.min(opts.toMs, a + chunkMs)]);
  // Fields of one kind and one device list share a query: the store reads those rows once for all of them.
  const groups = new Map<string, PanelField[]>();
  for (const f of opts.fields) {
    if (f.deviceIds !== undefined && f.deviceIds.length === 0) continue;
    const key = `${f.kind}|${f.deviceIds === undefined ? '*' : JSON.stringify(f.deviceIds)}`;
    groups.set(key, [...(groups.get(key) ?? []), f]);
  }
  const total = chunks.length * groups.size;
  let done = 0;
  for (const group of groups.values()) {
    const first = group[0] as PanelField;
    for (const [a, b] of chunks) {
      const rows = await opts.store.aggregateFields({
        kind: first.kind,
        fields: group.map((f) => f.field),
        fromMs: a,
        toMs: b,
        intervalMs: DAY_MS,
        groupBy: 'device',
        ...(first.deviceIds === undefined ? {} : { deviceIds: first.deviceIds }),
      });
      for (const r of rows) {
        const day = Math.floor((r.startMs - opts.fromMs) / DAY_MS);
        if (day < 0 || day >= panel.days) continue;
        for (const f of group) {
          const stats = r.fields[f.field];
          if (stats === undefined) continue;
          for (const fn of f.fns) panel.set(`${f.kind}.${f.field}.${fn}`, r.group, day, statOf(stats, fn));
        }
      }
      opts.onQuery?.(++done, total);
    }
  }
  return panel;
}
