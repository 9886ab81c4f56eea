import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Reading } from '../contracts/index.js';
import { DAY_MS, HOUR_MS } from '../storage/resolution.js';
import type { AggregateQuery, FieldsGridQuery, TelemetryStore } from '../storage/telemetry-store.js';
import {
  expectAggregatesEqual,
  expectGridEqual,
  expectedAggregates,
  type ContractSubject,
} from './telemetry-store.contract.js';

/**
 * Resolutions (core/storage/resolution.ts): aggregates over windows that span hours and days, with edges inside
 * both, must equal the plain computation over the readings — whichever resolution an adapter reads — including
 * readings written late, out of order and twice. With `retention`, an adapter's prune keeps its promise: raw
 * readings before the cut are gone, their hourly and daily aggregates stay and answer as before.
 */
const D0 = Date.UTC(2026, 2, 1);
const DAYS = 5;
/** Not a divisor of an hour, so readings fall at every minute offset. */
const STEP_MS = 37 * 60_000;

function history(): Reading[] {
  const out: Reading[] = [];
  const devices = [
    { deviceId: 'res-stake-1', borrowerId: 'res-b1', siteId: 'res-s1' },
    { deviceId: 'res-stake-2', borrowerId: 'res-b1', siteId: 'res-s2' },
    { deviceId: 'res-stake-3', borrowerId: 'res-b2', siteId: 'res-s3' },
  ];
  devices.forEach((d, i) => {
    let seq = 0;
    for (let ts = D0 + i * 60_000; ts < D0 + DAYS * DAY_MS; ts += STEP_MS) {
      seq += 1;
      out.push({
        kind: 'stake',
        ...d,
        ts,
        seq,
        fields: { weightKg: 1_000 + ((seq * 7919) % 1_000) / 7, tamper: seq % 11 === 0 ? 1 : 0, note: 'x' },
      });
    }
  });
  return out;
}

/** Writes the readings in shuffled batches (late and out of order), then the first batch again (redelivery). */
async function writeLate(store: TelemetryStore, readings: readonly Reading[]): Promise<void> {
  const order = readings.map((r, i) => ({ r, k: (i * 2_654_435_761) % 4_294_967_296 }));
  order.sort((a, b) => a.k - b.k);
  const shuffled = order.map((o) => o.r);
  for (let i = 0; i < shuffled.length; i += 97) await store.writeReadings(shuffled.slice(i, i + 97));
  await store.writeReadings(shuffled.slice(0, 97));
}

