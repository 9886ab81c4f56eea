import { afterAll, describe, expect, it } from 'vitest';
import { issueToken, makeCredentials, verifyToken } from '../../credentials.js';
import { isConstraintError } from '../database.js';
import type { State } from '../state.js';
import { closeAll, STATE_BACKENDS } from './backends.js';
import { borrower, device, seedPortfolio, site, T0 } from './portfolio-fixtures.js';

afterAll(closeAll);

describe.each(STATE_BACKENDS)('device repository on %s', (backend) => {
  const open = async (): Promise<State> => {
    const state = await backend.open();
    await seedPortfolio(state);
    return state;
  };

  it('when a device is registered, then only a salted hash of its token is stored and it verifies', async () => {
    const state = await open();
    const token = issueToken();
    const registered = device('stk-1', { lotId: 'l1' }, token);
    await state.devices.upsertDevices([registered]);
    expect(await state.devices.getDevice('stk-1')).toEqual(registered.device);
    const creds = await state.devices.getCredentials('stk-1');
    expect(creds).toEqual(registered.credentials);
    expect(creds && verifyToken(token, creds)).toBe(true);
    expect(creds && verifyToken(`${token}x`, creds)).toBe(false);
    expect(JSON.stringify(await state.db.all('SELECT * FROM devices'))).not.toContain(token);
    expect(await state.devices.getDevice('nope')).toBeUndefined();
  });

  it('when a device is revoked, then it has no usable credentials but stays in the registry', async () => {
    const state = await open();
    await state.devices.upsertDevices([device('hlm-1', { kind: 'helmet' })]);
    expect(await state.devices.revokeDevice('hlm-1', T0 + 1)).toBe(true);
    expect(await state.devices.revokeDevice('hlm-1', T0 + 2)).toBe(false);
    expect(await state.devices.revokeDevice('nope', T0 + 2)).toBe(false);
    expect(await state.devices.getCredentials('hlm-1')).toBeUndefined();
    expect((await state.devices.getDevice('hlm-1'))?.status).toBe('revoked');
    expect(await state.db.get('SELECT revoked_at FROM devices WHERE id = ?', ['hlm-1'])).toEqual({
      revoked_at: T0 + 1,
    });
  });

  it('when a revoked device is registered again, then it is active with its new credentials and first creation time', async () => {
    const state = await open();
    await state.devices.upsertDevices([device('stk-1')]);
    await state.devices.revokeDevice('stk-1', T0 + 1);
    const token = issueToken();
    await state.devices.upsertDevices([device('stk-1', { lotId: 'l1', createdAt: T0 + 5 }, token)]);
    expect(await state.devices.getDevice('stk-1')).toEqual(device('stk-1', { lotId: 'l1' }).device);
    const creds = await state.devices.getCredentials('stk-1');
    expect(creds && verifyToken(token, creds)).toBe(true);
    expect(await state.db.get('SELECT revoked_at FROM devices WHERE id = ?', ['stk-1'])).toEqual({
      revoked_at: null,
    });
  });

  it('when credentials name another device, then nothing of the batch is written', async () => {
    const state = await open();
    const write = state.devices.upsertDevices([
      device('stk-1'),
      { device: device('stk-2').device, credentials: makeCredentials('stk-3', 't') },
    ]);
    await expect(write).rejects.toMatchObject({ code: 'VALIDATION_FAILED' });
    expect(await state.devices.listDevices()).toEqual([]);
  });

  it('when a batch names an unknown site, then no device of it is registered', async () => {
    const state = await open();
    const write = state.devices.upsertDevices([device('stk-1'), device('stk-2', { siteId: 'nope' })]);
    await expect(write).rejects.toSatisfy((err) => isConstraintError(err, 'foreign-key'));
    expect(await state.devices.listDevices()).toEqual([]);
  });

  it('when a batch repeats a device, then its last registration holds', async () => {
    const state = await open();
    const token = issueToken();
    await state.devices.upsertDevices([device('stk-1'), device('stk-1', { kind: 'helmet' }, token)]);
    expect((await state.devices.getDevice('stk-1'))?.kind).toBe('helmet');
    const creds = await state.devices.getCredentials('stk-1');
    expect(creds && verifyToken(token, creds)).toBe(true);
  });

  it('when devices are counted by kind, status and presence, then one row per combination with the exact count', async () => {
    const state = await open();
    await state.portfolio.upsertBorrowers([
      borrower('b2', { name: 'Steel', sector: 'manufacturing', region: 'south' }),
    ]);
    await state.portfolio.upsertSites([site('s2', 'b2', { name: 'Mill', kind: 'factory', geofence: [] })]);
    const d = (id: string, kind: 'stake' | 'helmet', borrowerId = 'b1') =>
      device(id, { kind, borrowerId, siteId: borrowerId === 'b1' ? 's1' : 's2' });
    await state.devices.upsertDevices([
      d('stk-1', 'stake'),
      d('stk-2', 'stake'),
      d('stk-3', 'stake'),
      d('stk-4', 'stake'),
      d('hlm-1', 'helmet'),
      d('hlm-2', 'helmet', 'b2'),
    ]);
    await state.devices.revokeDevice('stk-4', T0 + 1);
    await state.presence.setPresence([
      { deviceId: 'stk-1', status: 'online', changedAt: T0 },
      { deviceId: 'stk-2', status: 'offline', changedAt: T0 },
      { deviceId: 'stk-4', status: 'offline', changedAt: T0 },
      { deviceId: 'hlm-2', status: 'online', changedAt: T0 },
      // Presence of a device the registry does not know counts nowhere.
      { deviceId: 'ghost', status: 'online', changedAt: T0 },
    ]);
    expect(await state.devices.deviceFleetCounts()).toEqual([
      { kind: 'helmet', status: 'active', presence: 'online', devices: 1 },
      { kind: 'helmet', status: 'active', presence: 'unknown', devices: 1 },
      { kind: 'stake', status: 'active', presence: 'offline', devices: 1 },
      { kind: 'stake', status: 'active', presence: 'online', devices: 1 },
      { kind: 'stake', status: 'active', presence: 'unknown', devices: 1 },
      { kind: 'stake', status: 'revoked', presence: 'offline', devices: 1 },
    ]);
    expect(await state.devices.deviceFleetCounts({ borrowerId: 'b2' })).toEqual([
      { kind: 'helmet', status: 'active', presence: 'online', devices: 1 },
    ]);
    expect(await state.devices.deviceFleetCounts({ kind: 'satellite' })).toEqual([]);
    expect(await state.devices.deviceIds({ kind: 'stake', status: 'active' })).toEqual([
      { id: 'stk-1', kind: 'stake' },
      { id: 'stk-2', kind: 'stake' },
      { id: 'stk-3', kind: 'stake' },
    ]);
    expect((await state.devices.deviceIds({ borrowerId: 'b2' })).map((x) => x.id)).toEqual(['hlm-2']);
    expect(await state.devices.deviceIds()).toHaveLength(6);

    const ids = async (q: Parameters<State['devices']['queryDevices']>[0]) =>
      (await state.devices.queryDevices(q)).map((x) => x.id);
    expect(await ids({ limit: 10, presence: 'offline' })).toEqual(['stk-2', 'stk-4']);
    expect(await ids({ limit: 10, presence: 'offline', status: 'active' })).toEqual(['stk-2']);
    expect(await ids({ limit: 10, presence: 'online' })).toEqual(['hlm-2', 'stk-1']);
    expect(await ids({ limit: 10, presence: 'unknown' })).toEqual(['hlm-1', 'stk-3']);
    expect(await ids({ limit: 10, kind: 'helmet', siteId: 's1' })).toEqual(['hlm-1']);
    expect(await ids({ limit: 10, borrowerId: 'b2' })).toEqual(['hlm-2']);
    // Keyset paging by id holds with the join.
    expect(await ids({ limit: 1, presence: 'online' })).toEqual(['hlm-2']);
    expect(await ids({ limit: 1, presence: 'online', afterId: 'hlm-2' })).toEqual(['stk-1']);
    expect(await ids({ limit: 1, presence: 'online', afterId: 'stk-1' })).toEqual([]);
  });

  it('when devices are listed, then borrower and kind filter them, in id order', async () => {
    const state = await open();
    await state.portfolio.upsertBorrowers([borrower('b2')]);
    await state.portfolio.upsertSites([site('s2', 'b2')]);
    await state.devices.upsertDevices([
      device('sat-1', { kind: 'satellite' }),
      device('stk-2', { borrowerId: 'b2', siteId: 's2' }),
      device('stk-1'),
    ]);
    const ids = async (f?: Parameters<State['devices']['listDevices']>[0]) =>
      (await state.devices.listDevices(f)).map((x) => x.id);
    expect(await ids()).toEqual(['sat-1', 'stk-1', 'stk-2']);
    expect(await ids({ borrowerId: 'b1' })).toEqual(['sat-1', 'stk-1']);
    expect(await ids({ kind: 'stake' })).toEqual(['stk-1', 'stk-2']);
    expect(await ids({ borrowerId: 'b1', kind: 'stake' })).toEqual(['stk-1']);
  });
});

