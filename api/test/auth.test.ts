import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { issueApiKey, parseApiKey } from '../../core/credentials.js';
import { silentLogger } from '../../core/logger.js';
import { API_ROLES } from '../../core/state/index.js';
import { openTestState } from '../../core/state/test/backends.js';
import { registeredRoutes } from '../app.js';
import { bootstrapAdminKey, LastUsedRecorder } from '../auth.js';
import { apiMain } from '../main.js';
import { PERMISSIONS, PUBLIC_PREFIXES, accessFor } from '../permissions.js';
import { seedPortfolio, startTestApi, T0, type TestApi } from './support.js';

/** A path for a route pattern: parameters filled with ids that exist nowhere (and match their patterns). */
function concrete(url: string): string {
  if (url.startsWith('/v1/api-keys/')) return url.replace(':id', '0000000000000000');
  if (url.startsWith('/v1/devices/')) return url.replace(':id', 'dev-none');
  if (url.startsWith('/v1/models/')) return url.replace(':version', 'v999');
  // The live stream would never end: ask for the stored backlog only.
  if (url === '/v1/alerts/stream') return `${url}?follow=false`;
  if (url.startsWith('/v1/webhooks/subscriptions/')) return url.replace(':id', 'wh_0000000000000000');
  if (url.startsWith('/v1/webhooks/deliveries/')) return url.replace(':id', '999999');
  return url.replace(/:(\w+)/g, 'none');
}

const mutating = (method: string) => method !== 'GET';

describe('auth matrix (api/permissions.ts)', () => {
  let t: TestApi;
  beforeAll(async () => {
    t = await startTestApi({ withRisk: true });
    await seedPortfolio(t.state);
  });
  afterAll(() => t.close());

  it('when the app is built, then every route it registered is in the permission table and vice versa', () => {
    // Static assets under the public prefixes (docs UI, dashboard) are public by prefix, not listed.
    const underPublic = (url: string) => PUBLIC_PREFIXES.some((p) => url === p || url.startsWith(`${p}/`));
    const registered = registeredRoutes(t.app).filter((r) => !underPublic(r.url));
    const missing = registered.filter((r) => PERMISSIONS[`${r.method} ${r.url}`] === undefined);
    expect(missing).toEqual([]);
    const keys = new Set(registered.map((r) => `${r.method} ${r.url}`));
    const unregistered = Object.keys(PERMISSIONS).filter((k) => !keys.has(k));
    expect(unregistered).toEqual([]);
  });

  const routes = Object.entries(PERMISSIONS).map(([key, access]) => {
    const [method = '', url = ''] = key.split(' ');
    return { method, url, access };
  });

  for (const { method, url, access } of routes) {
    for (const role of API_ROLES) {
      const allowed = access === 'public' || access.includes(role);
      it(`when ${role} calls ${method} ${url}, then it is ${allowed ? 'allowed' : 'refused with 403'}`, async () => {
        const res = await t.app.inject({
          method: method as 'GET',
          url: concrete(url),
          headers: t.auth(role),
          ...(mutating(method) && !url.endsWith('/rotate') && !url.endsWith('/revoke')
            ? { payload: {} }
            : {}),
        });
        if (allowed) {
          expect([401, 403]).not.toContain(res.statusCode);
        } else {
          expect(res.statusCode).toBe(403);
          expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
          expect(res.json()).toMatchObject({ code: 'FORBIDDEN', status: 403 });
        }
      });
    }
    if (access !== 'public') {
      it(`when ${method} ${url} is called without a key, then 401 with WWW-Authenticate`, async () => {
        const res = await t.app.inject({ method: method as 'GET', url: concrete(url) });
        expect(res.statusCode).toBe(401);
        expect(res.headers['www-authenticate']).toMatch(/^Bearer/);
        expect(res.json()).toMatchObject({ code: 'UNAUTHENTICATED', status: 401 });
      });
    }
  }

  it('when a route is missing from the table, then it is refused to everyone (fail closed)', () => {
    expect(accessFor('GET', '/v1/not-in-table')).toBeUndefined();
    expect(accessFor('HEAD', '/v1/borrowers')).toEqual(PERMISSIONS['GET /v1/borrowers']);
  });
});

