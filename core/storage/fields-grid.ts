import type { FieldsGrid, FieldsGridQuery, GridStat } from './telemetry-store.js';

/**
 * Builds the port's FieldsGrid from partial aggregates (count, sum, min, max of a field in a bucket, from any
 * resolution: `resolution.ts`), merged in place in each device's Float64Array. Both adapters use it, so the
 * grid's layout and merge rules are written once.
 *
 * Why arrays: a portfolio's daily panel is about 1.2 M device-days (10,000 borrowers); one object per row and
 * field, then a map per feature key, cost more CPU than reading the rows (`npm run bench:score`).
 *
 * Why slabs: the devices' arrays are views into shared buffers of SLAB_DEVICES devices each, not one buffer per
 * device. A portfolio's panel holds some 85k device arrays; as many ArrayBuffers were as many external
 * allocations for the garbage collector to track and promote, and a scoring process's first run spent more in
 * the collector than in merging (`npm run bench:score`, `--trace-gc-nvp`). Each view still covers exactly its
 * device's columns, so `gridSeries` and readers of `devices` see the same arrays as before.
 */
const SLAB_DEVICES = 512;

/** Which partials a field's stats need besides its count: sum (mean), min, max. */
export interface GridParts {
  readonly sum: boolean;
  readonly min: boolean;
  readonly max: boolean;
}

/** The partials each field of a grid query needs (a store reads only these: `sqlite-fields-aggregate.ts`). */
export function gridParts(q: FieldsGridQuery): GridParts[] {
  return q.fields.map(({ stats }) => ({
    sum: stats.includes('mean'),
    min: stats.includes('min'),
    max: stats.includes('max'),
  }));
}

export class GridBuilder {
  readonly buckets: number;
  readonly columns: { field: string; stat: GridStat }[] = [];
  /** Per field of the query: its column of count, mean (a sum until `finish`), min and max, −1 when not kept. */
  private readonly at: { n: number; mean: number; min: number; max: number }[];
  private readonly width: number;
  private readonly devices = new Map<string, Float64Array>();
  private slab: Float64Array | undefined;
  private slabUsed = SLAB_DEVICES;
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

  /** A device's array (NaN until merged into), made on first use. */
  device(deviceId: string): Float64Array {
    if (this.lastId === deviceId && this.last !== undefined) return this.last;
    let arr = this.devices.get(deviceId);
    if (arr === undefined) {
      if (this.slab === undefined || this.slabUsed === SLAB_DEVICES) {
        this.slab = new Float64Array(this.width * SLAB_DEVICES).fill(Number.NaN);
        this.slabUsed = 0;
      }
      const o = this.slabUsed++ * this.width;
      arr = this.slab.subarray(o, o + this.width);
      this.devices.set(deviceId, arr);
    }
    this.lastId = deviceId;
    this.last = arr;
    return arr;
  }

  /** Merges a partial of field `i` (query order) of a device into the bucket holding `startMs`. */
  add(deviceId: string, startMs: number, i: number, n: number, sum: number, min: number, max: number): void {
    if (!(n > 0)) return;
    const b = Math.floor((startMs - this.q.fromMs) / this.q.intervalMs);
    if (b < 0 || b >= this.buckets) return;
    this.merge(this.device(deviceId), b, i, n, sum, min, max);
  }

  /**
   * Merges a partial of field `i` into bucket `b` (0 ≤ b < buckets, n > 0) of a device's array from `device`:
   * the adapters' fast path, which computes the bucket in the query. `sum`, `min`, `max` are read only when
   * the field's stats keep them (see gridParts).
   */
  merge(arr: Float64Array, b: number, i: number, n: number, sum: number, min: number, max: number): void {
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
