import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DeviceKind, Reading } from '../../core/contracts/index.js';
import { makeCredentials } from '../../core/credentials.js';
import { openSqliteTelemetryStore } from '../../core/storage/sqlite-telemetry-store.js';
import type { Presence, State } from '../../core/state/index.js';
import { seedPortfolio, snapshot, startTestApi, T0, type TestApi } from './support.js';

const MINUTE_MS = 60_000;
const HOUR_MS = 60 * MINUTE_MS;
const DAY_MS = 24 * HOUR_MS;

interface KindCounts {
  devices: number;
  active: number;
  online: number;
  offline: number;
  unknown: number;
  lowBattery: number | null;
  stale: number | null;
  neverReported: number | null;
}
interface Summary {
  at: number;
  devices: number;
  active: number;
  revoked: number;
  presence: { online: number; offline: number; unknown: number };
  byKind: Record<string, KindCounts>;
  lowBattery: number | null;
  stale: number | null;
  neverReported: number | null;
  lowBatteryPct: number;
  staleMs: number;
}

/** A second borrower's site, so that borrowerId filters something. */
async function seedSecondSite(state: State): Promise<void> {
  await state.portfolio.upsertSites([
    { id: 's2', borrowerId: 'b2', name: 'Mill', kind: 'factory', lat: 3, lon: 4, geofence: [] },
  ]);
}

async function register(
  state: State,
  devices: readonly { id: string; kind: DeviceKind; borrowerId: string; revoked?: boolean }[],
): Promise<void> {
  await state.devices.upsertDevices(
    devices.map(({ id, kind, borrowerId }) => ({
      device: {
        id,
        kind,
        borrowerId,
        siteId: borrowerId === 'b1' ? 's1' : 's2',
        status: 'active' as const,
        createdAt: T0,
      },
      credentials: makeCredentials(id, 'not-a-secret'),
    })),
  );
  for (const d of devices) if (d.revoked === true) await state.devices.revokeDevice(d.id, T0 + 1);
}

const reading = (
  kind: DeviceKind,
  deviceId: string,
  borrowerId: string,
  ts: number,
  batteryPct?: number,
): Reading => ({
  kind,
  deviceId,
  borrowerId,
  siteId: borrowerId === 'b1' ? 's1' : 's2',
  ts,
  seq: ts % 1_000_000,
  fields:
    kind === 'satellite'
      ? { ndvi: 0.6, cloudPct: 10, sceneId: `scene-${deviceId}` }
      : { lat: 1, lon: 2, ...(batteryPct === undefined ? {} : { batteryPct }) },
});

const ids = (res: { json<T>(): T }) => res.json<{ items: { id: string }[] }>().items.map((d) => d.id);