describe('API keys', () => {
  let t: TestApi;
  beforeAll(async () => {
    t = await startTestApi();
  });
  afterAll(() => t.close());

  it('when a key is sent as X-API-Key, then it authenticates like a bearer token', async () => {
    const res = await t.app.inject({ url: '/v1/borrowers', headers: { 'x-api-key': t.keys.officer } });
    expect(res.statusCode).toBe(200);
  });

  it('when a key is malformed, unknown or has a wrong secret, then 401 and nothing about which', async () => {
    const wrongSecret = t.keys.officer.slice(0, -1) + (t.keys.officer.endsWith('A') ? 'B' : 'A');
    for (const key of ['nonsense', 'rfk_0000000000000000_' + 'A'.repeat(43), wrongSecret, "' OR 1=1 --"]) {
      const res = await t.app.inject({ url: '/v1/borrowers', headers: { authorization: `Bearer ${key}` } });
      expect(res.statusCode, key).toBe(401);
      expect(res.json<{ detail: string }>().detail).toBe('the API key is not valid or has been revoked');
    }
  });

  it('when an admin creates a key, then it works at once, is listed without its secret, and the audit log has it', async () => {
    const res = await t.app.inject({
      method: 'POST',
      url: '/v1/api-keys',
      headers: t.auth('admin'),
      payload: { name: 'night batch', role: 'officer' },
    });
    expect(res.statusCode).toBe(201);
    const { apiKey, key } = res.json<{ apiKey: { id: string }; key: string }>();
    expect(key).toMatch(/^rfk_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$/);
    const use = await t.app.inject({ url: '/v1/loans', headers: { authorization: `Bearer ${key}` } });
    expect(use.statusCode).toBe(200);
    const list = await t.app.inject({ url: '/v1/api-keys', headers: t.auth('auditor') });
    expect(list.body).not.toContain(key.slice('rfk_0123456789abcdef_'.length));
    expect(list.json<{ items: { id: string; name: string }[] }>().items.map((k) => k.name)).toContain(
      'night batch',
    );
    const audit = await t.app.inject({
      url: `/v1/audit?resource=api-key&resourceId=${apiKey.id}`,
      headers: t.auth('auditor'),
    });
    expect(audit.json<{ items: unknown[] }>().items[0]).toMatchObject({
      action: 'create',
      actorRole: 'admin',
      after: { id: apiKey.id, role: 'officer' },
    });
  });

  it('when a key is rotated, then the new one works, the old one is refused, and the new one names the old', async () => {
    const created = await t.app.inject({
      method: 'POST',
      url: '/v1/api-keys',
      headers: t.auth('admin'),
      payload: { name: 'to rotate', role: 'auditor' },
    });
    const old = created.json<{ apiKey: { id: string }; key: string }>();
    // Used before the rotation, so this process has verified (and cached) it.
    expect(
      (await t.app.inject({ url: '/v1/audit', headers: { authorization: `Bearer ${old.key}` } })).statusCode,
    ).toBe(200);
    const rotated = await t.app.inject({
      method: 'POST',
      url: `/v1/api-keys/${old.apiKey.id}/rotate`,
      headers: t.auth('admin'),
    });
    expect(rotated.statusCode).toBe(201);
    const fresh = rotated.json<{ apiKey: { id: string; rotatedFrom: string; role: string }; key: string }>();
    expect(fresh.apiKey).toMatchObject({ rotatedFrom: old.apiKey.id, role: 'auditor' });
    expect(
      (await t.app.inject({ url: '/v1/audit', headers: { authorization: `Bearer ${old.key}` } })).statusCode,
    ).toBe(401);
    expect(
      (await t.app.inject({ url: '/v1/audit', headers: { authorization: `Bearer ${fresh.key}` } }))
        .statusCode,
    ).toBe(200);
  });

  it('when a key is revoked, then it is refused on the next request, and revoking again is a 409', async () => {
    const res = await t.app.inject({
      method: 'POST',
      url: '/v1/api-keys',
      headers: t.auth('admin'),
      payload: { name: 'temp', role: 'device-ops' },
    });
    const { apiKey, key } = res.json<{ apiKey: { id: string }; key: string }>();
    expect(
      (await t.app.inject({ url: '/v1/devices', headers: { authorization: `Bearer ${key}` } })).statusCode,
    ).toBe(200);
    const revoked = await t.app.inject({
      method: 'DELETE',
      url: `/v1/api-keys/${apiKey.id}`,
      headers: t.auth('admin'),
    });
    expect(revoked.statusCode).toBe(200);
    expect(revoked.json<{ revokedAt: number }>().revokedAt).toBeGreaterThan(0);
    expect(
      (await t.app.inject({ url: '/v1/devices', headers: { authorization: `Bearer ${key}` } })).statusCode,
    ).toBe(401);
    const again = await t.app.inject({
      method: 'DELETE',
      url: `/v1/api-keys/${apiKey.id}`,
      headers: t.auth('admin'),
    });
    expect(again.statusCode).toBe(409);
  });

  it('when the last active admin key would be revoked, then 409 and it still works', async () => {
    const list = await t.app.inject({ url: '/v1/api-keys', headers: t.auth('admin') });
    const admin = list
      .json<{ items: { id: string; role: string; revokedAt?: number }[] }>()
      .items.find((k) => k.role === 'admin' && k.revokedAt === undefined);
    const res = await t.app.inject({
      method: 'DELETE',
      url: `/v1/api-keys/${admin?.id ?? ''}`,
      headers: t.auth('admin'),
    });
    expect(res.statusCode).toBe(409);
    expect(res.json<{ detail: string }>().detail).toMatch(/last active admin key/);
    expect((await t.app.inject({ url: '/v1/api-keys', headers: t.auth('admin') })).statusCode).toBe(200);
  });
});

