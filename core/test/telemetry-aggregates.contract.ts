import { expect, it } from 'vitest';
import {
  type AggregateQuery,
  type FieldStats,
  type FieldsAggregateQuery,
  type FieldsGridQuery,
  type TelemetryStore,
} from '../storage/telemetry-store.js';
import {
  cmpText,
  T0,
  expectAggregatesEqual,
  expectedAggregates,
  expectGridEqual,
  type makeWorld,
  WIDE,
} from './support/telemetry-contract-world.js';

/**
 * The aggregate cases of the TelemetryStore contract (core/test/telemetry-store.contract.ts runs them in its
 * `aggregates` block, against each adapter's fresh store): per-interval series, fields aggregates and grids,
 * each computed here from the generated readings.
 */
export function aggregatesContract(store: () => TelemetryStore, world: ReturnType<typeof makeWorld>): void {
  const cases: { title: string; q: AggregateQuery }[] = [
    {
      title: 'grouped by device per minute',
      q: { kind: 'stake', field: 'weightKg', ...WIDE, intervalMs: 60_000, groupBy: 'device' },
    },
    {
      title: 'grouped by borrower per 45 s',
      q: { kind: 'stake', field: 'temperatureC', ...WIDE, intervalMs: 45_000, groupBy: 'borrower' },
    },
    {
      title: 'over all series per 2 min',
      q: { kind: 'stake', field: 'itemCount', ...WIDE, intervalMs: 120_000, groupBy: 'none' },
    },
    {
      title: 'of a 0/1 field per hour by device',
      q: { kind: 'helmet', field: 'worn', ...WIDE, intervalMs: 3_600_000, groupBy: 'device' },
    },
    {
      title: 'of a field some readings lack',
      q: { kind: 'satellite', field: 'ndvi', ...WIDE, intervalMs: 30_000, groupBy: 'none' },
    },
    {
      title: 'with filters and a span that is not bucket-aligned',
      q: {
        kind: 'stake',
        field: 'weightKg',
        fromMs: T0 + 33_333,
        toMs: T0 + 201_111,
        intervalMs: 60_000,
        groupBy: 'device',
        deviceIds: ['stake-a1', 'stake-b1'],
        fns: ['mean', 'last'],
      },
    },
    {
      title: 'of only order-free aggregates (count, mean, min, max)',
      q: {
        kind: 'stake',
        field: 'weightKg',
        ...WIDE,
        intervalMs: 60_000,
        groupBy: 'borrower',
        fns: ['count', 'mean', 'min', 'max'],
      },
    },
    {
      title: 'of a field no reading has',
      q: { kind: 'stake', field: 'noSuchField', ...WIDE, intervalMs: 60_000, groupBy: 'none' },
    },
  ];
  for (const { title, q } of cases) {
    it(`when aggregating ${title}, then count/mean/min/max/first/last match values computed from the data`, async () => {
      await store().writeReadings(world);
      const want = expectedAggregates(world, q);
      if (q.field !== 'noSuchField') expect(want.length).toBeGreaterThan(1);
      expectAggregatesEqual(await store().aggregate(q), want, q.fns);
    });
  }

  const fieldsCases: { title: string; q: FieldsAggregateQuery }[] = [
    {
      title: 'stake fields per device per minute',
      q: {
        kind: 'stake',
        fields: ['weightKg', 'tamper', 'lat', 'gpsAccuracyM'],
        ...WIDE,
        intervalMs: 60_000,
        groupBy: 'device',
      },
    },
    {
      title: 'satellite fields some readings lack, by borrower',
      q: {
        kind: 'satellite',
        fields: ['ndvi', 'cloudPct'],
        ...WIDE,
        intervalMs: 30_000,
        groupBy: 'borrower',
      },
    },
    {
      title: 'helmet fields over all series, filtered by device',
      q: {
        kind: 'helmet',
        fields: ['worn', 'activity'],
        ...WIDE,
        intervalMs: 90_000,
        groupBy: 'none',
        deviceIds: ['helmet-a1', 'helmet-b1'],
      },
    },
  ];
  for (const { title, q } of fieldsCases) {
    it(`when aggregating ${title} in one pass, then each field's count/mean/min/max equal its own aggregate`, async () => {
      await store().writeReadings(world);
      const rows = await store().aggregateFields(q);
      expect(rows.length).toBeGreaterThan(1);
      for (const field of q.fields) {
        const { fields: _f, ...single } = q;
        const want = expectedAggregates(world, { ...single, field });
        const got = rows
          .filter((r) => r.fields[field] !== undefined)
          .map((r) => ({ group: r.group, startMs: r.startMs, ...(r.fields[field] as FieldStats) }));
        expect(
          got.map((r) => [r.group, r.startMs]),
          field,
        ).toEqual(want.map((r) => [r.group, r.startMs]));
        got.forEach((r, i) => {
          const w = want[i];
          if (w === undefined) throw new Error('unreachable');
          expect([r.count, r.min, r.max], field).toEqual([w.count, w.min, w.max]);
          expect(Math.abs(r.mean - w.mean)).toBeLessThanOrEqual(1e-9 * Math.max(1, Math.abs(w.mean)));
        });
      }
      // Buckets are ordered by group, then start.
      const keys = rows.map((r) => [r.group, r.startMs] as const);
      const sorted = [...keys].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] - b[1]));
      expect(keys).toEqual(sorted);
    });
  }

  it('when a grid of several fields is read per device, then each statistic equals the plain computation bucket for bucket', async () => {
    await store().writeReadings(world);
    // Every mix of stats (a store reads only the partials each field's stats need), one field missing from
    // every other reading.
    const q: FieldsGridQuery = {
      kind: 'stake',
      fields: [
        { field: 'weightKg', stats: ['mean', 'count'] },
        { field: 'tamper', stats: ['max', 'min'] },
        { field: 'gpsAccuracyM', stats: ['mean'] },
        { field: 'temperatureC', stats: ['min'] },
        { field: 'lat', stats: ['max'] },
      ],
      fromMs: T0 - (T0 % 60_000),
      toMs: T0 + 10 * 60_000 + 7,
      intervalMs: 60_000,
    };
    expect(expectGridEqual(await store().aggregateGrid(q), world, q)).toBeGreaterThan(4);
    const one = { ...q, deviceIds: ['stake-a1'] };
    const grid = await store().aggregateGrid(one);
    expect([...grid.devices.keys()]).toEqual(['stake-a1']);
    expectGridEqual(
      grid,
      world.filter((r) => r.deviceId === 'stake-a1'),
      one,
    );
    await expect(store().aggregateGrid({ ...q, fromMs: q.fromMs + 1 })).rejects.toMatchObject({
      code: 'STORE_QUERY_INVALID',
    });
    expect((await store().aggregateGrid({ ...q, deviceIds: [] })).devices.size).toBe(0);
  });

  it('when the fields of a one-pass aggregate are empty, repeated or not numeric, then it is refused', async () => {
    const base = { kind: 'stake' as const, ...WIDE, intervalMs: 60_000, groupBy: 'device' as const };
    for (const fields of [
      [],
      ['weightKg', 'weightKg'],
      ['weightKg', 'no such'],
      Array.from({ length: 17 }, (_, i) => `f${i}`),
    ]) {
      await expect(
        store().aggregateFields({ ...base, fields }),
        JSON.stringify(fields),
      ).rejects.toMatchObject({
        code: 'STORE_QUERY_INVALID',
      });
    }
  });

  it('when the span starts inside a bucket, then buckets still start at multiples of intervalMs since the epoch', async () => {
    await store().writeReadings(world);
    const q: AggregateQuery = {
      kind: 'stake',
      field: 'weightKg',
      fromMs: T0 + 1,
      toMs: T0 + 300_000,
      intervalMs: 60_000,
      groupBy: 'none',
    };
    const rows = await store().aggregate(q);
    expect(rows.length).toBeGreaterThan(3);
    for (const r of rows) expect(r.startMs % 60_000).toBe(0);
    // the first bucket starts before fromMs but holds only readings from fromMs on
    expect(rows[0]?.startMs).toBe(T0 - 20_000);
    expect(rows[0]?.count).toBe(
      world.filter((r) => r.kind === 'stake' && r.ts > T0 && r.ts < T0 + 40_000).length,
    );
  });

  it('when groups and buckets come back, then they are ordered by group then bucket start', async () => {
    await store().writeReadings(world);
    const rows = await store().aggregate({
      kind: 'stake',
      field: 'weightKg',
      ...WIDE,
      intervalMs: 60_000,
      groupBy: 'borrower',
    });
    const keys = rows.map((r) => [r.group, r.startMs] as const);
    const sorted = [...keys].sort((a, b) => cmpText(a[0], b[0]) || a[1] - b[1]);
    expect(keys).toEqual(sorted);
    expect(new Set(rows.map((r) => r.group))).toEqual(new Set(['borrower-1', 'borrower-2']));
  });
}
