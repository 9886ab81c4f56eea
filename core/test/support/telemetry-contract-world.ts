import { expect } from 'vitest';
import { mulberry32 } from '../../random.js';
import type { DeviceKind, FieldValue, Reading } from '../../contracts/index.js';
import {
  AGGREGATE_FNS,
  MAX_RANGE_LIMIT,
  type AggregateFn,
  type AggregateQuery,
  type AggregateRow,
  type FieldsGrid,
  type FieldsGridQuery,
  gridSeries,
  type RangeQuery,
  type SeriesFilter,
  type TelemetryStore,
} from '../../storage/telemetry-store.js';

/**
 * The TelemetryStore contract's world and expected values (core/test/telemetry-store.contract.ts): readings
 * generated from a seed, and what every query must answer computed the plain way from them, never from an
 * adapter.
 */
export interface ContractSubject {
  store: TelemetryStore;
  cleanup(): Promise<void>;
  /** Brings aggregates maintained apart from writes up to date (InfluxDB: what its continuous queries do hourly). */
  settle?(): Promise<void>;
}

/** Not aligned to a minute (T0 mod 60 000 = 20 000), so bucket alignment is visible. */
export const T0 = 1_700_000_000_000;
export const STEP_MS = 7_000;
export const PER_DEVICE = 40;

export interface DeviceSpec {
  readonly kind: DeviceKind;
  readonly deviceId: string;
  readonly borrowerId: string;
  readonly siteId: string;
}

export const DEVICES: readonly DeviceSpec[] = [
  { kind: 'stake', deviceId: 'stake-a1', borrowerId: 'borrower-1', siteId: 'site-1' },
  { kind: 'stake', deviceId: 'stake-a2', borrowerId: 'borrower-1', siteId: 'site-2' },
  { kind: 'stake', deviceId: 'stake-b1', borrowerId: 'borrower-2', siteId: 'site-3' },
  { kind: 'helmet', deviceId: 'helmet-a1', borrowerId: 'borrower-1', siteId: 'site-1' },
  { kind: 'helmet', deviceId: 'helmet-b1', borrowerId: 'borrower-2', siteId: 'site-3' },
  { kind: 'satellite', deviceId: 'sat:eu.b1_x', borrowerId: 'borrower-2', siteId: 'site-3' },
];

export function fieldsFor(kind: DeviceKind, k: number, rnd: () => number): Record<string, FieldValue> {
  switch (kind) {
    case 'stake':
      return {
        weightKg: 5_000 + rnd() * 100, // full-precision doubles must round-trip bit for bit
        itemCount: 400 + Math.floor(rnd() * 20),
        lat: 31.2 + rnd() / 100,
        lon: 121.4 + rnd() / 100,
        ...(k % 2 === 0 ? { gpsAccuracyM: 3.5 } : {}),
        tamper: k % 9 === 0 ? 1 : 0,
        temperatureC: -5 + rnd() * 30,
        humidityPct: 55,
        batteryPct: 100 - k * 0.25,
      };
    case 'helmet':
      return {
        lat: 31.2 + rnd() / 100,
        lon: 121.4 + rnd() / 100,
        worn: k % 4 === 0 ? 0 : 1,
        activity: rnd(),
        mode: k % 5 === 0 ? 'inspection' : 'work',
        ...(k % 5 === 0 ? { inspectionId: `insp-${k}` } : {}),
        batteryPct: 80,
      };
    case 'satellite':
      return {
        // every third observation has no NDVI: aggregates must skip it, range must not invent it
        ...(k % 3 === 0 ? {} : { ndvi: k % 3 === 1 ? -0.25 + rnd() / 2 : 1e-7 * k }),
        activityIndex: 100 + rnd() * 10,
        cloudPct: Math.floor(rnd() * 100),
        sceneId: `S2B_MSIL2A_${k}`,
      };
  }
}

/**
 * The test world: PER_DEVICE readings per device, ~7 s apart with jitter. Every 8th step all devices report
 * at the very same ms (ties across devices), and every 10th reading of a device is followed by another one
 * in the same ms with the next seq (ties within a device).
 */
export function makeWorld(seed = 42): Reading[] {
  const rnd = mulberry32(seed);
  const out: Reading[] = [];
  for (const d of DEVICES) {
    let seq = 1;
    for (let k = 0; k < PER_DEVICE; k += 1) {
      const ts = T0 + k * STEP_MS + (k % 8 === 0 ? 0 : Math.floor(rnd() * 1_000));
      out.push({ ...d, ts, seq, fields: fieldsFor(d.kind, k, rnd) });
      seq += 1;
      if (k % 10 === 3) {
        out.push({ ...d, ts, seq, fields: fieldsFor(d.kind, k + 1, rnd) });
        seq += 1;
      }
    }
  }
  return out;
}

export function cmpText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export function cmpReading(a: Reading, b: Reading): number {
  return a.ts - b.ts || cmpText(a.deviceId, b.deviceId) || a.seq - b.seq;
}

export function matches(r: Reading, f: SeriesFilter & { fromMs?: number; toMs?: number }): boolean {
  return (
    (f.kind === undefined || r.kind === f.kind) &&
    (f.deviceIds === undefined || f.deviceIds.includes(r.deviceId)) &&
    (f.borrowerIds === undefined || f.borrowerIds.includes(r.borrowerId)) &&
    (f.siteIds === undefined || f.siteIds.includes(r.siteId)) &&
    (f.fromMs === undefined || r.ts >= f.fromMs) &&
    (f.toMs === undefined || r.ts < f.toMs)
  );
}

export function expectedRange(world: readonly Reading[], q: RangeQuery): Reading[] {
  const rows = world.filter((r) => matches(r, q)).sort(cmpReading);
  if (q.order === 'desc') rows.reverse();
  return rows.slice(0, Math.min(q.limit, MAX_RANGE_LIMIT));
}