describe('API key cache (api/api-key-cache.ts)', () => {
  /** Revokes the role's key straight in the shared store, as another API process would. */
  const revokeElsewhere = async (t: TestApi, role: 'auditor' | 'device-ops') => {
    const id = parseApiKey(t.keys[role])?.id ?? '';
    expect(await t.state.apiKeys.revokeApiKey(id, Date.now())).toBe(true);
  };
  const status = async (t: TestApi, key: string) =>
    (await t.app.inject({ url: '/v1/me', headers: { authorization: `Bearer ${key}` } })).statusCode;

  it('when a key is revoked by another process sharing the store, then this one refuses it within API_KEY_CACHE_MS', async () => {
    const t = await startTestApi({ env: { API_KEY_CACHE_MS: '500' } });
    try {
      expect(await status(t, t.keys.auditor)).toBe(200);
      const revokedAt = performance.now();
      await revokeElsewhere(t, 'auditor');
      while ((await status(t, t.keys.auditor)) === 200) {
        await new Promise((r) => setTimeout(r, 25));
      }
      // The bound, plus room for a slow request on a loaded machine.
      expect(performance.now() - revokedAt).toBeLessThan(500 + 1000);
      expect(await status(t, t.keys.auditor)).toBe(401);
    } finally {
      await t.close();
    }
  });

  it('when API_KEY_CACHE_MS is 0 and a key is revoked by another process, then the very next request is refused', async () => {
    const t = await startTestApi({ env: { API_KEY_CACHE_MS: '0' } });
    try {
      expect(await status(t, t.keys['device-ops'])).toBe(200);
      await revokeElsewhere(t, 'device-ops');
      expect(await status(t, t.keys['device-ops'])).toBe(401);
    } finally {
      await t.close();
    }
  });

  it('when a cached key id comes with another secret, then 401: the secret is checked on every request', async () => {
    const t = await startTestApi({ env: { API_KEY_CACHE_MS: '60000' } });
    try {
      expect(await status(t, t.keys.officer)).toBe(200);
      const id = parseApiKey(t.keys.officer)?.id ?? '';
      expect(await status(t, `rfk_${id}_${'A'.repeat(43)}`)).toBe(401);
      expect(await status(t, t.keys.officer)).toBe(200);
    } finally {
      await t.close();
    }
  });
});