describe('fleet-wide device health', () => {
  let t: TestApi;
  // Readings are placed relative to the wall clock: the summary counts against now.
  const now = Date.now();
  const FRESH = now - 5_000;
  const TWO_HOURS_AGO = now - 2 * HOUR_MS;
  const TWO_DAYS_AGO = now - 2 * DAY_MS;

  beforeAll(async () => {
    t = await startTestApi();
    await seedPortfolio(t.state);
    await seedSecondSite(t.state);
    await register(t.state, [
      { id: 'stk-on-1', kind: 'stake', borrowerId: 'b1' },
      { id: 'stk-on-2', kind: 'stake', borrowerId: 'b1' },
      { id: 'stk-off-1', kind: 'stake', borrowerId: 'b1' },
      { id: 'stk-unk-1', kind: 'stake', borrowerId: 'b1' },
      { id: 'stk-rev-1', kind: 'stake', borrowerId: 'b1', revoked: true },
      { id: 'hlm-on-1', kind: 'helmet', borrowerId: 'b1' },
      { id: 'hlm-off-1', kind: 'helmet', borrowerId: 'b2' },
      { id: 'hlm-unk-1', kind: 'helmet', borrowerId: 'b2' },
      { id: 'hlm-rev-1', kind: 'helmet', borrowerId: 'b2', revoked: true },
      { id: 'sat-1', kind: 'satellite', borrowerId: 'b2' },
      { id: 'sat-2', kind: 'satellite', borrowerId: 'b2' },
      { id: 'sat-3', kind: 'satellite', borrowerId: 'b2' },
    ]);
    await t.state.presence.setPresence([
      { deviceId: 'stk-on-1', status: 'online', changedAt: T0 },
      { deviceId: 'stk-on-2', status: 'online', changedAt: T0 },
      { deviceId: 'stk-off-1', status: 'offline', changedAt: T0 },
      { deviceId: 'stk-rev-1', status: 'offline', changedAt: T0 },
      { deviceId: 'hlm-on-1', status: 'online', changedAt: T0 },
      { deviceId: 'hlm-off-1', status: 'offline', changedAt: T0 },
      { deviceId: 'sat-2', status: 'online', changedAt: T0 },
      // Presence of a device the registry does not know: counted nowhere.
      { deviceId: 'ghost-1', status: 'online', changedAt: T0 },
    ]);
    await t.telemetry.writeReadings([
      // An older low reading; the latest (80 %, two hours old) is what counts.
      reading('stake', 'stk-on-1', 'b1', now - 3 * HOUR_MS, 3),
      reading('stake', 'stk-on-1', 'b1', TWO_HOURS_AGO, 80),
      reading('stake', 'stk-on-2', 'b1', FRESH, 10),
      reading('stake', 'stk-off-1', 'b1', now - 3 * DAY_MS, 90),
      reading('stake', 'stk-off-1', 'b1', TWO_DAYS_AGO, 15),
      // Revoked: low and stale, but counted in `revoked` only.
      reading('stake', 'stk-rev-1', 'b1', TWO_DAYS_AGO, 5),
      reading('helmet', 'hlm-on-1', 'b1', FRESH, 50),
      reading('helmet', 'hlm-off-1', 'b2', TWO_DAYS_AGO, 19.5),
      // Exactly at the threshold: not below it.
      reading('helmet', 'hlm-unk-1', 'b2', FRESH, 20),
      // Satellite feeds have no battery.
      reading('satellite', 'sat-1', 'b2', TWO_DAYS_AGO),
      reading('satellite', 'sat-2', 'b2', FRESH),
    ]);
  });
  afterAll(() => t.close());

  const summary = async (query = '', role: 'officer' | 'device-ops' | 'auditor' = 'officer') => {
    const res = await t.app.inject({ url: `/v1/devices/summary${query}`, headers: t.auth(role) });
    expect(res.statusCode, res.body).toBe(200);
    return res.json<Summary>();
  };

  it('when the whole fleet is summarised, then every count is exact and revoked devices count only as revoked', async () => {
    const before = Date.now();
    const s = await summary();
    expect(s.at).toBeGreaterThanOrEqual(before);
    expect(s.at).toBeLessThanOrEqual(Date.now());
    expect({ ...s, at: 0 }).toEqual({
      at: 0,
      devices: 12,
      active: 10,
      revoked: 2,
      presence: { online: 4, offline: 2, unknown: 4 },
      byKind: {
        stake: {
          devices: 5,
          active: 4,
          online: 2,
          offline: 1,
          unknown: 1,
          lowBattery: 2,
          stale: 1,
          neverReported: 1,
        },
        helmet: {
          devices: 4,
          active: 3,
          online: 1,
          offline: 1,
          unknown: 1,
          lowBattery: 1,
          stale: 1,
          neverReported: 0,
        },
        satellite: {
          devices: 3,
          active: 3,
          online: 1,
          offline: 0,
          unknown: 2,
          lowBattery: 0,
          stale: 1,
          neverReported: 1,
        },
      },
      lowBattery: 3,
      stale: 3,
      neverReported: 2,
      lowBatteryPct: 20,
      staleMs: DAY_MS,
    });
  });

  it('when filtered by borrower, then only its devices count and every kind is still listed', async () => {
    const s = await summary('?borrowerId=b2');
    expect({ ...s, at: 0 }).toEqual({
      at: 0,
      devices: 6,
      active: 5,
      revoked: 1,
      presence: { online: 1, offline: 1, unknown: 3 },
      byKind: {
        stake: {
          devices: 0,
          active: 0,
          online: 0,
          offline: 0,
          unknown: 0,
          lowBattery: 0,
          stale: 0,
          neverReported: 0,
        },
        helmet: {
          devices: 3,
          active: 2,
          online: 0,
          offline: 1,
          unknown: 1,
          lowBattery: 1,
          stale: 1,
          neverReported: 0,
        },
        satellite: {
          devices: 3,
          active: 3,
          online: 1,
          offline: 0,
          unknown: 2,
          lowBattery: 0,
          stale: 1,
          neverReported: 1,
        },
      },
      lowBattery: 1,
      stale: 2,
      neverReported: 1,
      lowBatteryPct: 20,
      staleMs: DAY_MS,
    });
    const nobody = await summary('?borrowerId=nobody');
    expect([nobody.devices, nobody.active, nobody.lowBattery, nobody.stale, nobody.neverReported]).toEqual([
      0, 0, 0, 0, 0,
    ]);
  });

  it('when a kind and thresholds are given, then only that kind is counted, against those thresholds, and they are echoed', async () => {
    const s = await summary(`?kind=stake&lowBatteryPct=85&staleMs=${HOUR_MS}`, 'device-ops');
    expect(Object.keys(s.byKind)).toEqual(['stake']);
    expect({ ...s, at: 0 }).toMatchObject({
      devices: 5,
      active: 4,
      revoked: 1,
      presence: { online: 2, offline: 1, unknown: 1 },
      // 80 %, 10 % and 15 % are below 85 %; the two- and forty-eight-hour-old readings are older than an hour.
      lowBattery: 3,
      stale: 2,
      neverReported: 1,
      lowBatteryPct: 85,
      staleMs: HOUR_MS,
    });
    expect(s.byKind.stake).toMatchObject({ lowBattery: 3, stale: 2, neverReported: 1 });

    const fractional = await summary('?lowBatteryPct=10.5', 'auditor');
    expect(fractional).toMatchObject({ lowBattery: 1, lowBatteryPct: 10.5 });
    const none = await summary('?lowBatteryPct=0&staleMs=31536000000');
    expect(none).toMatchObject({ lowBattery: 0, stale: 0, neverReported: 2 });
  });

  it('when the summary and a device are fetched, then /v1/devices/summary does not shadow /v1/devices/:id', async () => {
    const device = await t.app.inject({ url: '/v1/devices/stk-on-1', headers: t.auth('officer') });
    expect(device.json()).toMatchObject({ id: 'stk-on-1', presence: 'online', batteryPct: 80 });
    const provision = await t.app.inject({
      method: 'POST',
      url: '/v1/devices',
      headers: t.auth('device-ops'),
      payload: { id: 'summary', kind: 'helmet', borrowerId: 'b1', siteId: 's1' },
    });
    expect(provision.statusCode).toBe(400);
    expect(JSON.stringify(provision.json<{ errors: unknown }>().errors)).toContain('body/id');
    expect(await t.state.devices.getDevice('summary')).toBeUndefined();
  });

  it('when devices are listed by presence, then the filter is fleet-wide, pages by id, and unknown means no presence row', async () => {
    const offline = await t.app.inject({ url: '/v1/devices?presence=offline', headers: t.auth('officer') });
    expect(ids(offline)).toEqual(['hlm-off-1', 'stk-off-1', 'stk-rev-1']);
    expect(
      offline.json<{ items: { presence: string }[] }>().items.every((d) => d.presence === 'offline'),
    ).toBe(true);
    const activeOffline = await t.app.inject({
      url: '/v1/devices?presence=offline&status=active&borrowerId=b1',
      headers: t.auth('officer'),
    });
    expect(ids(activeOffline)).toEqual(['stk-off-1']);
    const online = await t.app.inject({
      url: '/v1/devices?presence=online&kind=stake',
      headers: t.auth('officer'),
    });
    expect(ids(online)).toEqual(['stk-on-1', 'stk-on-2']);

    const seen: string[] = [];
    let cursor: string | undefined;
    for (let page = 0; page < 10; page++) {
      const res = await t.app.inject({
        url: `/v1/devices?presence=unknown&limit=2${cursor === undefined ? '' : `&cursor=${cursor}`}`,
        headers: t.auth('device-ops'),
      });
      const body = res.json<{ items: { id: string; presence: string }[]; nextCursor?: string }>();
      expect(body.items.length).toBeLessThanOrEqual(2);
      for (const d of body.items) expect(d.presence).toBe('unknown');
      seen.push(...body.items.map((d) => d.id));
      cursor = body.nextCursor;
      if (cursor === undefined) break;
    }
    expect(seen).toEqual(['hlm-rev-1', 'hlm-unk-1', 'sat-1', 'sat-3', 'stk-unk-1']);
  });
});

