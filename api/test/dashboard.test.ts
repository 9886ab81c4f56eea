import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApi, type TestApi } from './support.js';
import type { ApiRole } from '../../core/state/index.js';
import { PERMISSIONS } from '../permissions.js';

describe('dashboard assets and GET /v1/me', () => {
  let t: TestApi;
  beforeAll(async () => {
    t = await startTestApi();
  });
  afterAll(() => t.close());

  it('when / or /dashboard is opened, then it redirects to /dashboard/', async () => {
    for (const url of ['/', '/dashboard']) {
      const res = await t.app.inject(url);
      expect(res.statusCode, url).toBe(302);
      expect(res.headers.location).toBe('/dashboard/');
    }
  });

  it('when the page and its libraries are fetched without a key, then they are served with the default CSP', async () => {
    const page = await t.app.inject('/dashboard/');
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-type']).toMatch(/^text\/html/);
    expect(page.headers['content-security-policy']).toMatch(/script-src 'self'/);
    for (const url of [
      '/dashboard/app.js',
      '/dashboard/style.css',
      '/dashboard/vendor/uplot/uPlot.esm.js',
      '/dashboard/vendor/uplot/uPlot.min.css',
      '/dashboard/vendor/leaflet/leaflet-src.esm.js',
      '/dashboard/vendor/leaflet/leaflet.css',
    ]) {
      expect((await t.app.inject(url)).statusCode, url).toBe(200);
    }
  });

  it('when the page is loaded, then it names its files under a version the browser may keep for good, and a 404 there is not kept', async () => {
    const page = await t.app.inject('/dashboard/');
    expect(page.headers['cache-control']).toBe('no-cache');
    const version = /src="r\/([\w-]+)\/app\.js"/.exec(page.body)?.[1] ?? '';
    expect(version).not.toBe('');
    // Every relative link of the page is versioned; anchors are not.
    expect(page.body).not.toMatch(/(src|href)="(?!r\/|#)/);
    for (const file of ['app.js', 'core/api.js', 'vendor/uplot/uPlot.esm.js', 'vendor/leaflet/leaflet.css']) {
      const res = await t.app.inject(`/dashboard/r/${version}/${file}`);
      expect(res.statusCode, file).toBe(200);
      expect(res.headers['cache-control'], file).toBe('public, max-age=31536000, immutable');
    }
    // Another version's link (a page loaded before a release) still works, revalidated.
    const old = await t.app.inject('/dashboard/r/0ld/app.js');
    expect(old.statusCode).toBe(200);
    expect(old.headers['cache-control']).toBe('no-cache');
    for (const file of [
      'test/dashboard.e2e.test.ts',
      'tsconfig.json',
      'api-types.d.ts',
      '%2e%2e/package.json',
      'vendor/uplot/%2e%2e/package.json',
      'nothing.js',
    ]) {
      const res = await t.app.inject(`/dashboard/r/${version}/${file}`);
      expect(res.statusCode, file).toBe(404);
      expect(res.headers['cache-control'], file).toBeUndefined();
    }
  });

  it('when the test folder or a path outside web/ is asked for, then 404', async () => {
    for (const url of ['/dashboard/test/dashboard.e2e.test.ts', '/dashboard/../package.json']) {
      expect((await t.app.inject(url)).statusCode, url).toBe(404);
    }
  });

  it('when each role calls GET /v1/me, then it gets its own key id, name, role and the routes the permission table lets it call, never the secret', async () => {
    for (const [role, key] of Object.entries(t.keys)) {
      const res = await t.app.inject({ url: '/v1/me', headers: { authorization: `Bearer ${key}` } });
      expect(res.statusCode, role).toBe(200);
      const body = res.json<{ id: string; name: string; role: string; may: string[] }>();
      expect(body.role).toBe(role);
      expect(Object.keys(body).sort()).toEqual(['id', 'may', 'name', 'role']);
      expect(key).toContain(body.id);
      const table = Object.entries(PERMISSIONS).filter(
        ([, a]) => a !== 'public' && a.includes(role as ApiRole),
      );
      expect(body.may, role).toEqual(table.map(([r]) => r));
      // The dashboard shows the decision form from this list: only approvers may decide.
      expect(body.may.includes('POST /v1/applications/:id/decisions'), role).toBe(role === 'approver');
    }
  });
});