describe('last-used times (LastUsedRecorder)', () => {
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

  it('when a key is used, then the caller does not wait for the write, the time is written in one batch within the flush interval, and a failed write is noted again on the next use', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'riskfuse-last-used-'));
    const state = await openTestState(dir);
    try {
      const ids: string[] = [];
      for (const name of ['a', 'b']) {
        const issued = issueApiKey();
        await state.apiKeys.createApiKey({ id: issued.id, name, role: 'auditor', createdAt: T0 }, issued);
        ids.push(issued.id);
      }
      const [a = '', b = ''] = ids;
      let failNext = false;
      let transactions = 0;
      const recorder = new LastUsedRecorder(
        state.apiKeys,
        async (fn) => {
          transactions += 1;
          if (failNext) {
            failNext = false;
            throw new Error('disk full');
          }
          return state.transaction(fn);
        },
        silentLogger,
        100,
      );
      recorder.used(a, T0 + 1000);
      recorder.used(b, T0 + 2000);
      // Noted, not written: nothing a request would have waited for.
      expect((await state.apiKeys.getApiKey(a))?.lastUsedAt).toBeUndefined();
      await sleep(400);
      expect((await state.apiKeys.getApiKey(a))?.lastUsedAt).toBe(T0 + 1000);
      expect((await state.apiKeys.getApiKey(b))?.lastUsedAt).toBe(T0 + 2000);
      expect(transactions).toBe(1);

      // Within the minute: not noted again.
      recorder.used(a, T0 + 30_000);
      await recorder.flush();
      expect((await state.apiKeys.getApiKey(a))?.lastUsedAt).toBe(T0 + 1000);

      // A failed write is not lost for good: the next use notes the key again.
      failNext = true;
      recorder.used(a, T0 + 70_000);
      await recorder.flush();
      expect((await state.apiKeys.getApiKey(a))?.lastUsedAt).toBe(T0 + 1000);
      recorder.used(a, T0 + 71_000);
      await recorder.flush();
      expect((await state.apiKeys.getApiKey(a))?.lastUsedAt).toBe(T0 + 71_000);
    } finally {
      await state.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('first start', () => {
  it('when there is no key and API_ADMIN_KEY is set, then that key becomes the admin key and nothing is generated', async () => {
    const given = `rfk_${'ab'.repeat(8)}_${'x'.repeat(43)}`;
    const t = await startTestApi();
    try {
      const fresh = await openTestState(join(t.dir, 'fresh'));
      const empty = await openTestState(join(t.dir, 'empty'));
      try {
        const boot = await bootstrapAdminKey(fresh, given, T0);
        expect(boot).toMatchObject({
          created: true,
          generated: undefined,
          key: { id: 'ab'.repeat(8), role: 'admin' },
        });
        expect(await bootstrapAdminKey(fresh, given, T0)).toEqual({ created: false });
        await expect(bootstrapAdminKey(empty, 'not-a-key', T0)).rejects.toThrow(/API_ADMIN_KEY/);
        expect(await empty.apiKeys.listApiKeys()).toEqual([]);
      } finally {
        await fresh.close();
        await empty.close();
      }
    } finally {
      await t.close();
    }
  });

  it('when the API starts on an empty store, then it prints a generated admin key once, and not again on restart', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rf-api-main-'));
    const env = { DATA_DIR: dir, API_PORT: '0', API_HOST: '127.0.0.1', LOG_LEVEL: 'silent' };
    const printed: string[] = [];
    try {
      const first = await apiMain(env, {
        installSignalHandlers: false,
        log: silentLogger,
        printKey: (l) => printed.push(l),
      });
      expect(printed).toHaveLength(1);
      const key = /(rfk_\S+)/.exec(printed[0] ?? '')?.[1] ?? '';
      const res = await fetch(`${first.url}/v1/api-keys`, { headers: { authorization: `Bearer ${key}` } });
      expect(res.status).toBe(200);
      await first.close();
      const second = await apiMain(env, {
        installSignalHandlers: false,
        log: silentLogger,
        printKey: (l) => printed.push(l),
      });
      expect(printed).toHaveLength(1);
      expect(second.generatedAdminKey).toBeUndefined();
      await second.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('rate limits', () => {
  it('when one key goes over API_RATE_LIMIT_PER_MIN, then it gets 429 problems while another key is unaffected', async () => {
    const t = await startTestApi({ env: { API_RATE_LIMIT_PER_MIN: '3' } });
    try {
      const codes: number[] = [];
      for (let i = 0; i < 4; i++)
        codes.push((await t.app.inject({ url: '/v1/borrowers', headers: t.auth('officer') })).statusCode);
      expect(codes).toEqual([200, 200, 200, 429]);
      const limited = await t.app.inject({ url: '/v1/borrowers', headers: t.auth('officer') });
      expect(limited.json()).toMatchObject({ code: 'RATE_LIMITED', status: 429 });
      expect(limited.headers['retry-after']).toBeDefined();
      expect((await t.app.inject({ url: '/v1/borrowers', headers: t.auth('auditor') })).statusCode).toBe(200);
      expect((await t.app.inject({ url: '/health' })).statusCode).toBe(200);
    } finally {
      await t.close();
    }
  });
});
