import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openApiDocument } from '../openapi-document.js';
import { webApiTypes } from '../web-types.js';
import { seedPortfolio, startTestApi, type TestApi } from './support.js';

describe('health, readiness, metrics, docs', () => {
  let t: TestApi;
  beforeAll(async () => {
    t = await startTestApi();
    await seedPortfolio(t.state);
  });
  afterAll(() => t.close());

  it('when /health and /ready are called without a key, then both answer 200 with every check listed', async () => {
    expect((await t.app.inject({ url: '/health' })).json()).toEqual({ status: 'ok' });
    const ready = await t.app.inject({ url: '/ready' });
    expect(ready.statusCode).toBe(200);
    expect(ready.json()).toEqual({
      status: 'ready',
      checks: { stateStore: { ok: true }, telemetryStore: { ok: true }, broker: { ok: true } },
    });
  });

  it("when any route answers (a read, a 401, a 404, a dashboard file), then it carries helmet's security headers", async () => {
    // Helmet 8's defaults, CSP without upgrade-insecure-requests (api/app.ts, api/security-headers.ts).
    const expected = {
      'content-security-policy':
        "default-src 'self';base-uri 'self';font-src 'self' https: data:;form-action 'self';frame-ancestors 'self';img-src 'self' data:;object-src 'none';script-src 'self';script-src-attr 'none';style-src 'self' https: 'unsafe-inline'",
      'cross-origin-opener-policy': 'same-origin',
      'cross-origin-resource-policy': 'same-origin',
      'origin-agent-cluster': '?1',
      'referrer-policy': 'no-referrer',
      'strict-transport-security': 'max-age=31536000; includeSubDomains',
      'x-content-type-options': 'nosniff',
      'x-dns-prefetch-control': 'off',
      'x-download-options': 'noopen',
      'x-frame-options': 'SAMEORIGIN',
      'x-permitted-cross-domain-policies': 'none',
      'x-xss-protection': '0',
    };
    for (const [url, headers, code] of [
      ['/v1/me', t.auth('officer'), 200],
      ['/v1/me', {}, 401],
      ['/v1/nothing-here', t.auth('officer'), 404],
      ['/dashboard/app.js', {}, 200],
    ] as const) {
      const res = await t.app.inject({ url, headers });
      expect(res.statusCode, url).toBe(code);
      expect(res.headers, `${url} ${code}`).toMatchObject(expected);
    }
  });

  it('when /metrics is scraped, then it is Prometheus text with request counts and latency histograms by route', async () => {
    await t.app.inject({ url: '/v1/borrowers/b1', headers: t.auth('officer') });
    await t.app.inject({ url: '/v1/borrowers/nope', headers: t.auth('officer') });
    const res = await t.app.inject({ url: '/metrics' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(res.body).toMatch(/^# TYPE riskfuse_api_requests_total counter$/m);
    expect(res.body).toMatch(
      /^riskfuse_api_requests_total\{method="GET",route="\/v1\/borrowers\/:id",status="200"\} 1$/m,
    );
    expect(res.body).toMatch(
      /^riskfuse_api_requests_total\{method="GET",route="\/v1\/borrowers\/:id",status="404"\} 1$/m,
    );
    expect(res.body).toMatch(/^# TYPE riskfuse_api_request_duration_seconds histogram$/m);
    expect(res.body).toMatch(
      /^riskfuse_api_request_duration_seconds_bucket\{method="GET",route="\/v1\/borrowers\/:id",status="200",le="\+Inf"\} 1$/m,
    );
  });

  it('when /docs is opened, then the UI and its assets come from this server (no CDN) and describe the API', async () => {
    const page = await t.app.inject({ url: '/docs/' });
    const html =
      page.statusCode === 302 ? (await t.app.inject({ url: page.headers.location ?? '' })).body : page.body;
    expect(html).toContain('swagger-ui');
    expect(html).not.toMatch(/(src|href)="https?:\/\//);
    // Served over plain http, the page must not ask the browser to fetch its assets over https.
    expect(page.headers['content-security-policy']).toMatch(/script-src 'self'/);
    expect(page.headers['content-security-policy']).not.toMatch(/upgrade-insecure-requests/);
    for (const asset of ['/docs/static/swagger-ui-bundle.js', '/docs/static/swagger-ui.css']) {
      expect((await t.app.inject({ url: asset })).statusCode, asset).toBe(200);
    }
    const spec = await t.app.inject({ url: '/docs/json' });
    expect(spec.json<{ openapi: string }>().openapi).toBe('3.0.3');
  });

  it('when the OpenAPI document is generated, then the committed openapi.json and the dashboard types from it are up to date (run `npm run openapi`)', async () => {
    const committed = readFileSync(new URL('../../openapi.json', import.meta.url), 'utf8');
    const doc = await openApiDocument();
    expect(committed === doc, 'openapi.json is stale: run `npm run openapi`').toBe(true);
    const types = readFileSync(new URL('../../web/api-types.d.ts', import.meta.url), 'utf8');
    expect(types === (await webApiTypes(doc)), 'web/api-types.d.ts is stale: run `npm run openapi`').toBe(
      true,
    );
  });

  it('when the OpenAPI document is read, then every operation has bearer security, problem errors and a summary', async () => {
    const doc = JSON.parse(await openApiDocument()) as {
      paths: Record<
        string,
        Record<
          string,
          {
            summary?: string;
            security?: unknown[];
            responses: Record<string, { content?: Record<string, unknown> }>;
          }
        >
      >;
      components: { securitySchemes: Record<string, unknown> };
      security: unknown[];
    };
    expect(doc.components.securitySchemes.bearer).toMatchObject({ type: 'http', scheme: 'bearer' });
    expect(doc.security).toContainEqual({ bearer: [] });
    const ops = Object.entries(doc.paths).flatMap(([path, ops]) =>
      Object.entries(ops).map(([method, op]) => ({ path, method, op })),
    );
    expect(ops.length).toBeGreaterThan(35);
    for (const { path, method, op } of ops) {
      expect(op.summary, `${method} ${path}`).toBeTruthy();
      if (path.startsWith('/v1/'))
        expect(Object.keys(op.responses[403]?.content ?? {})).toEqual(['application/problem+json']);
    }
    expect(doc.paths['/health']?.get?.security).toEqual([]);
    expect(Object.keys(doc.paths['/v1/imports/repayments']?.post ?? {})).toContain('requestBody');
  });
});

describe('over a real socket', () => {
  let t: TestApi;
  let base: string;
  beforeAll(async () => {
    t = await startTestApi({ env: { API_CORS_ORIGINS: 'https://dash.example' } });
    await seedPortfolio(t.state);
    await t.state.portfolio.upsertBorrowers(
      Array.from({ length: 100 }, (_, i) => ({
        id: `g${i}`,
        name: `Gzip borrower ${i}`,
        sector: 'trading' as const,
        region: 'r',
        createdAt: i,
      })),
    );
    await t.app.listen({ host: '127.0.0.1', port: 0 });
    const address = t.app.server.address();
    base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  });
  afterAll(() => t.close());

  it('when a client calls over HTTP, then it gets gzip, security headers and its request id back', async () => {
    const res = await fetch(`${base}/v1/borrowers?limit=100`, {
      headers: { ...t.auth('officer'), 'accept-encoding': 'gzip', 'x-request-id': 'trace-42' },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-request-id')).toBe('trace-42');
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('strict-transport-security')).toBeTruthy();
    expect(res.headers.get('content-security-policy')).toBeTruthy();
    const body = (await res.json()) as { items: unknown[] };
    expect(body.items).toHaveLength(100);
    const raw = await t.app.inject({
      url: '/v1/borrowers?limit=100',
      headers: { ...t.auth('officer'), 'accept-encoding': 'gzip' },
    });
    expect(raw.headers['content-encoding']).toBe('gzip');
    expect(JSON.parse(gunzipSync(raw.rawPayload).toString('utf8'))).toEqual(body);
  });

  it('when a request id is unsafe, then a fresh one replaces it', async () => {
    const res = await fetch(`${base}/health`, { headers: { 'x-request-id': 'a b\tc' } });
    expect(res.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    await res.arrayBuffer();
  });

  it('when a configured origin preflights, then CORS allows it; other origins get no CORS headers', async () => {
    const ok = await fetch(`${base}/v1/borrowers`, {
      method: 'OPTIONS',
      headers: { origin: 'https://dash.example', 'access-control-request-method': 'GET' },
    });
    expect(ok.status).toBe(204);
    expect(ok.headers.get('access-control-allow-origin')).toBe('https://dash.example');
    await ok.arrayBuffer();
    const other = await fetch(`${base}/v1/borrowers`, {
      headers: { origin: 'https://evil.example', ...t.auth('officer') },
    });
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
    // An unread body keeps the connection busy, and close() waits for busy connections.
    await other.arrayBuffer();
  });
});

describe('CORS by default', () => {
  it('when API_CORS_ORIGINS is unset, then no origin gets CORS headers and preflights are 404 problems', async () => {
    const t = await startTestApi();
    try {
      const res = await t.app.inject({
        method: 'OPTIONS',
        url: '/v1/borrowers',
        headers: { origin: 'https://dash.example' },
      });
      expect(res.statusCode).toBe(404);
      expect(res.headers['access-control-allow-origin']).toBeUndefined();
    } finally {
      await t.close();
    }
  });
});

describe('when a store fails', () => {
  it('when the state store is gone, then requests get a problem without internals and /ready says which check failed', async () => {
    const t = await startTestApi();
    try {
      const ok = await t.app.inject({ url: '/v1/borrowers', headers: t.auth('officer') });
      expect(ok.statusCode).toBe(200);
      await t.state.close();
      const res = await t.app.inject({ url: '/v1/borrowers', headers: t.auth('officer') });
      if (t.state.db.dialect === 'postgres') {
        // A closed pool is the driver's own error: the store is unavailable (503, retryable), not a bug.
        expect(res.statusCode).toBe(503);
        expect(res.json()).toMatchObject({ code: 'STORE_UNAVAILABLE' });
        expect(res.body).not.toMatch(/postgres(ql)?:\/\/|password|\.ts:\d+|\bat \w/i);
      } else {
        // better-sqlite3's "database is not open" is a TypeError: an internal error, its message kept in the log.
        expect(res.statusCode).toBe(500);
        expect(res.json()).toMatchObject({
          code: 'INTERNAL',
          detail: 'internal error; the request id identifies it in the log',
        });
        expect(res.body).not.toMatch(/database|sqlite|\.ts:\d+/i);
      }
      const ready = await t.app.inject({ url: '/ready' });
      expect(ready.statusCode).toBe(503);
      expect(ready.json()).toMatchObject({
        checks: { stateStore: { ok: false }, telemetryStore: { ok: true } },
      });
    } finally {
      await t.close();
    }
  });
});