describe.each(STATE_BACKENDS)('presence repository on %s', (backend) => {
  it('when presence updates arrive out of order, then the newest one wins', async () => {
    const state = await backend.open();
    await state.presence.setPresence([{ deviceId: 'd1', status: 'offline', changedAt: 200 }]);
    await state.presence.setPresence([{ deviceId: 'd1', status: 'online', changedAt: 100 }]);
    expect(await state.presence.listPresence()).toEqual([
      { deviceId: 'd1', status: 'offline', changedAt: 200 },
    ]);
    await state.presence.setPresence([{ deviceId: 'd1', status: 'online', changedAt: 200 }]);
    expect(await state.presence.listPresence()).toEqual([
      { deviceId: 'd1', status: 'online', changedAt: 200 },
    ]);
  });

  it('when one batch holds several changes of a device, then the newest wins, and the last of equally new ones', async () => {
    const state = await backend.open();
    await state.presence.setPresence([{ deviceId: 'd3', status: 'online', changedAt: 500 }]);
    await state.presence.setPresence([
      { deviceId: 'd1', status: 'online', changedAt: 300 },
      { deviceId: 'd2', status: 'online', changedAt: 100 },
      { deviceId: 'd1', status: 'offline', changedAt: 100 },
      { deviceId: 'd2', status: 'offline', changedAt: 100 },
      { deviceId: 'd3', status: 'offline', changedAt: 400 },
    ]);
    expect(await state.presence.listPresence()).toEqual([
      { deviceId: 'd1', status: 'online', changedAt: 300 },
      { deviceId: 'd2', status: 'offline', changedAt: 100 },
      { deviceId: 'd3', status: 'online', changedAt: 500 },
    ]);
  });

  it('when presence is asked for some devices, then only the known ones come back, in id order', async () => {
    const state = await backend.open();
    await state.presence.setPresence([
      { deviceId: 'd2', status: 'online', changedAt: T0 },
      { deviceId: 'd1', status: 'offline', changedAt: T0 + 1 },
      { deviceId: 'd3', status: 'online', changedAt: T0 + 2 },
    ]);
    expect(await state.presence.getPresence(['d3', 'nope', 'd1', 'd3'])).toEqual([
      { deviceId: 'd1', status: 'offline', changedAt: T0 + 1 },
      { deviceId: 'd3', status: 'online', changedAt: T0 + 2 },
    ]);
    expect(await state.presence.getPresence([])).toEqual([]);
    expect(await state.presence.getPresence(["d1' OR '1'='1"])).toEqual([]);
    const many = Array.from({ length: 2_000 }, (_, i) => `x${String(i)}`);
    expect((await state.presence.getPresence([...many, 'd2'])).map((p) => p.deviceId)).toEqual(['d2']);
  });
});