/** An expected aggregate row; first/last list every value tied at the earliest/latest (ts, seq). */
export interface ExpectedRow extends Omit<AggregateRow, 'first' | 'last'> {
  readonly first: readonly number[];
  readonly last: readonly number[];
}

/**
 * Aggregates computed the plain way, to hold the adapters' SQL/InfluxQL to. first/last are by (ts, seq); when
 * readings of different devices in one group tie on both, the port does not say which wins, so every tied
 * value is accepted.
 */
export function expectedAggregates(world: readonly Reading[], q: AggregateQuery): ExpectedRow[] {
  const buckets = new Map<string, { group: string; startMs: number; points: Reading[] }>();
  for (const r of world) {
    if (!matches(r, q) || typeof r.fields[q.field] !== 'number') continue;
    const group = q.groupBy === 'device' ? r.deviceId : q.groupBy === 'borrower' ? r.borrowerId : '*';
    const startMs = r.ts - (r.ts % q.intervalMs);
    const key = `${group}\u0000${startMs}`;
    const bucket = buckets.get(key) ?? { group, startMs, points: [] };
    bucket.points.push(r);
    buckets.set(key, bucket);
  }
  const value = (r: Reading): number => r.fields[q.field] as number;
  return [...buckets.values()]
    .map(({ group, startMs, points }) => {
      const byTime = [...points].sort((a, b) => a.ts - b.ts || a.seq - b.seq);
      const values = byTime.map(value);
      const head = byTime[0];
      const tail = byTime[byTime.length - 1];
      const tiedWith = (p: Reading | undefined): number[] =>
        byTime.filter((r) => r.ts === p?.ts && r.seq === p.seq).map(value);
      return {
        group,
        startMs,
        count: values.length,
        mean: values.reduce((s, v) => s + v, 0) / values.length,
        min: Math.min(...values),
        max: Math.max(...values),
        first: tiedWith(head),
        last: tiedWith(tail),
      };
    })
    .sort((a, b) => cmpText(a.group, b.group) || a.startMs - b.startMs);
}

export function expectAggregatesEqual(
  actual: readonly AggregateRow[],
  expected: readonly ExpectedRow[],
  fns: readonly AggregateFn[] = AGGREGATE_FNS,
): void {
  expect(actual.map((r) => [r.group, r.startMs])).toEqual(expected.map((r) => [r.group, r.startMs]));
  actual.forEach((row, i) => {
    const want = expected[i];
    if (want === undefined) throw new Error('unreachable: lengths checked above');
    // Every statistic but the mean is one of the stored values and must come back exactly; the mean may
    // differ in the last bits with the summation order. Only the requested aggregates (and count) are owed.
    expect(row.count).toBe(want.count);
    if (fns.includes('min')) expect(row.min).toBe(want.min);
    if (fns.includes('max')) expect(row.max).toBe(want.max);
    if (fns.includes('first')) expect(want.first).toContain(row.first);
    if (fns.includes('last')) expect(want.last).toContain(row.last);
    if (fns.includes('mean')) {
      expect(Math.abs(row.mean - want.mean)).toBeLessThanOrEqual(1e-9 * Math.max(1, Math.abs(want.mean)));
    }
  });
}

export function bulk(count: number, kind: DeviceKind = 'stake', fromTs = T0): Reading[] {
  const out: Reading[] = [];
  for (let i = 0; i < count; i += 1) {
    const device = i % 50;
    out.push({
      kind,
      deviceId: `bulk-${String(device).padStart(2, '0')}`,
      borrowerId: `borrower-${device % 5}`,
      siteId: `site-${device % 10}`,
      ts: fromTs + Math.floor(i / 50) * 1_000,
      seq: i,
      fields: { weightKg: i * 0.5, itemCount: i % 13, tamper: i % 2, batteryPct: 50 },
    });
  }
  return out;
}

export const WIDE: { fromMs: number; toMs: number } = { fromMs: T0 - 3_600_000, toMs: T0 + 3_600_000 };

/**
 * A grid (`aggregateGrid`) equals the plain computation per device for every field and statistic it was asked
 * for, bucket for bucket; buckets without a reading of the field are NaN. Returns how many buckets had data.
 */
export function expectGridEqual(grid: FieldsGrid, world: readonly Reading[], q: FieldsGridQuery): number {
  let filled = 0;
  expect(grid.buckets).toBe(Math.ceil((q.toMs - q.fromMs) / q.intervalMs));
  const devices = new Set<string>();
  for (const { field, stats } of q.fields) {
    const want = expectedAggregates(world, { ...q, field, groupBy: 'device' });
    const byKey = new Map(want.map((w) => [`${w.group}|${w.startMs}`, w]));
    for (const w of want) devices.add(w.group);
    for (const device of devices) {
      for (const stat of stats) {
        const series = gridSeries(grid, device, field, stat);
        for (let b = 0; b < grid.buckets; b++) {
          const w = byKey.get(`${device}|${q.fromMs + b * q.intervalMs}`);
          const got = series?.[b] ?? Number.NaN;
          if (w === undefined) {
            expect(got, `${device} ${field} ${stat} bucket ${b}`).toBeNaN();
            continue;
          }
          filled++;
          if (stat === 'mean')
            expect(Math.abs(got - w.mean)).toBeLessThanOrEqual(1e-9 * Math.max(1, Math.abs(w.mean)));
          else expect(got, `${device} ${field} ${stat} bucket ${b}`).toBe(w[stat]);
        }
      }
    }
  }
  expect([...grid.devices.keys()].sort()).toEqual([...devices].sort());
  return filled;
}
