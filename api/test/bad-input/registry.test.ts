/** Bad input on the registry routes: borrowers, sites, lots, devices, telemetry and the audit log. */
import { expect, it } from 'vitest';
import {
  areaOf,
  badInputSuite,
  borrower,
  type Case,
  device,
  lot,
  patchOf,
  routesNeedingCases,
  site,
  SQL,
  SQLQ,
} from './support.js';

const CASES: Case[] = [
  // Path parameters: SQL-looking strings fail the id pattern; well-formed unknown ids are 404.
  ...['GET', 'PATCH', 'DELETE'].flatMap((m) =>
    ['borrowers', 'sites', 'lots'].flatMap((r) => [
      {
        route: `${m} /v1/${r}/:id`,
        url: `/v1/${r}/${SQLQ}`,
        status: 400,
        what: 'SQL in id',
        ...(m === 'PATCH' ? { payload: patchOf(r) } : {}),
      },
      {
        route: `${m} /v1/${r}/:id`,
        url: `/v1/${r}/nothing-here`,
        status: 404,
        what: 'unknown id',
        ...(m === 'PATCH' ? { payload: patchOf(r) } : {}),
      },
    ]),
  ),
  ...[
    'GET /v1/devices/:id',
    'POST /v1/devices/:id/rotate',
    'POST /v1/devices/:id/revoke',
    'GET /v1/devices/:id/readings',
  ].flatMap((route) => {
    const [method = '', pattern = ''] = route.split(' ');
    return [
      {
        route,
        url: pattern.replace(':id', SQLQ),
        status: 400,
        what: 'SQL in id',
        ...(method === 'POST' ? {} : {}),
      },
      { route, url: pattern.replace(':id', 'dev-unknown'), status: 404, what: 'unknown id' },
    ];
  }),
  // Query strings: wrong types, out of range, unknown parameters, forged cursors, SQL.
  { route: 'GET /v1/borrowers', url: '/v1/borrowers?limit=abc', status: 400, what: 'limit not a number' },
  { route: 'GET /v1/borrowers', url: '/v1/borrowers?limit=0', status: 400, what: 'limit 0' },
  { route: 'GET /v1/borrowers', url: '/v1/borrowers?limit=501', status: 400, what: 'limit over 500' },
  { route: 'GET /v1/borrowers', url: '/v1/borrowers?sort=password', status: 400, what: 'unknown sort' },
  { route: 'GET /v1/borrowers', url: `/v1/borrowers?sector=${SQLQ}`, status: 400, what: 'SQL as sector' },
  { route: 'GET /v1/borrowers', url: '/v1/borrowers?cursor=***', status: 400, what: 'cursor not base64url' },
  {
    route: 'GET /v1/borrowers',
    url: `/v1/borrowers?cursor=${Buffer.from('{"x":1}').toString('base64url')}`,
    status: 400,
    what: 'forged cursor',
  },
  { route: 'GET /v1/borrowers', url: `/v1/borrowers?q=${'x'.repeat(101)}`, status: 400, what: 'q too long' },
  { route: 'GET /v1/borrowers', url: '/v1/borrowers?admin=true', status: 400, what: 'unknown parameter' },
  { route: 'GET /v1/sites', url: `/v1/sites?borrowerId=${SQLQ}`, status: 400, what: 'SQL as borrowerId' },
  { route: 'GET /v1/sites', url: '/v1/sites?cursor=bm9wZQ', status: 400, what: 'cursor of another list' },
  { route: 'GET /v1/lots', url: `/v1/lots?siteId=${SQLQ}`, status: 400, what: 'SQL as siteId' },
  ...(
    [
      ['windowMs=60000', 'a window under 15 min'],
      ['maxGapMs=1', 'maxGapMs of 1 ms'],
      ['from=later', 'from not a time'],
      [`from=2&to=1`, 'from after to'],
      ['crew=all', 'unknown parameter'],
    ] as const
  ).map(([query, what]) => ({
    route: 'GET /v1/sites/:id/worker-hours',
    url: `/v1/sites/s1/worker-hours?${query}`,
    status: 400,
    what,
  })),
  {
    route: 'GET /v1/sites/:id/worker-hours',
    url: '/v1/sites/nope/worker-hours',
    status: 404,
    what: 'unknown site',
  },
  { route: 'GET /v1/devices', url: '/v1/devices?kind=drone', status: 400, what: 'unknown kind' },
  { route: 'GET /v1/devices', url: '/v1/devices?status=dead', status: 400, what: 'unknown status' },
  { route: 'GET /v1/devices', url: '/v1/devices?presence=bogus', status: 400, what: 'unknown presence' },
  {
    route: 'GET /v1/devices/summary',
    url: '/v1/devices/summary?lowBatteryPct=101',
    status: 400,
    what: 'lowBatteryPct over 100',
  },
  {
    route: 'GET /v1/devices/summary',
    url: '/v1/devices/summary?lowBatteryPct=-1',
    status: 400,
    what: 'negative lowBatteryPct',
  },
  {
    route: 'GET /v1/devices/summary',
    url: '/v1/devices/summary?lowBatteryPct=low',
    status: 400,
    what: 'lowBatteryPct not a number',
  },
  { route: 'GET /v1/devices/summary', url: '/v1/devices/summary?staleMs=5', status: 400, what: 'staleMs 5' },
  {
    route: 'GET /v1/devices/summary',
    url: '/v1/devices/summary?staleMs=soon',
    status: 400,
    what: 'staleMs not a number',
  },
  {
    route: 'GET /v1/devices/summary',
    url: '/v1/devices/summary?presence=online',
    status: 400,
    what: 'unknown parameter',
  },
  {
    route: 'GET /v1/devices/summary',
    url: '/v1/devices/summary?kind=drone',
    status: 400,
    what: 'unknown kind',
  },
  {
    route: 'GET /v1/devices/summary',
    url: `/v1/devices/summary?borrowerId=${SQLQ}`,
    status: 400,
    what: 'SQL as borrowerId',
  },
  { route: 'GET /v1/audit', url: '/v1/audit?limit=-1', status: 400, what: 'negative limit' },
  {
    route: 'GET /v1/audit',
    url: `/v1/audit?cursor=${Buffer.from('"7"').toString('base64url')}`,
    status: 400,
    what: 'cursor of the wrong type',
  },
  {
    route: 'GET /v1/devices/:id/readings',
    url: '/v1/devices/dev-unknown/readings?from=abc',
    status: 400,
    what: 'from not a number',
  },
  {
    route: 'GET /v1/telemetry/aggregate',
    url: `/v1/telemetry/aggregate?deviceId=dev-1&fields=${SQLQ}`,
    status: 400,
    what: 'SQL as field',
  },
  {
    route: 'GET /v1/telemetry/aggregate',
    url: '/v1/telemetry/aggregate?deviceId=dev-1&fields=weightKg&windowMs=1',
    status: 400,
    what: 'window under a minute',
  },
  // Bodies: missing fields, wrong types, unknown fields, malformed JSON, SQL in ids, oversized.
  { route: 'POST /v1/borrowers', url: '/v1/borrowers', status: 400, what: 'empty body', payload: {} },
  {
    route: 'POST /v1/borrowers',
    url: '/v1/borrowers',
    status: 400,
    what: 'name a number',
    payload: { ...borrower, name: 5 },
  },
  {
    route: 'POST /v1/borrowers',
    url: '/v1/borrowers',
    status: 400,
    what: 'SQL as id',
    payload: { ...borrower, id: SQL },
  },
  {
    route: 'POST /v1/borrowers',
    url: '/v1/borrowers',
    status: 400,
    what: 'unknown sector',
    payload: { ...borrower, sector: 'crypto' },
  },
  {
    route: 'POST /v1/borrowers',
    url: '/v1/borrowers',
    status: 400,
    what: 'unknown field',
    payload: { ...borrower, createdAt: 1 },
  },
  { route: 'POST /v1/borrowers', url: '/v1/borrowers', status: 400, what: 'array body', payload: [borrower] },
  {
    route: 'POST /v1/borrowers',
    url: '/v1/borrowers',
    status: 400,
    what: 'malformed JSON',
    raw: '{"id": "b5",',
    contentType: 'application/json',
  },
  {
    route: 'POST /v1/borrowers',
    url: '/v1/borrowers',
    status: 413,
    what: 'oversized body',
    payload: { ...borrower, name: 'x'.repeat(1_100_000) },
  },
  {
    route: 'POST /v1/borrowers',
    url: '/v1/borrowers',
    status: 415,
    what: 'form body',
    raw: 'id=b5',
    contentType: 'application/x-www-form-urlencoded',
  },
  {
    route: 'PATCH /v1/borrowers/:id',
    url: '/v1/borrowers/b1',
    status: 400,
    what: 'empty patch',
    payload: {},
  },
  {
    route: 'PATCH /v1/borrowers/:id',
    url: '/v1/borrowers/b1',
    status: 400,
    what: 'id in patch',
    payload: { id: 'b9' },
  },
  {
    route: 'PATCH /v1/borrowers/:id',
    url: '/v1/borrowers/b1',
    status: 400,
    what: 'sector a number',
    payload: { sector: 1 },
  },
  { route: 'POST /v1/sites', url: '/v1/sites', status: 400, what: 'empty body', payload: {} },
  {
    route: 'POST /v1/sites',
    url: '/v1/sites',
    status: 400,
    what: 'geofence of 2 vertices',
    payload: {
      ...site,
      geofence: [
        [0, 0],
        [1, 1],
      ],
    },
  },
  {
    route: 'POST /v1/sites',
    url: '/v1/sites',
    status: 400,
    what: 'latitude 100',
    payload: { ...site, lat: 100 },
  },
  {
    route: 'POST /v1/sites',
    url: '/v1/sites',
    status: 400,
    what: 'vertex of 3 numbers',
    payload: {
      ...site,
      geofence: [
        [0, 0, 0],
        [0, 1],
        [1, 1],
      ],
    },
  },
  {
    route: 'POST /v1/sites',
    url: '/v1/sites',
    status: 400,
    what: 'lat a string',
    payload: { ...site, lat: '1' },
  },
  {
    route: 'PATCH /v1/sites/:id',
    url: '/v1/sites/s1',
    status: 400,
    what: 'one-vertex geofence',
    payload: { geofence: [[0, 0]] },
  },
  {
    route: 'PATCH /v1/sites/:id',
    url: '/v1/sites/s1',
    status: 400,
    what: 'borrower change',
    payload: { borrowerId: 'b2' },
  },
  { route: 'POST /v1/lots', url: '/v1/lots', status: 400, what: 'empty body', payload: {} },
  {
    route: 'POST /v1/lots',
    url: '/v1/lots',
    status: 400,
    what: 'negative weight',
    payload: { ...lot, pledgedWeightKg: -1 },
  },
  {
    route: 'POST /v1/lots',
    url: '/v1/lots',
    status: 400,
    what: 'currency word',
    payload: { ...lot, currency: 'euro' },
  },
  {
    route: 'POST /v1/lots',
    url: '/v1/lots',
    status: 400,
    what: 'unknown site',
    payload: { ...lot, siteId: 'nowhere' },
  },
  {
    route: 'PATCH /v1/lots/:id',
    url: '/v1/lots/l1',
    status: 400,
    what: 'SQL as siteId',
    payload: { siteId: SQL },
  },
  {
    route: 'PATCH /v1/lots/:id',
    url: '/v1/lots/l1',
    status: 400,
    what: 'weight a string',
    payload: { pledgedWeightKg: '1' },
  },
  { route: 'POST /v1/devices', url: '/v1/devices', status: 400, what: 'empty body', payload: {} },
  {
    route: 'POST /v1/devices',
    url: '/v1/devices',
    status: 400,
    what: 'unknown kind',
    payload: { ...device, kind: 'drone' },
  },
  {
    route: 'POST /v1/devices',
    url: '/v1/devices',
    status: 400,
    what: 'SQL as id',
    payload: { ...device, id: SQL },
  },
  {
    route: 'POST /v1/devices',
    url: '/v1/devices',
    status: 400,
    what: 'the id of a route (summary)',
    payload: { ...device, id: 'summary' },
  },
  {
    route: 'POST /v1/devices',
    url: '/v1/devices',
    status: 400,
    what: 'status given',
    payload: { ...device, status: 'active' },
  },
];

