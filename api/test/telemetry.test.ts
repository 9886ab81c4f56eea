import { randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../core/config.js';
import type { Reading } from '../../core/contracts/index.js';
import { issueToken, makeCredentials } from '../../core/credentials.js';
import { openSqliteTelemetryStore } from '../../core/storage/sqlite-telemetry-store.js';
import { createInfluxTelemetryStore } from '../../core/storage/influx-telemetry-store.js';
import { telemetryConfigSpec } from '../../core/storage/telemetry-config.js';
import type { TelemetryStore } from '../../core/storage/telemetry-store.js';
import { requireInfluxOrSkip, startInfluxd, type Influxd } from '../../test/support/influxd.js';
import { seedPortfolio, startTestApi, T0, type TestApi } from './support.js';

const DAY_MS = 86_400_000;
const STEP_MS = 600_000;
const PER_DAY = DAY_MS / STEP_MS;

function readingsOf(deviceId: string, weight: (day: number) => number): Reading[] {
  return Array.from({ length: 3 * PER_DAY }, (_, i) => {
    const day = Math.floor(i / PER_DAY);
    return {
      kind: 'stake',
      deviceId,
      borrowerId: 'b1',
      siteId: 's1',
      ts: T0 + i * STEP_MS,
      seq: i,
      fields: {
        weightKg: weight(day),
        itemCount: 10,
        lat: 1,
        lon: 2,
        tamper: 0,
        temperatureC: 20,
        humidityPct: 50,
        batteryPct: 90 - day,
      },
    };
  });
}

interface Aggregate {
  groupBy: string;
  series: {
    field: string;
    group: string;
    points: { startMs: number; count: number; mean?: number; min?: number; max?: number }[];
  }[];
}

/** The telemetry routes, run against one backend of the TelemetryStore port. */
function telemetryRoutesSuite(open: () => Promise<TelemetryStore>): void {
  let t: TestApi;
  beforeAll(async () => {
    t = await startTestApi({
      telemetry: await open(),
      env: { API_TELEMETRY_MAX_RANGE_DAYS: '31', API_TELEMETRY_MAX_POINTS: '500' },
    });
    await seedPortfolio(t.state);
    await t.state.devices.upsertDevices(
      ['stk-1', 'stk-2'].map((id) => ({
        device: {
          id,
          kind: 'stake' as const,
          borrowerId: 'b1',
          siteId: 's1',
          lotId: 'l1',
          status: 'active' as const,
          createdAt: T0,
        },
        credentials: makeCredentials(id, issueToken()),
      })),
    );
    await t.telemetry.writeReadings([
      ...readingsOf('stk-1', (d) => 1000 + d),
      ...readingsOf('stk-2', () => 2000),
    ]);
  });
  afterAll(() => t.close());

  const get = (url: string) => t.app.inject({ url, headers: t.auth('officer') });

  it('when a device’s readings are asked for a range, then exactly those in [from, to) come back in order', async () => {
    const res = await get(`/v1/devices/stk-1/readings?from=${T0 + DAY_MS}&to=${T0 + DAY_MS + 6 * STEP_MS}`);
    expect(res.statusCode).toBe(200);
    const body = res.json<{
      items: { ts: number; seq: number; fields: { weightKg: number } }[];
      truncated: boolean;
    }>();
    expect(body.items.map((r) => r.seq)).toEqual([144, 145, 146, 147, 148, 149]);
    expect(body.items[0]?.fields.weightKg).toBe(1001);
    expect(body.truncated).toBe(false);
    const desc = await get(`/v1/devices/stk-1/readings?from=${T0}&to=${T0 + 3 * DAY_MS}&limit=2&order=desc`);
    const d = desc.json<{ items: { seq: number }[]; truncated: boolean }>();
    expect(d.items.map((r) => r.seq)).toEqual([431, 430]);
    expect(d.truncated).toBe(true);
  });

  it('when a device is aggregated by day, then each day has its count, mean, min and max', async () => {
    const res = await get(
      `/v1/telemetry/aggregate?deviceId=stk-1&fields=weightKg,batteryPct&fns=mean,min,max,count&from=${T0}&to=${T0 + 3 * DAY_MS}&windowMs=${DAY_MS}`,
    );
    expect(res.statusCode).toBe(200);
    const body = res.json<Aggregate>();
    const weight = body.series.find((s) => s.field === 'weightKg');
    expect(weight?.group).toBe('stk-1');
    expect(weight?.points).toEqual(
      [0, 1, 2].map((d) => ({
        startMs: T0 + d * DAY_MS,
        count: PER_DAY,
        mean: 1000 + d,
        min: 1000 + d,
        max: 1000 + d,
      })),
    );
    expect(body.series.find((s) => s.field === 'batteryPct')?.points.map((p) => p.mean)).toEqual([
      90, 89, 88,
    ]);
  });

  it('when a borrower is aggregated, then its devices are merged, or split with groupBy=device', async () => {
    const merged = await get(
      `/v1/telemetry/aggregate?borrowerId=b1&kind=stake&fields=weightKg&from=${T0}&to=${T0 + 2 * DAY_MS}&windowMs=${DAY_MS}`,
    );
    const m = merged.json<Aggregate>();
    expect(m.series).toHaveLength(1);
    expect(m.series[0]?.points.map((p) => [p.count, p.mean])).toEqual([
      [2 * PER_DAY, 1500],
      [2 * PER_DAY, 1500.5],
    ]);
    const split = await get(
      `/v1/telemetry/aggregate?borrowerId=b1&kind=stake&fields=weightKg&fns=max&groupBy=device&from=${T0}&to=${T0 + DAY_MS}&windowMs=${DAY_MS}`,
    );
    expect(split.json<Aggregate>().series.map((s) => [s.group, s.points[0]?.max])).toEqual([
      ['stk-1', 1000],
      ['stk-2', 2000],
    ]);
  });

  it('when a site’s worker-hours are asked, then worn work-mode time inside its geofence is summed per window, past the store’s per-query cap', async () => {
    const helmets = ['hlm-1', 'hlm-2'];
    await t.state.devices.upsertDevices(
      helmets.map((id) => ({
        device: {
          id,
          kind: 'helmet' as const,
          borrowerId: 'b1',
          siteId: 's1',
          status: 'active' as const,
          createdAt: T0,
        },
        credentials: makeCredentials(id, issueToken()),
      })),
    );
    // hlm-1: a reading a minute for 12,000 minutes inside the fence (more than one range query returns);
    // hlm-2: a reading every 5 minutes outside it. s1's fence is the triangle (0,0) (0,1) (1,1).
    const helmet = (deviceId: string, i: number, stepMs: number, lat: number, lon: number): Reading => ({
      kind: 'helmet',
      deviceId,
      borrowerId: 'b1',
      siteId: 's1',
      ts: T0 + i * stepMs,
      seq: i,
      fields: { lat, lon, worn: 1, activity: 0.4, mode: 'work', batteryPct: 70 },
    });
    await t.telemetry.writeReadings([
      ...Array.from({ length: 12_000 }, (_, i) => helmet('hlm-1', i, 60_000, 0.2, 0.6)),
      ...Array.from({ length: 100 }, (_, i) => helmet('hlm-2', i, 300_000, 0.9, 0.1)),
    ]);
    const res = await get(`/v1/sites/s1/worker-hours?from=${T0}&to=${T0 + 9 * DAY_MS}&windowMs=${DAY_MS}`);
    expect(res.statusCode).toBe(200);
    const body = res.json<{
      helmets: number;
      totalHours: number;
      points: { startMs: number; hours: number; helmets: number }[];
    }>();
    expect(body.helmets).toBe(2);
    expect(body.totalHours).toBeCloseTo(200, 9);
    expect(body.points.map((p) => p.startMs)).toEqual(Array.from({ length: 9 }, (_, d) => T0 + d * DAY_MS));
    expect(body.points.map((p) => Math.round(p.hours * 60))).toEqual([
      ...Array.from({ length: 8 }, () => 1440),
      480,
    ]);
    expect(body.points.every((p) => p.helmets === 1)).toBe(true);
    const missing = await get('/v1/sites/nope/worker-hours');
    expect(missing.statusCode).toBe(404);
    const tooFine = await get(`/v1/sites/s1/worker-hours?from=${T0}&to=${T0 + 9 * DAY_MS}&windowMs=900000`);
    expect(tooFine.statusCode).toBe(400);
    expect(tooFine.json<{ detail: string }>().detail).toMatch(/API_TELEMETRY_MAX_POINTS/);
    expect((await get('/v1/sites/s1/worker-hours?windowMs=60000')).statusCode).toBe(400);
    expect((await get('/v1/sites/s1/worker-hours?maxGapMs=1')).statusCode).toBe(400);
  });

  it('when a query is over the limits or malformed, then 400 says which limit and how to stay within it', async () => {
    const cases: [string, number, RegExp][] = [
      [
        `/v1/telemetry/aggregate?deviceId=stk-1&fields=weightKg&from=${T0}&to=${T0 + 3 * DAY_MS}&windowMs=60000`,
        400,
        /API_TELEMETRY_MAX_POINTS.*widen windowMs/,
      ],
      [
        `/v1/telemetry/aggregate?deviceId=stk-1&fields=weightKg&from=${T0}&to=${T0 + 40 * DAY_MS}&windowMs=${DAY_MS}`,
        400,
        /limit of 31 days/,
      ],
      [
        `/v1/telemetry/aggregate?deviceId=stk-1&fields=shoeSize`,
        400,
        /not numeric fields of a stake: shoeSize/,
      ],
      [`/v1/telemetry/aggregate?deviceId=stk-1&borrowerId=b1&fields=weightKg`, 400, /exactly one/],
      [`/v1/telemetry/aggregate?fields=weightKg`, 400, /exactly one/],
      [`/v1/telemetry/aggregate?borrowerId=b1&fields=weightKg`, 400, /kind is required/],
      [`/v1/telemetry/aggregate?deviceId=stk-1&fields=weightKg&fns=median`, 400, /schema/],
      [`/v1/telemetry/aggregate?deviceId=nope-1&fields=weightKg`, 404, /no device/],
      [`/v1/telemetry/aggregate?borrowerId=nobody&kind=stake&fields=weightKg`, 404, /no borrower/],
      [`/v1/devices/stk-1/readings?from=${T0 + 10}&to=${T0}`, 400, /must be before/],
      [`/v1/devices/stk-1/readings?limit=600`, 400, /API_TELEMETRY_MAX_POINTS/],
      [`/v1/devices/nope-1/readings`, 404, /no device/],
      [`/v1/devices/stk-1/readings?from=yesterday`, 400, /schema/],
    ];
    for (const [url, status, detail] of cases) {
      const res = await get(url);
      expect(res.statusCode, url).toBe(status);
      expect(res.json<{ detail: string }>().detail, url).toMatch(detail);
    }
  });
}

describe('telemetry routes on SQLite', () => {
  telemetryRoutesSuite(() => {
    return Promise.resolve().then(() =>
      openSqliteTelemetryStore(join(mkdtempSync(join(tmpdir(), 'rf-api-tel-')), 'telemetry.db')),
    );
  });
});

describe.skipIf(requireInfluxOrSkip())('telemetry routes on InfluxDB', () => {
  let influxd: Influxd | undefined;
  beforeAll(async () => {
    influxd = await startInfluxd();
  });
  afterAll(async () => {
    await influxd?.stop();
  });
  telemetryRoutesSuite(async () => {
    if (influxd === undefined) throw new Error('influxd did not start');
    const cfg = parseConfig(telemetryConfigSpec, {
      INFLUX_URL: influxd.url,
      INFLUX_DATABASE: `api_${randomUUID().replace(/-/g, '')}`,
    });
    const store = createInfluxTelemetryStore({ ...cfg, influxUrl: influxd.url });
    await store.ensureDatabase();
    return store;
  });
});
