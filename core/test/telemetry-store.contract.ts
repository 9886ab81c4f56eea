import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { DeviceKind, Reading } from '../contracts/index.js';
import {
  MAX_RANGE_LIMIT,
  type AggregateQuery,
  type RangeQuery,
  type SeriesFilter,
  type TelemetryStore,
} from '../storage/telemetry-store.js';

import {
  type ContractSubject,
  T0,
  STEP_MS,
  DEVICES,
  makeWorld,
  cmpText,
  cmpReading,
  expectedRange,
  expectedAggregates,
  expectAggregatesEqual,
  bulk,
  WIDE,
  expectGridEqual,
} from './support/telemetry-contract-world.js';
import { aggregatesContract } from './telemetry-aggregates.contract.js';

/**
 * The TelemetryStore contract, in the manner of aedes-persistence's abstract tests and MQTT.js's
 * abstract_store: every adapter runs this same suite against a fresh store per test. Expected values are
 * computed here, from the generated readings, never from another adapter.
 */
export type { ContractSubject };
export { expectAggregatesEqual, expectedAggregates, expectGridEqual };

export function telemetryStoreContract(name: string, build: () => Promise<ContractSubject>): void {
  describe(`TelemetryStore contract: ${name}`, () => {
    let subject: ContractSubject | undefined;
    const store = (): TelemetryStore => {
      if (subject === undefined) throw new Error('store not built');
      return subject.store;
    };
    const world = makeWorld();

    beforeEach(async () => {
      subject = await build();
    });
    afterEach(async () => {
      await subject?.cleanup();
      subject = undefined;
    });

    it('when the store is fresh, then it answers ping and holds nothing', async () => {
      await expect(store().ping()).resolves.toBeUndefined();
      expect(await store().count({})).toBe(0);
      expect(await store().latest({})).toEqual([]);
      expect(await store().range({ ...WIDE, limit: 10 })).toEqual([]);
    });

    it('when a batch is written and read back by range, then every reading round-trips exactly', async () => {
      expect(await store().writeReadings(world)).toEqual({ written: world.length });
      const back = await store().range({ ...WIDE, limit: MAX_RANGE_LIMIT });
      expect(back).toEqual([...world].sort(cmpReading));
      // spot checks of the kinds of values the payloads carry
      const inspection = back.find((r) => r.deviceId === 'helmet-a1' && r.fields.mode === 'inspection');
      expect(inspection?.fields).toMatchObject({ mode: 'inspection', inspectionId: 'insp-0', worn: 0 });
      const noNdvi = back.find((r) => r.kind === 'satellite' && r.seq === 1);
      expect(noNdvi?.fields).not.toHaveProperty('ndvi');
      expect(back.find((r) => r.kind === 'satellite' && r.fields.ndvi === 1e-7 * 2)).toBeDefined();
    });

    it('when the same batch is written twice, then the count is unchanged and each reading comes back once', async () => {
      await store().writeReadings(world);
      const before = await store().count({});
      expect(before).toBe(world.length);
      expect(await store().writeReadings(world)).toEqual({ written: world.length });
      expect(await store().writeReadings(world.slice(5, 25))).toEqual({ written: 20 });
      expect(await store().count({})).toBe(before);
      expect(await store().range({ ...WIDE, limit: MAX_RANGE_LIMIT })).toHaveLength(world.length);
    });

    it('when readings share ts and deviceId but not seq, then both are kept', async () => {
      const a: Reading = {
        kind: 'stake',
        deviceId: 'stake-x1',
        borrowerId: 'b',
        siteId: 's',
        ts: T0,
        seq: 7,
        fields: { weightKg: 1 },
      };
      const b: Reading = { ...a, seq: 8, fields: { weightKg: 2 } };
      const c: Reading = { ...a, deviceId: 'stake-x2', fields: { weightKg: 3 } };
      await store().writeReadings([a, b, c]);
      expect(await store().count({})).toBe(3);
      expect(await store().range({ ...WIDE, limit: 10 })).toEqual([a, b, c]);
    });

    it('when devices have readings, then latest returns the newest per device (max ts, then max seq) by deviceId', async () => {
      // written out of order, in two batches, to show that latest is by (ts, seq), not by arrival
      const shuffled = [...world].sort((x, y) => ((x.seq * 7919 + x.ts) % 13) - ((y.seq * 7919 + y.ts) % 13));
      await store().writeReadings(shuffled.slice(0, 100));
      await store().writeReadings(shuffled.slice(100));
      const want = DEVICES.map((d) =>
        world
          .filter((r) => r.deviceId === d.deviceId)
          .reduce((best, r) => (cmpReading(r, best) > 0 ? r : best)),
      ).sort((x, y) => cmpText(x.deviceId, y.deviceId));
      expect(await store().latest({})).toEqual(want);

      const tie: Reading = {
        kind: 'stake',
        deviceId: 'stake-a1',
        borrowerId: 'borrower-1',
        siteId: 'site-1',
        ts: T0 + 3_600_000,
        seq: 1_000,
        fields: { weightKg: 10 },
      };
      const tieLater: Reading = { ...tie, seq: 1_001, fields: { weightKg: 11 } };
      await store().writeReadings([tieLater, tie]);
      expect(await store().latest({ deviceIds: ['stake-a1'] })).toEqual([tieLater]);
    });

    it('when latest is filtered, then only matching devices come back', async () => {
      await store().writeReadings(world);
      const ids = async (f: SeriesFilter): Promise<string[]> =>
        (await store().latest(f)).map((r) => r.deviceId);
      expect(await ids({ kind: 'stake' })).toEqual(['stake-a1', 'stake-a2', 'stake-b1']);
      expect(await ids({ borrowerIds: ['borrower-2'] })).toEqual(['helmet-b1', 'sat:eu.b1_x', 'stake-b1']);
      expect(await ids({ kind: 'helmet', siteIds: ['site-1', 'site-3'] })).toEqual([
        'helmet-a1',
        'helmet-b1',
      ]);
      expect(await ids({ deviceIds: ['stake-a2', 'nope-1', 'stake-a2'] })).toEqual(['stake-a2']);
      expect(await ids({ deviceIds: [] })).toEqual([]);
    });

    describe('aggregates', () => aggregatesContract(store, world));

    it('when a range is half-open, then a reading at fromMs is in and a reading at toMs is out', async () => {
      const at = (ts: number, seq: number): Reading => ({
        kind: 'stake',
        deviceId: 'stake-edge',
        borrowerId: 'b',
        siteId: 's',
        ts,
        seq,
        fields: { weightKg: seq },
      });
      const from = T0 + 60_000;
      const to = T0 + 120_000;
      // seq 999_999 puts the point at the last ns of its ms in InfluxDB: still inside [from, to)
      await store().writeReadings([at(from - 1, 1), at(from, 2), at(to - 1, 999_999), at(to, 4)]);
      const got = await store().range({ fromMs: from, toMs: to, limit: 10 });
      expect(got.map((r) => r.seq)).toEqual([2, 999_999]);
      expect(await store().count({ fromMs: from, toMs: to })).toBe(2);
      expect(await store().count({ fromMs: from })).toBe(3);
      expect(await store().count({ toMs: to })).toBe(3);
      // T0 mod 60 000 = 20 000: from and to - 1 fall into the buckets starting 20 s before each
      const agg = await store().aggregate({
        kind: 'stake',
        field: 'weightKg',
        fromMs: from,
        toMs: to,
        intervalMs: 60_000,
        groupBy: 'none',
      });
      expect(agg).toEqual([
        { group: '*', startMs: from - 20_000, count: 1, mean: 2, min: 2, max: 2, first: 2, last: 2 },
        {
          group: '*',
          startMs: to - 20_000,
          count: 1,
          mean: 999_999,
          min: 999_999,
          max: 999_999,
          first: 999_999,
          last: 999_999,
        },
      ]);
    });

    it('when range and count are filtered by kind, devices, borrowers and sites, then exactly the matching readings come back', async () => {
      await store().writeReadings(world);
      const filters: SeriesFilter[] = [
        { kind: 'helmet' },
        { deviceIds: ['stake-a1', 'sat:eu.b1_x'] },
        { borrowerIds: ['borrower-1'] },
        { siteIds: ['site-3'] },
        { kind: 'stake', borrowerIds: ['borrower-1'], siteIds: ['site-2'] },
        { kind: 'satellite', borrowerIds: ['borrower-1'] },
        { borrowerIds: [] },
      ];
      for (const f of filters) {
        const q: RangeQuery = { ...f, ...WIDE, limit: MAX_RANGE_LIMIT };
        const want = expectedRange(world, q);
        expect(await store().range(q), JSON.stringify(f)).toEqual(want);
        expect(await store().count({ ...f })).toBe(want.length);
      }
    });

    it('when a range has more readings than its limit, then the first ones in (ts, deviceId, seq) order come back, reversed for desc', async () => {
      await store().writeReadings(world);
      // cut-offs that fall inside milliseconds where several devices (and a device twice) reported
      const tiedTs = T0 + 8 * STEP_MS;
      const beforeTie = world.filter((r) => r.ts < tiedTs).length;
      for (const limit of [1, 7, beforeTie + 2, beforeTie + 4, 100, world.length + 5]) {
        for (const order of ['asc', 'desc'] as const) {
          const q: RangeQuery = { ...WIDE, limit, order };
          expect(await store().range(q), `${order} ${limit}`).toEqual(expectedRange(world, q));
        }
      }
      const q: RangeQuery = {
        kind: 'stake',
        fromMs: T0 + 20_000,
        toMs: T0 + 200_000,
        limit: 9,
        order: 'desc',
      };
      expect(await store().range(q)).toEqual(expectedRange(world, q));
    });

    it('when the limit cuts through one millisecond, then ties are broken by deviceId, then seq', async () => {
      // deviceId order is the reverse of borrower order, so a store that orders ties by anything else fails
      const tied: Reading[] = ['d', 'c', 'b', 'a'].flatMap((letter, i) =>
        [1, 2].map((seq) => ({
          kind: 'stake' as const,
          deviceId: `stake-${letter}`,
          borrowerId: `borrower-${i}`,
          siteId: 's',
          ts: T0,
          seq,
          fields: { weightKg: i * 10 + seq },
        })),
      );
      await store().writeReadings([...tied, ...tied.map((r) => ({ ...r, ts: T0 + 1 }))]);
      const all = [...tied, ...tied.map((r) => ({ ...r, ts: T0 + 1 }))];
      for (const limit of [1, 2, 3, 5, 9, 11]) {
        for (const order of ['asc', 'desc'] as const) {
          const q: RangeQuery = { ...WIDE, limit, order };
          expect(await store().range(q), `${order} ${limit}`).toEqual(expectedRange(all, q));
        }
      }
    });

    it('when a query is invalid, then it is refused with STORE_QUERY_INVALID and nothing changes', async () => {
      await store().writeReadings(world);
      const agg: AggregateQuery = {
        kind: 'stake',
        field: 'weightKg',
        ...WIDE,
        intervalMs: 60_000,
        groupBy: 'device',
      };
      const badAggregates: AggregateQuery[] = [
        { ...agg, field: 'weight Kg' },
        { ...agg, field: 'weightKg") FROM x; DROP DATABASE y --' },
        { ...agg, field: '1abc' },
        { ...agg, field: 'x'.repeat(65) },
        { ...agg, field: 'seq' },
        { kind: 'helmet', field: 'mode', ...WIDE, intervalMs: 60_000, groupBy: 'none' },
        { ...agg, fromMs: WIDE.toMs, toMs: WIDE.fromMs },
        { ...agg, toMs: WIDE.fromMs },
        { ...agg, intervalMs: 0 },
        { ...agg, intervalMs: -60_000 },
        { ...agg, intervalMs: 1.5 },
        { ...agg, fromMs: 0, toMs: 4_000_000_000_000, intervalMs: 1_000 },
        { ...agg, fromMs: Number.NaN },
        { ...agg, kind: 'truck' as DeviceKind },
        { ...agg, groupBy: 'site' as AggregateQuery['groupBy'] },
        { ...agg, fns: ['median' as 'mean'] },
      ];
      for (const q of badAggregates) {
        await expect(store().aggregate(q), JSON.stringify(q)).rejects.toMatchObject({
          code: 'STORE_QUERY_INVALID',
        });
      }
      const range: RangeQuery = { ...WIDE, limit: 10 };
      const badRanges: RangeQuery[] = [
        { ...range, limit: 0 },
        { ...range, limit: -1 },
        { ...range, limit: 2.5 },
        { ...range, fromMs: WIDE.toMs },
        { ...range, fromMs: -1 },
        { ...range, order: 'sideways' as 'asc' },
        { ...range, kind: 'drone' as DeviceKind },
      ];
      for (const q of badRanges) {
        await expect(store().range(q), JSON.stringify(q)).rejects.toMatchObject({
          code: 'STORE_QUERY_INVALID',
        });
      }
      await expect(store().count({ fromMs: 10, toMs: 10 })).rejects.toMatchObject({
        code: 'STORE_QUERY_INVALID',
      });
      await expect(store().latest({ kind: 'drone' as DeviceKind })).rejects.toMatchObject({
        code: 'STORE_QUERY_INVALID',
      });
      expect(await store().count({})).toBe(world.length);
      expect(await store().range({ ...WIDE, limit: MAX_RANGE_LIMIT })).toEqual([...world].sort(cmpReading));
    });

    it('when a batch holds a reading no adapter can store identically, then the whole batch is refused with STORE_REJECTED', async () => {
      const good: Reading = {
        kind: 'stake',
        deviceId: 'stake-ok',
        borrowerId: 'b',
        siteId: 's',
        ts: T0,
        seq: 1,
        fields: { weightKg: 1 },
      };
      const bad: Reading[] = [
        { ...good, fields: { weightKg: Number.NaN } },
        { ...good, fields: { weightKg: Number.POSITIVE_INFINITY } },
        { ...good, fields: { 'weight kg': 1 } },
        { ...good, fields: { seq: 1 } },
        { ...good, fields: { device: 'x' } },
        { ...good, borrowerId: 'ends-with\\' },
        { ...good, siteId: 'line\nbreak' },
        { ...good, siteId: '' },
        { ...good, ts: -1 },
        { ...good, ts: 1.5 },
        { ...good, seq: -1 },
        { ...good, kind: 'drone' as DeviceKind },
      ];
      for (const r of bad) {
        await expect(
          store().writeReadings([{ ...good, seq: 2 }, r]),
          JSON.stringify(r),
        ).rejects.toMatchObject({
          code: 'STORE_REJECTED',
          retryable: false,
        });
      }
      expect(await store().count({})).toBe(0);
    });

    it('when a batch of 5,000 readings is written, then all are stored and aggregates account for each', async () => {
      const batch = bulk(5_000);
      expect(await store().writeReadings(batch)).toEqual({ written: 5_000 });
      expect(await store().count({ kind: 'stake' })).toBe(5_000);
      const q: AggregateQuery = {
        kind: 'stake',
        field: 'weightKg',
        ...WIDE,
        intervalMs: 10_000,
        groupBy: 'borrower',
      };
      const rows = await store().aggregate(q);
      expect(rows.reduce((s, r) => s + r.count, 0)).toBe(5_000);
      expectAggregatesEqual(rows, expectedAggregates(batch, q));
      expect(await store().latest({ kind: 'stake' })).toHaveLength(50);
    });

    it('when a range asks for more than MAX_RANGE_LIMIT readings, then at most MAX_RANGE_LIMIT come back', async () => {
      const batch = bulk(MAX_RANGE_LIMIT + 50);
      await store().writeReadings(batch.slice(0, 5_000));
      await store().writeReadings(batch.slice(5_000));
      const q: RangeQuery = { ...WIDE, toMs: T0 + 86_400_000, limit: MAX_RANGE_LIMIT * 2 };
      const got = await store().range(q);
      expect(got).toHaveLength(MAX_RANGE_LIMIT);
      expect(got).toEqual(expectedRange(batch, q));
    });

    it('when strings hold quotes, spaces, commas, equals signs, backslashes and newlines, then they round-trip and filter', async () => {
      const nasty = [
        'S2 "scene", a=b\\c \\ end\\',
        "it's a 'quoted' scene",
        'line1\nline2\ttabbed\r\n',
        '北京-東京 ✓ 🚜',
        '\\',
        '',
        ' leading and trailing ',
      ];
      const borrowers = ['borrower "one", a=b', "o'brien & sons", 'back\\slash in\\middle', '北京 ✓'];
      const readings: Reading[] = nasty.map((sceneId, i) => ({
        kind: 'satellite',
        deviceId: `sat-${i}.x:y_z-w`,
        borrowerId: borrowers[i % borrowers.length] ?? 'b',
        siteId: `site = ${i}, "north" yard`,
        ts: T0 + i,
        seq: i,
        fields: { sceneId, cloudPct: i, ndvi: 0.5 },
      }));
      await store().writeReadings(readings);
      expect(await store().range({ ...WIDE, limit: 100 })).toEqual(readings);
      for (const b of borrowers) {
        const want = readings.filter((r) => r.borrowerId === b);
        expect(await store().range({ ...WIDE, limit: 100, borrowerIds: [b] }), b).toEqual(want);
        expect(await store().count({ borrowerIds: [b] })).toBe(want.length);
      }
      const site = 'site = 3, "north" yard';
      expect((await store().latest({ siteIds: [site] })).map((r) => r.fields.sceneId)).toEqual([nasty[3]]);
      const agg = await store().aggregate({
        kind: 'satellite',
        field: 'cloudPct',
        ...WIDE,
        intervalMs: 60_000,
        groupBy: 'borrower',
        borrowerIds: ["o'brien & sons"],
      });
      expect(agg).toEqual([
        {
          group: "o'brien & sons",
          startMs: T0 - 20_000,
          count: 2,
          mean: 3,
          min: 1,
          max: 5,
          first: 1,
          last: 5,
        },
      ]);
    });
  });
}
