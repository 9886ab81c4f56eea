import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  brokerDeviceSessions,
  createBroker,
  parseBrokerConfig,
  type RiskfuseBroker,
} from '../../broker/index.js';
import { silentLogger } from '../../core/logger.js';
import { tcpDeviceSessions } from '../device-sessions.js';
import { seedPortfolio, snapshot, startTestApi, type TestApi } from './support.js';

interface Provisioned {
  device: { id: string; status: string };
  token: string;
  mqtt: { username: string; clientId: string; telemetryTopic: string };
}

describe('devices with a real broker', () => {
  let t: TestApi;
  let broker: RiskfuseBroker;
  let url: string;

  beforeAll(async () => {
    t = await startTestApi({
      sessions: (state) => {
        broker = createBroker({
          config: parseBrokerConfig({ MQTT_PORT: '0', MQTT_HOST: '127.0.0.1' }),
          registry: state.devices,
          log: silentLogger,
        });
        return brokerDeviceSessions(broker);
      },
    });
    await seedPortfolio(t.state);
    const ports = await broker.listen();
    url = `mqtt://127.0.0.1:${ports.tcpPort}`;
  });
  afterAll(async () => {
    await broker.close();
    await t.close();
  });

  const connect = (id: string, token: string) =>
    mqtt.connectAsync(url, {
      clientId: id,
      username: id,
      password: token,
      reconnectPeriod: 0,
      connectTimeout: 5000,
    });

  async function provision(id: string): Promise<Provisioned> {
    const res = await t.app.inject({
      method: 'POST',
      url: '/v1/devices',
      headers: t.auth('device-ops'),
      payload: { id, kind: 'stake', borrowerId: 'b1', siteId: 's1', lotId: 'l1' },
    });
    expect(res.statusCode).toBe(201);
    return res.json<Provisioned>();
  }

  it('when a device is provisioned, then its token (shown once) logs in to the broker, and the audit log never holds it', async () => {
    const p = await provision('stk-api-1');
    expect(p.mqtt).toMatchObject({
      username: 'stk-api-1',
      clientId: 'stk-api-1',
      telemetryTopic: 'rf/v1/stk-api-1/telemetry',
    });
    const client = await connect('stk-api-1', p.token);
    expect(client.connected).toBe(true);
    await client.endAsync();
    const dump = JSON.stringify(await snapshot(t.state));
    expect(dump).not.toContain(p.token);
    const again = await t.app.inject({ url: '/v1/devices/stk-api-1', headers: t.auth('officer') });
    expect(again.body).not.toContain(p.token);
  });

  it('when a token is rotated, then the old one is refused at CONNECT and the new one works', async () => {
    const p = await provision('stk-api-2');
    const res = await t.app.inject({
      method: 'POST',
      url: '/v1/devices/stk-api-2/rotate',
      headers: t.auth('device-ops'),
    });
    expect(res.statusCode).toBe(200);
    const fresh = res.json<Provisioned>();
    expect(fresh.token).not.toBe(p.token);
    await expect(connect('stk-api-2', p.token)).rejects.toThrow(/Bad username or password|Not authorized/);
    const client = await connect('stk-api-2', fresh.token);
    await client.endAsync();
  });

  it('when a connected device is revoked, then its connection is closed at once and it cannot connect again', async () => {
    const p = await provision('stk-api-3');
    const client = await connect('stk-api-3', p.token);
    const closed = new Promise<void>((resolve) => client.once('close', () => resolve()));
    const res = await t.app.inject({
      method: 'POST',
      url: '/v1/devices/stk-api-3/revoke',
      headers: t.auth('admin'),
    });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ device: { id: 'stk-api-3', status: 'revoked' }, disconnected: true });
    await closed;
    await expect(connect('stk-api-3', p.token)).rejects.toThrow();
    const twice = await t.app.inject({
      method: 'POST',
      url: '/v1/devices/stk-api-3/revoke',
      headers: t.auth('admin'),
    });
    expect(twice.statusCode).toBe(409);
    const rotate = await t.app.inject({
      method: 'POST',
      url: '/v1/devices/stk-api-3/rotate',
      headers: t.auth('admin'),
    });
    expect(rotate.statusCode).toBe(409);
    const audit = await t.app.inject({
      url: '/v1/audit?resource=device&resourceId=stk-api-3',
      headers: t.auth('auditor'),
    });
    expect(audit.json<{ items: { action: string }[] }>().items.map((e) => e.action)).toEqual([
      'revoke',
      'provision',
    ]);
  });

  it('when devices are listed, then each shows presence, last seen, battery and last reading', async () => {
    await provision('stk-api-4');
    const ts = Date.now() - 60_000;
    await t.telemetry.writeReadings([
      {
        kind: 'stake',
        deviceId: 'stk-api-4',
        borrowerId: 'b1',
        siteId: 's1',
        ts,
        seq: 7,
        fields: {
          weightKg: 990,
          itemCount: 10,
          lat: 1,
          lon: 2,
          tamper: 0,
          temperatureC: 20,
          humidityPct: 50,
          batteryPct: 81,
        },
      },
    ]);
    await t.state.presence.setPresence([{ deviceId: 'stk-api-4', status: 'online', changedAt: ts }]);
    const res = await t.app.inject({
      url: '/v1/devices?borrowerId=b1&kind=stake&status=active',
      headers: t.auth('device-ops'),
    });
    const item = res.json<{ items: Record<string, unknown>[] }>().items.find((d) => d.id === 'stk-api-4');
    expect(item).toMatchObject({
      presence: 'online',
      presenceChangedAt: ts,
      lastSeenAt: ts,
      batteryPct: 81,
      lastReading: { seq: 7 },
    });
    const other = res.json<{ items: Record<string, unknown>[] }>().items.find((d) => d.id === 'stk-api-1');
    expect(other).toMatchObject({ presence: 'unknown' });
    expect(other?.lastSeenAt).toBeUndefined();
  });

  it('when a lot with stakes on it would move to another site, then 409 and it stays', async () => {
    await t.state.portfolio.upsertSites([
      { id: 's1b', borrowerId: 'b1', name: 'Annex', kind: 'warehouse', lat: 1, lon: 2, geofence: [] },
    ]);
    const res = await t.app.inject({
      method: 'PATCH',
      url: '/v1/lots/l1',
      headers: t.auth('admin'),
      payload: { siteId: 's1b' },
    });
    expect(res.statusCode).toBe(409);
    expect(res.json()).toMatchObject({
      code: 'CONFLICT',
      dependents: { devices: expect.any(Number) as unknown },
    });
    expect((await t.state.portfolio.getLot('l1'))?.siteId).toBe('s1');
  });

  it('when a device would point at a missing or foreign site or lot, or its id is taken, then 4xx and nothing is written', async () => {
    const before = await snapshot(t.state);
    const cases: [Record<string, unknown>, number, string][] = [
      [{ id: 'hlm-x', kind: 'helmet', borrowerId: 'b1', siteId: 's1', lotId: 'l1' }, 400, 'body/lotId'],
      [{ id: 'stk-x', kind: 'stake', borrowerId: 'b1', siteId: 'nope' }, 400, 'body/siteId'],
      [{ id: 'stk-x', kind: 'stake', borrowerId: 'b2', siteId: 's1' }, 400, 'body/siteId'],
      [{ id: 'stk-x', kind: 'stake', borrowerId: 'nobody', siteId: 's1' }, 400, 'body/borrowerId'],
      [{ id: 'stk-api-1', kind: 'stake', borrowerId: 'b1', siteId: 's1' }, 409, ''],
      [{ id: 'a/b#', kind: 'stake', borrowerId: 'b1', siteId: 's1' }, 400, 'body/id'],
    ];
    for (const [payload, status, path] of cases) {
      const res = await t.app.inject({
        method: 'POST',
        url: '/v1/devices',
        headers: t.auth('admin'),
        payload,
      });
      expect(res.statusCode, JSON.stringify(payload)).toBe(status);
      if (path !== '') expect(JSON.stringify(res.json<{ errors: unknown }>().errors)).toContain(path);
    }
    expect(await snapshot(t.state)).toEqual(before);
  });
});

describe('devices when the API runs apart from the broker', () => {
  it('when a device is revoked, then it is revoked and the answer says the broker refuses it at its next CONNECT', async () => {
    const t = await startTestApi({ sessions: tcpDeviceSessions('mqtt://127.0.0.1:1') });
    try {
      await seedPortfolio(t.state);
      await t.app.inject({
        method: 'POST',
        url: '/v1/devices',
        headers: t.auth('admin'),
        payload: { id: 'hlm-far', kind: 'helmet', borrowerId: 'b1', siteId: 's1' },
      });
      const res = await t.app.inject({
        method: 'POST',
        url: '/v1/devices/hlm-far/revoke',
        headers: t.auth('admin'),
      });
      expect(res.json()).toMatchObject({
        disconnected: false,
        note: expect.stringMatching(/next CONNECT/) as unknown,
      });
      expect((await t.state.devices.getDevice('hlm-far'))?.status).toBe('revoked');
      const ready = await t.app.inject({ url: '/ready' });
      expect(ready.statusCode).toBe(503);
      expect(ready.json()).toMatchObject({
        status: 'not-ready',
        checks: { broker: { ok: false }, stateStore: { ok: true } },
      });
    } finally {
      await t.close();
    }
  });
});