badInputSuite('registry', CASES, (api) => {
  it('when a free-text field holds SQL, then it is stored literally and nothing else is touched', async () => {
    const t = api();
    const res = await t.app.inject({
      method: 'POST',
      url: '/v1/borrowers',
      headers: t.auth('admin'),
      payload: { id: 'b-sql', name: `${SQL}; DROP TABLE borrowers; --`, sector: 'trading', region: SQL },
    });
    expect(res.statusCode).toBe(201);
    expect((await t.state.portfolio.getBorrower('b-sql'))?.name).toBe(`${SQL}; DROP TABLE borrowers; --`);
    expect((await t.state.portfolio.listBorrowers()).map((b) => b.id)).toEqual(['b-sql', 'b1', 'b2']);
    const search = await t.app.inject({ url: `/v1/borrowers?q=${SQLQ}`, headers: t.auth('admin') });
    expect(search.json<{ items: { id: string }[] }>().items.map((b) => b.id)).toEqual(['b-sql']);
  });

  it('when the routes are compared with the areas, then every route with a parameter, query or body belongs to an area whose file checks its cases', () => {
    const orphans = routesNeedingCases(api()).filter(
      (r) => areaOf(r.slice(r.indexOf(' ') + 1)) === undefined,
    );
    expect(orphans).toEqual([]);
  });
});
