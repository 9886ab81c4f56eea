import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registeredRoutes } from '../../app.js';
import { snapshot, startTestApi, type TestApi } from '../support.js';
import { type Case, SQLQ } from './support.js';

/** The model-monitoring routes exist only with the risk component wired in (api/routes/model-health.ts). */
const MODEL_CASES: Case[] = [
  ...['drift', 'backtest'].flatMap((what) => [
    {
      route: `GET /v1/models/:version/${what}`,
      url: `/v1/models/${SQLQ}/${what}`,
      status: 400,
      what: 'SQL in version',
    },
    {
      route: `GET /v1/models/:version/${what}`,
      url: `/v1/models/v99/${what}`,
      status: 404,
      what: 'an unknown version',
    },
    {
      route: `GET /v1/models/:version/${what}`,
      url: `/v1/models/v1/${what}?limit=0`,
      status: 400,
      what: 'limit 0',
    },
    {
      route: `GET /v1/models/:version/${what}`,
      url: `/v1/models/v1/${what}?limit=367`,
      status: 400,
      what: 'limit over a year',
    },
    {
      route: `GET /v1/models/:version/${what}`,
      url: `/v1/models/v1/${what}?band=${SQLQ}`,
      status: 400,
      what: 'an unknown query parameter',
    },
  ]),
  {
    route: 'GET /v1/models/:version/drift',
    url: '/v1/models/v1/drift?from=5&to=5',
    status: 400,
    what: 'from = to',
  },
  {
    route: 'GET /v1/models/:version/drift',
    url: '/v1/models/v1/drift?from=-1',
    status: 400,
    what: 'a negative from',
  },
  {
    route: 'GET /v1/models/:version/drift',
    url: '/v1/models/v1/drift?to=soon',
    status: 400,
    what: 'a non-numeric to',
  },
];

describe('bad input on the model-monitoring routes', () => {
  let t: TestApi;
  beforeAll(async () => {
    t = await startTestApi({ withRisk: true });
  }, 120_000);
  afterAll(() => t.close());

  for (const c of MODEL_CASES) {
    it(`when ${c.route} gets ${c.what}, then ${c.status} problem and nothing changes`, async () => {
      const before = await snapshot(t.state);
      const res = await t.app.inject({ url: c.url, headers: t.auth('admin') });
      expect(res.statusCode, res.body.slice(0, 300)).toBe(c.status);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(res.json<{ status: number }>().status).toBe(c.status);
      expect(await snapshot(t.state)).toEqual(before);
    });
  }

  it('when the model-monitoring cases are compared with the routes, then every one of them has cases', () => {
    const covered = new Set(MODEL_CASES.map((c) => c.route));
    const needing = registeredRoutes(t.app)
      .map((r) => `${r.method} ${r.url}`)
      .filter((r) => /^GET \/v1\/models\/:version\/(drift|backtest)$/.test(r));
    expect(needing).toHaveLength(2);
    expect(needing.filter((r) => !covered.has(r))).toEqual([]);
  });
});
