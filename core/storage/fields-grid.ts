import type { FieldsGrid, FieldsGridQuery, GridStat } from './telemetry-store.js';

/**
 * Builds the port's FieldsGrid from partial aggregates (count, sum, min, max of a field in a bucket, from any
 * resolution: `resolution.ts`), merged in place in each device's Float64Array. Both adapters use it, so the
 * grid's layout and merge rules are written once.
 *
 * Why arrays: a portfolio's daily panel is about 1.2 M device-days (10,000 borrowers); one object per row and
 * field, then a map per feature key, cost more CPU than reading the rows (`npm run bench:score`).
 */
export class GridBuilder {
  readonly buckets: number;
  readonly columns: { field: string; stat: GridStat }[] = [];
  /** Per field of the query: its column of count, mean (a sum until `finish`), min and max, −1 when not kept. */
  private readonly at: { n: number; mean: number; min: number; max: number }[];
  private readonly width: number;
  private readonly devices = new Map<string, Float64Array>();
  private lastId: string | undefined;
  private last: Float64Array | undefined;

  constructor(private readonly q: FieldsGridQuery) {
    this.buckets = Math.max(0, Math.ceil((q.toMs - q.fromMs) / q.intervalMs));
    const column = (field: string, stat: GridStat): number => {
      this.columns.push({ field, stat });
      return this.columns.length - 1;
    };
    this.at = q.fields.map(({ field, stats }) => {
      const has = (s: GridStat): boolean => stats.includes(s);
      return {
        n: has('count') || has('mean') ? column(field, 'count') : -1,
        mean: has('mean') ? column(field, 'mean') : -1,
        min: has('min') ? column(field, 'min') : -1,
        max: has('max') ? column(field, 'max') : -1,
      };
    });
    this.width = this.columns.length * this.buckets;
  }

  /** Merges a partial of field `i` (query order) of a device into the bucket holding `startMs`. */
  add(deviceId: string, startMs: number, i: number, n: number, sum: number, min: number, max: number): void {
    if (!(n > 0)) return;
    const b = Math.floor((startMs - this.q.fromMs) / this.q.intervalMs);
    if (b < 0 || b >= this.buckets) return;
    let arr = this.lastId === deviceId ? this.last : this.devices.get(deviceId);
    if (arr === undefined) this.devices.set(deviceId, (arr = new Float64Array(this.width).fill(Number.NaN)));
    this.lastId = deviceId;
    this.last = arr;
    const c = this.at[i];
    if (c === undefined) return;
    const B = this.buckets;
    if (c.n >= 0) {
      const k = c.n * B + b;
      const had = arr[k] as number;
      arr[k] = had === had ? had + n : n;
    }
    if (c.mean >= 0) {
      const k = c.mean * B + b;
      const had = arr[k] as number;
      arr[k] = had === had ? had + sum : sum;
    }
    if (c.min >= 0) {
      const k = c.min * B + b;
      const had = arr[k] as number;
      if (!(had <= min)) arr[k] = min;
    }
    if (c.max >= 0) {
      const k = c.max * B + b;
      const had = arr[k] as number;
      if (!(had >= max)) arr[k] = max;
    }
  }

  /** The grid; means are the merged sums over the merged counts. */
  finish(): FieldsGrid {
    const B = this.buckets;
    for (const arr of this.devices.values()) {
      for (const c of this.at) {
        if (c.mean < 0) continue;
        for (let b = 0; b < B; b++)
          arr[c.mean * B + b] = (arr[c.mean * B + b] as number) / (arr[c.n * B + b] as number);
      }
    }
    return {
      fromMs: this.q.fromMs,
      intervalMs: this.q.intervalMs,
      buckets: B,
      columns: this.columns,
      devices: this.devices,
    };
  }
}
