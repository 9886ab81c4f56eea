import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  issueApiKey,
  issueToken,
  makeCredentials,
  parseApiKey,
  verifyApiKeySecret,
  verifyToken,
} from '../credentials.js';
import { openSqliteStateStore, type SqliteStateStore } from '../storage/sqlite-state-store.js';

const T0 = Date.UTC(2026, 0, 1);

describe('SQLite state store', () => {
  let dir: string;
  let store: SqliteStateStore;
  const path = () => join(dir, 'state.db');

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'rf-state-'));
    store = openSqliteStateStore(path());
    store.upsertBorrowers([
      { id: 'b1', name: 'Grain Co', sector: 'trading', region: 'north', createdAt: T0 },
    ]);
    store.upsertSites([
      {
        id: 's1',
        borrowerId: 'b1',
        name: 'Depot',
        kind: 'warehouse',
        lat: 1,
        lon: 2,
        geofence: [
          [0, 0],
          [0, 1],
          [1, 1],
        ],
      },
    ]);
    store.upsertLots([
      {
        id: 'l1',
        borrowerId: 'b1',
        siteId: 's1',
        commodity: 'wheat',
        pledgedWeightKg: 1000,
        unitPricePerKg: 0.3,
        currency: 'EUR',
        pledgedAt: T0,
      },
    ]);
  });
  afterEach(() => {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('when a device is registered, then only a salted hash of its token is stored and it verifies', () => {
    const token = issueToken();
    const device = {
      id: 'stk-1',
      kind: 'stake',
      borrowerId: 'b1',
      siteId: 's1',
      lotId: 'l1',
      status: 'active',
      createdAt: T0,
    } as const;
    store.upsertDevices([{ device, credentials: makeCredentials('stk-1', token) }]);
    expect(store.getDevice('stk-1')).toEqual(device);
    const creds = store.getCredentials('stk-1');
    expect(creds && verifyToken(token, creds)).toBe(true);
    expect(creds && verifyToken(`${token}x`, creds)).toBe(false);
    const raw = new Database(path(), { readonly: true });
    const dump = JSON.stringify(raw.prepare('SELECT * FROM devices').all());
    raw.close();
    expect(dump).not.toContain(token);
  });

  it('when a device is revoked, then it has no usable credentials but stays in the registry', () => {
    store.upsertDevices([
      {
        device: {
          id: 'hlm-1',
          kind: 'helmet',
          borrowerId: 'b1',
          siteId: 's1',
          status: 'active',
          createdAt: T0,
        },
        credentials: makeCredentials('hlm-1', issueToken()),
      },
    ]);
    expect(store.revokeDevice('hlm-1', T0 + 1)).toBe(true);
    expect(store.revokeDevice('hlm-1', T0 + 2)).toBe(false);
    expect(store.getCredentials('hlm-1')).toBeUndefined();
    expect(store.getDevice('hlm-1')?.status).toBe('revoked');
  });

  it('when a batch references an unknown site, then nothing of the batch is written', () => {
    expect(() =>
      store.upsertLots([
        {
          id: 'l2',
          borrowerId: 'b1',
          siteId: 's1',
          commodity: 'corn',
          pledgedWeightKg: 1,
          unitPricePerKg: 1,
          currency: 'EUR',
          pledgedAt: T0,
        },
        {
          id: 'l3',
          borrowerId: 'b1',
          siteId: 'nope',
          commodity: 'corn',
          pledgedWeightKg: 1,
          unitPricePerKg: 1,
          currency: 'EUR',
          pledgedAt: T0,
        },
      ]),
    ).toThrow(/FOREIGN KEY/);
    expect(store.listLots().map((l) => l.id)).toEqual(['l1']);
  });

  it('when the store is reopened, then migrations are not re-run and data persists', () => {
    const version = store.schemaVersion();
    expect(version).toBeGreaterThanOrEqual(2);
    store.addDeadLetters([
      { receivedAt: T0, topic: 't', reason: 'MALFORMED_JSON', detail: 'x', payload: '{' },
    ]);
    store.close();
    store = openSqliteStateStore(path());
    expect(store.schemaVersion()).toBe(version);
    expect(store.countDeadLetters('MALFORMED_JSON')).toBe(1);
    expect(store.listSites('b1')[0]?.geofence).toEqual([
      [0, 0],
      [0, 1],
      [1, 1],
    ]);
  });

  it('when the file was written by a newer riskfuse, then opening it fails with a clear error', () => {
    store.close();
    const raw = new Database(path());
    raw.pragma('user_version = 999');
    raw.close();
    expect(() => openSqliteStateStore(path())).toThrow(/newer than this riskfuse/);
    store = openSqliteStateStore(':memory:');
  });

  it('when presence updates arrive out of order, then the newest one wins', () => {
    store.setPresence([{ deviceId: 'd1', status: 'offline', changedAt: 200 }]);
    store.setPresence([{ deviceId: 'd1', status: 'online', changedAt: 100 }]);
    expect(store.listPresence()).toEqual([{ deviceId: 'd1', status: 'offline', changedAt: 200 }]);
  });

  it('when devices are counted by kind, status and presence, then one row per combination with the exact count', () => {
    store.upsertBorrowers([
      { id: 'b2', name: 'Steel', sector: 'manufacturing', region: 'south', createdAt: T0 },
    ]);
    store.upsertSites([
      { id: 's2', borrowerId: 'b2', name: 'Mill', kind: 'factory', lat: 0, lon: 0, geofence: [] },
    ]);
    const device = (id: string, kind: 'stake' | 'helmet', borrowerId = 'b1') => ({
      device: {
        id,
        kind,
        borrowerId,
        siteId: borrowerId === 'b1' ? 's1' : 's2',
        status: 'active' as const,
        createdAt: T0,
      },
      credentials: makeCredentials(id, 'token'),
    });
    store.upsertDevices([
      device('stk-1', 'stake'),
      device('stk-2', 'stake'),
      device('stk-3', 'stake'),
      device('stk-4', 'stake'),
      device('hlm-1', 'helmet'),
      device('hlm-2', 'helmet', 'b2'),
    ]);
    store.revokeDevice('stk-4', T0 + 1);
    store.setPresence([
      { deviceId: 'stk-1', status: 'online', changedAt: T0 },
      { deviceId: 'stk-2', status: 'offline', changedAt: T0 },
      { deviceId: 'stk-4', status: 'offline', changedAt: T0 },
      { deviceId: 'hlm-2', status: 'online', changedAt: T0 },
      // Presence of a device the registry does not know counts nowhere.
      { deviceId: 'ghost', status: 'online', changedAt: T0 },
    ]);
    expect(store.deviceFleetCounts()).toEqual([
      { kind: 'helmet', status: 'active', presence: 'online', devices: 1 },
      { kind: 'helmet', status: 'active', presence: 'unknown', devices: 1 },
      { kind: 'stake', status: 'active', presence: 'offline', devices: 1 },
      { kind: 'stake', status: 'active', presence: 'online', devices: 1 },
      { kind: 'stake', status: 'active', presence: 'unknown', devices: 1 },
      { kind: 'stake', status: 'revoked', presence: 'offline', devices: 1 },
    ]);
    expect(store.deviceFleetCounts({ borrowerId: 'b2' })).toEqual([
      { kind: 'helmet', status: 'active', presence: 'online', devices: 1 },
    ]);
    expect(store.deviceFleetCounts({ kind: 'satellite' })).toEqual([]);
    expect(store.deviceIds({ kind: 'stake', status: 'active' })).toEqual([
      { id: 'stk-1', kind: 'stake' },
      { id: 'stk-2', kind: 'stake' },
      { id: 'stk-3', kind: 'stake' },
    ]);

    const ids = (q: Parameters<SqliteStateStore['queryDevices']>[0]) =>
      store.queryDevices(q).map((d) => d.id);
    expect(ids({ limit: 10, presence: 'offline' })).toEqual(['stk-2', 'stk-4']);
    expect(ids({ limit: 10, presence: 'offline', status: 'active' })).toEqual(['stk-2']);
    expect(ids({ limit: 10, presence: 'online' })).toEqual(['hlm-2', 'stk-1']);
    expect(ids({ limit: 10, presence: 'unknown' })).toEqual(['hlm-1', 'stk-3']);
    // Keyset paging by id holds with the join.
    expect(ids({ limit: 1, presence: 'online' })).toEqual(['hlm-2']);
    expect(ids({ limit: 1, presence: 'online', afterId: 'hlm-2' })).toEqual(['stk-1']);
    expect(ids({ limit: 1, presence: 'online', afterId: 'stk-1' })).toEqual([]);
  });

  it('when the loan book is written, then loans and their schedules read back in due order', () => {
    store.upsertLoans([
      {
        id: 'ln1',
        borrowerId: 'b1',
        principal: 1e5,
        currency: 'EUR',
        annualRatePct: 8,
        startAt: T0,
        termDays: 360,
        status: 'active',
      },
    ]);
    store.upsertRepayments([
      { id: 'r2', loanId: 'ln1', dueAt: T0 + 2, amountDue: 10, amountPaid: 0 },
      { id: 'r1', loanId: 'ln1', dueAt: T0 + 1, amountDue: 10, paidAt: T0 + 1, amountPaid: 10 },
    ]);
    expect(store.listRepayments('ln1').map((r) => r.id)).toEqual(['r1', 'r2']);
    expect(store.listLoans('b1')[0]?.status).toBe('active');
  });

  it('when an API key is created, then only its salted hash is stored, it verifies, and revoking it disables it', () => {
    const issued = issueApiKey();
    store.createApiKey(
      { id: issued.id, name: 'ops', role: 'officer', createdAt: T0 },
      { salt: issued.salt, keyHash: issued.keyHash },
    );
    const parsed = parseApiKey(issued.key);
    expect(parsed?.id).toBe(issued.id);
    const creds = store.getApiKeyCredentials(issued.id);
    expect(creds && parsed && verifyApiKeySecret(parsed.secret, creds)).toBe(true);
    expect(creds && verifyApiKeySecret(`${parsed?.secret ?? ''}x`, creds)).toBe(false);
    const raw = new Database(path(), { readonly: true });
    const dump = JSON.stringify(raw.prepare('SELECT * FROM api_keys').all());
    raw.close();
    expect(dump).not.toContain(parsed?.secret);
    expect(store.countActiveApiKeys('officer')).toBe(1);
    expect(store.revokeApiKey(issued.id, T0 + 1)).toBe(true);
    expect(store.revokeApiKey(issued.id, T0 + 2)).toBe(false);
    expect(store.getApiKeyCredentials(issued.id)).toBeUndefined();
    expect(store.getApiKey(issued.id)?.revokedAt).toBe(T0 + 1);
    expect(store.countActiveApiKeys()).toBe(0);
  });

  it('when the audit log is written, then entries read back newest first and UPDATE or DELETE is refused', () => {
    const first = store.appendAudit({
      at: T0,
      actorKeyId: 'k1',
      actorRole: 'admin',
      action: 'update',
      resource: 'borrower',
      resourceId: 'b1',
      before: { name: 'Grain Co' },
      after: { name: 'Grain Co Ltd' },
      requestId: 'req-1',
    });
    store.appendAudit({ at: T0 + 1, action: 'create', resource: 'api-key', resourceId: 'k2' });
    const all = store.listAudit({ limit: 10 });
    expect(all.map((e) => e.id)).toEqual([first + 1, first]);
    expect(all[1]).toMatchObject({ before: { name: 'Grain Co' }, after: { name: 'Grain Co Ltd' } });
    expect(store.listAudit({ limit: 10, beforeId: first + 1 }).map((e) => e.id)).toEqual([first]);
    expect(store.listAudit({ limit: 10, resource: 'api-key' })).toHaveLength(1);
    expect(() => store.db.prepare('UPDATE audit_log SET action = ?').run('x')).toThrow(/append-only/);
    expect(() => store.db.prepare('DELETE FROM audit_log').run()).toThrow(/append-only/);
    expect(store.listAudit({ limit: 10 })).toHaveLength(2);
  });

  it('when a portfolio item has dependents, then they are counted and the delete is refused', () => {
    expect(store.dependents('borrower', 'b1')).toEqual({ sites: 1, lots: 1 });
    expect(store.dependents('site', 's1')).toEqual({ lots: 1 });
    expect(store.dependents('lot', 'l1')).toEqual({});
    expect(() => store.deletePortfolioItem('borrower', 'b1')).toThrow(/FOREIGN KEY/);
    expect(store.deletePortfolioItem('lot', 'l1')).toBe(true);
    expect(store.deletePortfolioItem('lot', 'l1')).toBe(false);
    expect(store.deletePortfolioItem('site', 's1')).toBe(true);
    expect(store.deletePortfolioItem('borrower', 'b1')).toBe(true);
    expect(store.listBorrowers()).toEqual([]);
  });

  it('when borrowers are paged by name, then every one is seen once in order, and LIKE characters are literal', () => {
    const names = ['delta', 'alpha', 'charlie', 'bravo', 'alpha', "x' OR 1=1 --", '100%_sure'];
    store.upsertBorrowers(
      names.map((name, i) => ({ id: `bx${i}`, name, sector: 'trading', region: 'r', createdAt: T0 + i })),
    );
    const seen: string[] = [];
    let after: { value: string; id: string } | undefined;
    for (;;) {
      const page = store.queryBorrowers({ limit: 3, sort: 'name', ...(after ? { after } : {}) });
      seen.push(...page.map((b) => `${b.name}/${b.id}`));
      const last = page.at(-1);
      if (page.length < 3 || last === undefined) break;
      after = { value: last.name, id: last.id };
    }
    const expected = [...names.map((name, i) => `${name}/bx${i}`), 'Grain Co/b1'].sort((a, b) =>
      a < b ? -1 : a > b ? 1 : 0,
    );
    expect(seen).toEqual(expected);
    expect(store.queryBorrowers({ limit: 10, q: '%' }).map((b) => b.id)).toEqual(['bx6']);
    expect(store.queryBorrowers({ limit: 10, q: "' OR 1=1 --" }).map((b) => b.id)).toEqual(['bx5']);
    expect(store.queryBorrowers({ limit: 2, sort: 'createdAt', desc: true }).map((b) => b.id)).toEqual([
      'bx6',
      'bx5',
    ]);
  });

  it('when the schema is current, then it is at migration 8 (API keys and audit log, the model registry and scores, the event outbox, alerts, webhooks, score inputs)', () => {
    expect(store.schemaVersion()).toBe(8);
  });
});