describe('fleet summary when the telemetry store is down', () => {
  it('when the telemetry store fails, then presence and status still answer, the reading counts are null, and a warning is logged', async () => {
    const lines: Record<string, unknown>[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
        done();
      },
    });
    const dir = mkdtempSync(join(tmpdir(), 'rf-fleet-'));
    const telemetry = openSqliteTelemetryStore(join(dir, 'telemetry.db'));
    const t = await startTestApi({ telemetry, log: pino({ level: 'warn' }, sink) });
    try {
      await seedPortfolio(t.state);
      await seedSecondSite(t.state);
      await register(t.state, [
        { id: 'stk-a', kind: 'stake', borrowerId: 'b1' },
        { id: 'stk-b', kind: 'stake', borrowerId: 'b1', revoked: true },
        { id: 'hlm-a', kind: 'helmet', borrowerId: 'b2' },
      ]);
      await t.state.presence.setPresence([{ deviceId: 'stk-a', status: 'offline', changedAt: T0 }]);
      await telemetry.writeReadings([reading('stake', 'stk-a', 'b1', Date.now() - 1000, 5)]);
      // The real store, closed: every query now fails as a store outage does.
      await telemetry.close();

      const before = await snapshot(t.state);
      const res = await t.app.inject({ url: '/v1/devices/summary', headers: t.auth('officer') });
      expect(res.statusCode, res.body).toBe(200);
      const s = res.json<Summary>();
      expect({ ...s, at: 0 }).toEqual({
        at: 0,
        devices: 3,
        active: 2,
        revoked: 1,
        presence: { online: 0, offline: 1, unknown: 1 },
        byKind: {
          stake: {
            devices: 2,
            active: 1,
            online: 0,
            offline: 1,
            unknown: 0,
            lowBattery: null,
            stale: null,
            neverReported: null,
          },
          helmet: {
            devices: 1,
            active: 1,
            online: 0,
            offline: 0,
            unknown: 1,
            lowBattery: null,
            stale: null,
            neverReported: null,
          },
          satellite: {
            devices: 0,
            active: 0,
            online: 0,
            offline: 0,
            unknown: 0,
            lowBattery: null,
            stale: null,
            neverReported: null,
          },
        },
        lowBattery: null,
        stale: null,
        neverReported: null,
        lowBatteryPct: 20,
        staleMs: DAY_MS,
      });
      expect(await snapshot(t.state)).toEqual(before);
      expect(lines.some((l) => l.level === 40 && /fleet summary/.test(String(l.msg)))).toBe(true);
    } finally {
      await t.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('fleet summary at scale', () => {
  it('when the fleet has 5,000 devices, then the grouped counts and the reading counts are exact', async () => {
    const t = await startTestApi();
    try {
      await seedPortfolio(t.state);
      await seedSecondSite(t.state);
      const N = 5_000;
      const kinds: readonly DeviceKind[] = ['stake', 'helmet', 'satellite'];
      const now = Date.now();
      const fleet = Array.from({ length: N }, (_, i) => ({
        id: `dev-${String(i).padStart(5, '0')}`,
        kind: kinds[i % 3] ?? 'stake',
        borrowerId: i % 2 === 0 ? 'b1' : 'b2',
        revoked: i % 10 === 9,
        presence: (['online', 'offline', undefined] as const)[(i % 7) % 3],
        // Every fourth never reported; of the rest, every fifth is two days old; batteries 0..99.
        reported: i % 4 !== 3,
        old: i % 5 === 0,
        batteryPct: i % 100,
      }));
      await register(t.state, fleet);
      await t.state.presence.setPresence(
        fleet.flatMap((d): Presence[] =>
          d.presence === undefined ? [] : [{ deviceId: d.id, status: d.presence, changedAt: T0 }],
        ),
      );
      await t.telemetry.writeReadings(
        fleet
          .filter((d) => d.reported)
          .map((d) =>
            reading(d.kind, d.id, d.borrowerId, d.old ? now - 2 * DAY_MS : now - 60_000, d.batteryPct),
          ),
      );

      // The expectation, counted from the fixture itself.
      const active = fleet.filter((d) => !d.revoked);
      const count = (pred: (d: (typeof fleet)[number]) => boolean) => active.filter(pred).length;
      const expected = {
        devices: N,
        active: active.length,
        revoked: N - active.length,
        presence: {
          online: count((d) => d.presence === 'online'),
          offline: count((d) => d.presence === 'offline'),
          unknown: count((d) => d.presence === undefined),
        },
        lowBattery: count((d) => d.reported && d.kind !== 'satellite' && d.batteryPct < 20),
        stale: count((d) => d.reported && d.old),
        neverReported: count((d) => !d.reported),
      };
      const res = await t.app.inject({ url: '/v1/devices/summary', headers: t.auth('admin') });
      expect(res.statusCode, res.body).toBe(200);
      const s = res.json<Summary>();
      expect(s).toMatchObject(expected);
      // Sanity on the fixture: every bucket is populated, so a count stuck at zero would fail.
      for (const v of [...Object.values(expected.presence), expected.lowBattery, expected.stale])
        expect(v).toBeGreaterThan(0);
      const helmets = active.filter((d) => d.kind === 'helmet');
      expect(s.byKind.helmet).toEqual({
        devices: fleet.filter((d) => d.kind === 'helmet').length,
        active: helmets.length,
        online: helmets.filter((d) => d.presence === 'online').length,
        offline: helmets.filter((d) => d.presence === 'offline').length,
        unknown: helmets.filter((d) => d.presence === undefined).length,
        lowBattery: helmets.filter((d) => d.reported && d.batteryPct < 20).length,
        stale: helmets.filter((d) => d.reported && d.old).length,
        neverReported: helmets.filter((d) => !d.reported).length,
      });
      const sum = (f: (k: KindCounts) => number) => Object.values(s.byKind).reduce((a, k) => a + f(k), 0);
      expect(sum((k) => k.devices)).toBe(N);
      expect(sum((k) => k.offline)).toBe(expected.presence.offline);

      const b2Offline = await t.app.inject({
        url: '/v1/devices/summary?borrowerId=b2&kind=satellite',
        headers: t.auth('admin'),
      });
      const sats = active.filter((d) => d.borrowerId === 'b2' && d.kind === 'satellite');
      expect(b2Offline.json<Summary>()).toMatchObject({
        active: sats.length,
        presence: { offline: sats.filter((d) => d.presence === 'offline').length },
        lowBattery: 0,
        neverReported: sats.filter((d) => !d.reported).length,
      });
    } finally {
      await t.close();
    }
  });
});
