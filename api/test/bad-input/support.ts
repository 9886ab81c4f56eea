/**
 * What the bad-input tests share (api/test/bad-input/*.test.ts, one file per route area): the case shape, the
 * fixtures, the run of a case table against the API on the test run's state backend, and which area's file must
 * hold a route's cases, so that a route with a parameter, query or body and no bad-input case fails a test
 * ("when the … table is compared with the routes …", and in registry.test.ts "… every route belongs to an area").
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registeredRoutes } from '../../app.js';
import { seedPortfolio, snapshot, startTestApi, type TestApi } from '../support.js';

export const SQL = "' OR 1=1 --";
export const SQLQ = encodeURIComponent(SQL);
export const UNKNOWN_SUB = 'wh_0000000000000000';

export interface Case {
  /** The route as in the permission table. */
  readonly route: string;
  readonly url: string;
  readonly status: number;
  readonly what: string;
  readonly payload?: unknown;
  readonly raw?: string;
  readonly contentType?: string;
  /** The role whose key sends it (default admin; decisions are an approver's). */
  readonly role?: 'approver';
}

export const borrower = { id: 'b5', name: 'Five', sector: 'trading', region: 'r' };
export const site = {
  id: 's5',
  borrowerId: 'b1',
  name: 'S',
  kind: 'yard',
  lat: 1,
  lon: 1,
  geofence: [
    [0, 0],
    [0, 1],
    [1, 1],
  ],
};
export const lot = {
  id: 'l5',
  borrowerId: 'b1',
  siteId: 's1',
  commodity: 'corn',
  pledgedWeightKg: 1,
  unitPricePerKg: 1,
  currency: 'EUR',
  pledgedAt: 1,
};
export const device = { id: 'stk-5', kind: 'stake', borrowerId: 'b1', siteId: 's1' };

/** A valid patch of each resource, so that only the id is wrong. */
export const patchOf = (resource: string) => (resource === 'lots' ? { commodity: 'rye' } : { name: 'x' });

/** The route areas, each with its test file (`<area>.test.ts`); the first whose pattern matches a route's URL. */
export const AREAS = {
  webhooks: /^\/v1\/webhooks(\/|$)/,
  alerts: /^\/v1\/(alerts|cases)(\/|$)/,
  credit: /^\/v1\/(borrowers\/:id\/credit|policy|recommendations|applications|reviews)(\/|$)/,
  access: /^\/v1\/(loans|api-keys|imports)(\/|$)/,
  registry: /^\/v1\/(borrowers|sites|lots|devices|telemetry|audit)(\/|$)/,
} as const;
export type Area = keyof typeof AREAS;

export const areaOf = (url: string): Area | undefined =>
  (Object.keys(AREAS) as Area[]).find((a) => AREAS[a].test(url));

/** The /v1 routes that take input: a path parameter, a body, or one of the list routes' queries. */
export function routesNeedingCases(t: TestApi): string[] {
  return registeredRoutes(t.app)
    .filter((r) => r.url.startsWith('/v1/'))
    .filter(
      (r) =>
        r.url.includes(':') ||
        r.method !== 'GET' ||
        [
          '/v1/borrowers',
          '/v1/sites',
          '/v1/lots',
          '/v1/devices',
          '/v1/devices/summary',
          '/v1/loans',
          '/v1/audit',
          '/v1/telemetry/aggregate',
        ].includes(r.url),
    )
    .map((r) => `${r.method} ${r.url}`);
}

/**
 * The suite of one area: the API with the small portfolio (api/test/support.ts seedPortfolio) and a 2 KiB CSV body
 * limit; each case answers its status as a problem document, with the request id, no stack, and no change to the
 * state; and every route of the area that takes input has cases. `more` adds the file's own tests, with the running API.
 */
export function badInputSuite(area: Area, cases: readonly Case[], more?: (api: () => TestApi) => void): void {
  let t: TestApi;
  describe(`bad input: ${area} routes`, () => {
    beforeAll(async () => {
      t = await startTestApi({ env: { API_CSV_BODY_LIMIT_BYTES: '2048' } });
      await seedPortfolio(t.state);
    });
    afterAll(() => t.close());

    for (const c of cases) {
      it(`when ${c.route} gets ${c.what}, then ${c.status} problem and nothing changes`, async () => {
        const before = await snapshot(t.state);
        const [method = 'GET'] = c.route.split(' ');
        const res = await t.app.inject({
          method: method as 'GET',
          url: c.url,
          headers: {
            ...t.auth(c.role ?? 'admin'),
            ...(c.contentType ? { 'content-type': c.contentType } : {}),
          },
          ...(c.raw !== undefined
            ? { payload: c.raw }
            : c.payload !== undefined
              ? { payload: c.payload as object }
              : {}),
        });
        expect(res.statusCode, res.body.slice(0, 300)).toBe(c.status);
        expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
        const problem = res.json<{
          status: number;
          code: string;
          requestId: string;
          type: string;
          detail: string;
        }>();
        expect(problem.status).toBe(c.status);
        expect(problem.code).toMatch(/^[A-Z_]+$/);
        expect(problem.requestId).toBe(res.headers['x-request-id']);
        expect(res.body).not.toMatch(/at .+\.(ts|js):\d+/);
        expect(await snapshot(t.state)).toEqual(before);
      });
    }

    it(`when the ${area} bad-input table is compared with the routes, then every ${area} route with a parameter, query or body has cases`, () => {
      const covered = new Set(cases.map((c) => c.route));
      const mine = routesNeedingCases(t).filter((r) => areaOf(r.slice(r.indexOf(' ') + 1)) === area);
      expect(mine.length).toBeGreaterThan(0);
      expect(mine.filter((r) => !covered.has(r))).toEqual([]);
    });

    more?.(() => t);
  });
}
