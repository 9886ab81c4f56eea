import type { AggregateRow, FieldStats, FieldsAggregateRow } from './telemetry-store.js';
import { compareText } from './telemetry-validation.js';

/**
 * Resolutions of the telemetry store and how a windowed aggregate is served from them. Every adapter keeps,
 * beside the raw readings, hourly and daily aggregates of every numeric field per device, maintained as
 * readings arrive (a late reading updates its hour and day). A query for buckets of `intervalMs` is cut into
 * time segments, each read at the coarsest resolution that tiles it and divides the interval:
 *
 *   raw [from, ⌈from⌉h) · hourly [⌈from⌉h, ⌈from⌉d) · daily [⌈from⌉d, ⌊to⌋d) · hourly [⌊to⌋d, ⌊to⌋h) · raw [⌊to⌋h, to)
 *
 * Every rollup bucket then lies inside one query bucket (bucket starts are epoch-aligned and the resolution
 * divides the interval), so merging the segments' partial aggregates gives what the raw readings would:
 * count, sum, min and max add up, first/last are picked by (ts, seq). Pinned by the contract suite
 * (`core/test/telemetry-store.contract.ts`, "resolutions").
 */
export const HOUR_MS = 3_600_000;
export const DAY_MS = 86_400_000;
/** Rollup resolutions, finest first. */
export const ROLLUP_RESOLUTIONS_MS = [HOUR_MS, DAY_MS] as const;

export interface Segment {
  readonly fromMs: number;
  readonly toMs: number;
  /** 0 = raw readings, else the rollup resolution in ms. */
  readonly resMs: number;
}

const floorTo = (t: number, res: number): number => t - (((t % res) + res) % res);
const ceilTo = (t: number, res: number): number => {
  const f = floorTo(t, res);
  return f === t ? t : f + res;
};

/** The segments of `[fromMs, toMs)`, in time order, empty ones left out. */
export function planSegments(fromMs: number, toMs: number, intervalMs: number, rollups = true): Segment[] {
  const raw = (a: number, b: number): Segment => ({ fromMs: a, toMs: b, resMs: 0 });
  const h1 = ceilTo(fromMs, HOUR_MS);
  const h2 = floorTo(toMs, HOUR_MS);
  if (!rollups || intervalMs % HOUR_MS !== 0 || h1 >= h2) return [raw(fromMs, toMs)].filter(nonEmpty);
  const d1 = ceilTo(h1, DAY_MS);
  const d2 = floorTo(h2, DAY_MS);
  const middle: Segment[] =
    intervalMs % DAY_MS !== 0 || d1 >= d2
      ? [{ fromMs: h1, toMs: h2, resMs: HOUR_MS }]
      : [
          { fromMs: h1, toMs: d1, resMs: HOUR_MS },
          { fromMs: d1, toMs: d2, resMs: DAY_MS },
          { fromMs: d2, toMs: h2, resMs: HOUR_MS },
        ];
  return [raw(fromMs, h1), ...middle, raw(h2, toMs)].filter(nonEmpty);
}

const nonEmpty = (s: Segment): boolean => s.toMs > s.fromMs;

/** A bucket's aggregate of one field, mergeable across segments. NaN first/last = not computed. */
export interface Partial {
  n: number;
  sum: number;
  min: number;
  max: number;
  firstTs: number;
  firstSeq: number;
  first: number;
  lastTs: number;
  lastSeq: number;
  last: number;
}

export function mergePartial(into: Partial, p: Partial): void {
  into.n += p.n;
  into.sum += p.sum;
  if (p.min < into.min) into.min = p.min;
  if (p.max > into.max) into.max = p.max;
  if (p.firstTs < into.firstTs || (p.firstTs === into.firstTs && p.firstSeq < into.firstSeq)) {
    into.firstTs = p.firstTs;
    into.firstSeq = p.firstSeq;
    into.first = p.first;
  }
  if (p.lastTs > into.lastTs || (p.lastTs === into.lastTs && p.lastSeq > into.lastSeq)) {
    into.lastTs = p.lastTs;
    into.lastSeq = p.lastSeq;
    into.last = p.last;
  }
}

/**
 * Partial aggregates keyed by (group, bucket start, field), merged as segments arrive, read back in the port's
 * order (group, then bucket start). Nested maps rather than one composite key: a portfolio's daily panel puts
 * a million rows through here, and sorting 85k groups once is far cheaper than sorting a million keys.
 * `add` keeps the partial it is given (callers pass fresh objects).
 */
export class PartialTable {
  private readonly groups = new Map<string, Map<number, Map<string, Partial>>>();

  constructor(private readonly intervalMs: number) {}

  add(group: string, atMs: number, field: string, p: Partial): void {
    const startMs = floorTo(atMs, this.intervalMs);
    let buckets = this.groups.get(group);
    if (buckets === undefined) this.groups.set(group, (buckets = new Map<number, Map<string, Partial>>()));
    let fields = buckets.get(startMs);
    if (fields === undefined) buckets.set(startMs, (fields = new Map<string, Partial>()));
    const cur = fields.get(field);
    if (cur === undefined) fields.set(field, p);
    else mergePartial(cur, p);
  }

  sorted(): { group: string; startMs: number; fields: Map<string, Partial> }[] {
    const out: { group: string; startMs: number; fields: Map<string, Partial> }[] = [];
    for (const group of [...this.groups.keys()].sort(compareText)) {
      const buckets = this.groups.get(group) as Map<number, Map<string, Partial>>;
      for (const startMs of [...buckets.keys()].sort((a, b) => a - b)) {
        out.push({ group, startMs, fields: buckets.get(startMs) as Map<string, Partial> });
      }
    }
    return out;
  }
}

/**
 * The port's rows of a one-field aggregate from merged partials; `first`/`last` are NaN unless the partials were
 * read in order (`ordered`).
 */
export function aggregateRows(table: PartialTable, field: string, ordered: boolean): AggregateRow[] {
  const out: AggregateRow[] = [];
  for (const { group, startMs, fields } of table.sorted()) {
    const p = fields.get(field);
    if (p === undefined || p.n === 0) continue;
    out.push({
      group,
      startMs,
      count: p.n,
      mean: p.sum / p.n,
      min: p.min,
      max: p.max,
      first: ordered ? p.first : Number.NaN,
      last: ordered ? p.last : Number.NaN,
    });
  }
  return out;
}

/** The port's rows of a one-pass aggregate of several fields (count/mean/min/max), from merged partials. */
export function fieldsRows(table: PartialTable, wanted: readonly string[]): FieldsAggregateRow[] {
  const out: FieldsAggregateRow[] = [];
  for (const { group, startMs, fields: partials } of table.sorted()) {
    const fields: Record<string, FieldStats> = {};
    for (const field of wanted) {
      const p = partials.get(field);
      if (p !== undefined && p.n > 0)
        fields[field] = { count: p.n, mean: p.sum / p.n, min: p.min, max: p.max };
    }
    if (Object.keys(fields).length > 0) out.push({ group, startMs, fields });
  }
  return out;
}