export function telemetryResolutionsContract(
  name: string,
  build: () => Promise<ContractSubject>,
  opts: { readonly retention: boolean },
): void {
  describe(`TelemetryStore resolutions: ${name}`, () => {
    let subject: ContractSubject | undefined;
    const store = (): TelemetryStore => {
      if (subject === undefined) throw new Error('store not built');
      return subject.store;
    };
    const world = history();
    /**
     * Defined only for adapters whose prune() applies retention; InfluxDB keeps it with retention policies
     * (tested in telemetry-store.test.ts). Not defining them, rather than skipping, keeps the suite free of skips.
     */
    const withPrune = (name: string, fn: () => Promise<void>): void => {
      if (opts.retention) it(name, fn);
    };

    beforeEach(async () => {
      subject = await build();
    });
    afterEach(async () => {
      await subject?.cleanup();
      subject = undefined;
    });

    const queries = (): AggregateQuery[] => {
      const edges = {
        fromMs: D0 + 5 * HOUR_MS + 17 * 60_000,
        toMs: D0 + 4 * DAY_MS + 7 * HOUR_MS + 3 * 60_000,
      };
      return [
        { kind: 'stake', field: 'weightKg', ...edges, intervalMs: HOUR_MS, groupBy: 'device' },
        { kind: 'stake', field: 'weightKg', ...edges, intervalMs: DAY_MS, groupBy: 'device' },
        { kind: 'stake', field: 'weightKg', ...edges, intervalMs: 2 * DAY_MS, groupBy: 'borrower' },
        { kind: 'stake', field: 'tamper', ...edges, intervalMs: DAY_MS, groupBy: 'none' },
        {
          kind: 'stake',
          field: 'weightKg',
          fromMs: D0,
          toMs: D0 + DAYS * DAY_MS,
          intervalMs: DAY_MS,
          groupBy: 'device',
          deviceIds: ['res-stake-2'],
        },
        { kind: 'stake', field: 'weightKg', ...edges, intervalMs: 15 * 60_000, groupBy: 'device' },
      ];
    };

    it('when windows span hours and days with edges inside both, then aggregates equal the plain computation, late and repeated readings included', async () => {
      await writeLate(store(), world);
      await subject?.settle?.();
      for (const q of queries()) {
        expectAggregatesEqual(await store().aggregate(q), expectedAggregates(world, q));
        const fields = await store().aggregateFields({ ...q, fields: ['weightKg', 'tamper'] });
        const want = expectedAggregates(world, { ...q, field: 'weightKg' });
        expect(fields.map((r) => [r.group, r.startMs, r.fields.weightKg?.count])).toEqual(
          want.map((r) => [r.group, r.startMs, r.count]),
        );
        fields.forEach((r, i) => {
          expect(r.fields.weightKg?.max).toBe(want[i]?.max);
          expect(r.fields.weightKg?.mean).toBeCloseTo(want[i]?.mean ?? Number.NaN, 9);
        });
        if (q.groupBy !== 'device') continue;
        // The same window per device as a grid (from its first whole bucket): what a portfolio's panel reads.
        const g: FieldsGridQuery = {
          kind: q.kind,
          fields: [
            { field: 'weightKg', stats: ['count', 'mean', 'min', 'max'] },
            { field: 'tamper', stats: ['max'] },
          ],
          fromMs: Math.ceil(q.fromMs / q.intervalMs) * q.intervalMs,
          toMs: q.toMs,
          intervalMs: q.intervalMs,
          ...(q.deviceIds === undefined ? {} : { deviceIds: q.deviceIds }),
        };
        const inFilter = world.filter((r) => q.deviceIds?.includes(r.deviceId) ?? true);
        expect(expectGridEqual(await store().aggregateGrid(g), inFilter, g)).toBeGreaterThan(3);
      }
    });

    it("when a reading of a past day arrives late, then that day's aggregate includes it at the next query", async () => {
      await store().writeReadings(world);
      const q: AggregateQuery = {
        kind: 'stake',
        field: 'tamper',
        fromMs: D0,
        toMs: D0 + DAYS * DAY_MS,
        intervalMs: DAY_MS,
        groupBy: 'device',
        deviceIds: ['res-stake-1'],
      };
      await subject?.settle?.();
      const before = await store().aggregate(q);
      const late: Reading = {
        kind: 'stake',
        deviceId: 'res-stake-1',
        borrowerId: 'res-b1',
        siteId: 'res-s1',
        ts: D0 + DAY_MS + 1_234,
        seq: 100_000,
        fields: { weightKg: 1, tamper: 7 },
      };
      await store().writeReadings([late]);
      await subject?.settle?.();
      const after = await store().aggregate(q);
      expect(before[1]?.max).toBeLessThan(7);
      expect(after[1]).toMatchObject({ startMs: D0 + DAY_MS, max: 7, count: (before[1]?.count ?? 0) + 1 });
      expectAggregatesEqual(after, expectedAggregates([...world, late], q));
    });

    withPrune(
      'when raw readings pass their retention, then they are gone and their hourly and daily aggregates still answer as before',
      async () => {
        await store().writeReadings(world);
        const cut = D0 + 3 * DAY_MS;
        const daily: AggregateQuery = {
          kind: 'stake',
          field: 'weightKg',
          fromMs: D0,
          toMs: D0 + DAYS * DAY_MS,
          intervalMs: DAY_MS,
          groupBy: 'device',
        };
        const hourly: AggregateQuery = { ...daily, intervalMs: HOUR_MS };
        const dailyBefore = await store().aggregate(daily);
        const hourlyBefore = await store().aggregate(hourly);
        const fieldsBefore = await store().aggregateFields({ ...daily, fields: ['weightKg', 'tamper'] });

        const pruned = await store().prune({
          rawBeforeMs: cut,
          hourlyBeforeMs: D0 + DAY_MS,
          dailyBeforeMs: 0,
        });
        const gone = world.filter((r) => r.ts < cut).length;
        expect(pruned.raw).toBe(gone);
        expect(await store().count({ toMs: cut })).toBe(0);
        expect(await store().count({})).toBe(world.length - gone);
        expect(await store().range({ fromMs: D0, toMs: cut, limit: 10 })).toEqual([]);

        expect(await store().aggregate(daily)).toEqual(dailyBefore);
        expect(await store().aggregateFields({ ...daily, fields: ['weightKg', 'tamper'] })).toEqual(
          fieldsBefore,
        );
        // Hourly aggregates stay from the hourly cut on; before it only the daily ones answer.
        expect(await store().aggregate(hourly)).toEqual(hourlyBefore.filter((r) => r.startMs >= D0 + DAY_MS));
      },
    );

    withPrune(
      'when retention cut-offs are not UTC midnights or keep a finer resolution longer, then prune is refused and nothing is deleted',
      async () => {
        await store().writeReadings(world);
        for (const cuts of [
          { rawBeforeMs: D0 + 1, hourlyBeforeMs: D0, dailyBeforeMs: 0 },
          { rawBeforeMs: D0, hourlyBeforeMs: D0 + DAY_MS, dailyBeforeMs: 0 },
        ]) {
          await expect(store().prune(cuts)).rejects.toMatchObject({ code: 'STORE_QUERY_INVALID' });
        }
        expect(await store().count({})).toBe(world.length);
      },
    );
  });
}
