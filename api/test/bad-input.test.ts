import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registeredRoutes } from '../app.js';
import { seedPortfolio, snapshot, startTestApi, type TestApi } from './support.js';

const SQL = "' OR 1=1 --";
const SQLQ = encodeURIComponent(SQL);
const UNKNOWN_SUB = 'wh_0000000000000000';

interface Case {
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

const borrower = { id: 'b5', name: 'Five', sector: 'trading', region: 'r' };
const site = {
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
const lot = {
  id: 'l5',
  borrowerId: 'b1',
  siteId: 's1',
  commodity: 'corn',
  pledgedWeightKg: 1,
  unitPricePerKg: 1,
  currency: 'EUR',
  pledgedAt: 1,
};
const device = { id: 'stk-5', kind: 'stake', borrowerId: 'b1', siteId: 's1' };

/** A valid patch of each resource, so that only the id is wrong. */
const patchOf = (resource: string) => (resource === 'lots' ? { commodity: 'rye' } : { name: 'x' });

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
  { route: 'GET /v1/loans/:id', url: `/v1/loans/${SQLQ}`, status: 400, what: 'SQL in id' },
  { route: 'GET /v1/loans/:id', url: '/v1/loans/ln-unknown', status: 404, what: 'unknown id' },
  {
    route: 'GET /v1/loans/:id/repayments',
    url: `/v1/loans/${SQLQ}/repayments`,
    status: 400,
    what: 'SQL in id',
  },
  {
    route: 'GET /v1/loans/:id/repayments',
    url: '/v1/loans/ln-unknown/repayments',
    status: 404,
    what: 'unknown id',
  },
  {
    route: 'POST /v1/api-keys/:id/rotate',
    url: '/v1/api-keys/zzz/rotate',
    status: 400,
    what: 'malformed key id',
  },
  {
    route: 'POST /v1/api-keys/:id/rotate',
    url: '/v1/api-keys/0123456789abcdef/rotate',
    status: 404,
    what: 'unknown key',
  },
  { route: 'DELETE /v1/api-keys/:id', url: `/v1/api-keys/${SQLQ}`, status: 400, what: 'SQL in key id' },
  {
    route: 'DELETE /v1/api-keys/:id',
    url: '/v1/api-keys/0123456789abcdef',
    status: 404,
    what: 'unknown key',
  },

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
  { route: 'GET /v1/loans', url: '/v1/loans?status=late', status: 400, what: 'unknown loan status' },
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
  {
    route: 'POST /v1/imports/loans',
    url: '/v1/imports/loans?mode=yolo',
    status: 400,
    what: 'unknown mode',
    payload: { items: [{}] },
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
  { route: 'POST /v1/api-keys', url: '/v1/api-keys', status: 400, what: 'empty body', payload: {} },
  {
    route: 'POST /v1/api-keys',
    url: '/v1/api-keys',
    status: 400,
    what: 'unknown role',
    payload: { name: 'x', role: 'root' },
  },
  {
    route: 'POST /v1/api-keys',
    url: '/v1/api-keys',
    status: 400,
    what: 'empty name',
    payload: { name: '', role: 'officer' },
  },
  { route: 'POST /v1/imports/loans', url: '/v1/imports/loans', status: 400, what: 'no items', payload: {} },
  {
    route: 'POST /v1/imports/loans',
    url: '/v1/imports/loans',
    status: 400,
    what: 'malformed JSON',
    raw: '{"items":[',
    contentType: 'application/json',
  },
  {
    route: 'POST /v1/imports/loans',
    url: '/v1/imports/loans',
    status: 422,
    what: 'SQL in a row id',
    payload: { items: [{ id: SQL }] },
  },
  {
    route: 'POST /v1/imports/repayments',
    url: '/v1/imports/repayments',
    status: 400,
    what: 'malformed CSV',
    raw: 'id,loanId\n"r1,ln1\n',
    contentType: 'text/csv',
  },
  {
    route: 'POST /v1/imports/repayments',
    url: '/v1/imports/repayments',
    status: 413,
    what: 'CSV over its limit',
    raw: `id,loanId,dueAt,amountDue,amountPaid\n${'r1,ln1,1,1,0\n'.repeat(400)}`,
    contentType: 'text/csv',
  },
  {
    route: 'POST /v1/imports/repayments',
    url: '/v1/imports/repayments',
    status: 400,
    what: 'CSV with a JSON content type',
    raw: 'id,loanId\n',
    contentType: 'application/json',
  },
  // Credit: borrower figures, the lending policy, applications, recommendations, decisions, reviews.
  {
    route: 'GET /v1/borrowers/:id/credit',
    url: `/v1/borrowers/${SQLQ}/credit`,
    status: 400,
    what: 'SQL in id',
  },
  {
    route: 'GET /v1/borrowers/:id/credit',
    url: '/v1/borrowers/b-none/credit',
    status: 404,
    what: 'unknown borrower',
  },
  { route: 'PUT /v1/policy', url: '/v1/policy', status: 400, what: 'empty body', payload: {} },
  {
    route: 'PUT /v1/policy',
    url: '/v1/policy',
    status: 400,
    what: 'a string as policy',
    raw: '"lend to all"',
    contentType: 'application/json',
  },
  ...(['POST /v1/applications', 'POST /v1/recommendations'] as const).flatMap((route) => {
    const url = route.split(' ')[1] as string;
    const good = { borrowerId: 'b1', amount: 1000, currency: 'EUR', tenorDays: 90 };
    return [
      { route, url, status: 400, what: 'a negative amount', payload: { ...good, amount: -5 } },
      { route, url, status: 400, what: 'a lower-case currency', payload: { ...good, currency: 'eur' } },
      { route, url, status: 400, what: 'SQL as borrower id', payload: { ...good, borrowerId: SQL } },
      { route, url, status: 400, what: 'an unknown field', payload: { ...good, rate: 0.1 } },
    ];
  }),
  { route: 'GET /v1/applications', url: '/v1/applications?sort=risk', status: 400, what: 'an unknown sort' },
  {
    route: 'GET /v1/applications',
    url: '/v1/applications?status=lost',
    status: 400,
    what: 'an unknown status',
  },
  {
    route: 'GET /v1/applications',
    url: `/v1/applications?sort=amount&cursor=${Buffer.from(JSON.stringify(['age', 1, 'app_1'])).toString('base64url')}`,
    status: 400,
    what: 'a cursor of another sort',
  },
  {
    route: 'GET /v1/applications',
    url: `/v1/applications?sort=age&cursor=${Buffer.from(JSON.stringify(['age', 'DROP TABLE', 'app_1'])).toString('base64url')}`,
    status: 400,
    what: 'a cursor whose key is not a number',
  },
  { route: 'GET /v1/applications/:id', url: `/v1/applications/${SQLQ}`, status: 400, what: 'SQL in id' },
  { route: 'GET /v1/applications/:id', url: '/v1/applications/app_none', status: 404, what: 'unknown id' },
  {
    route: 'POST /v1/applications/:id/decisions',
    url: '/v1/applications/app_none/decisions',
    status: 400,
    what: 'an unknown outcome',
    payload: { outcome: 'maybe' },
    role: 'approver',
  },
  {
    route: 'POST /v1/applications/:id/decisions',
    url: '/v1/applications/app_none/decisions',
    status: 404,
    what: 'unknown id',
    payload: { outcome: 'refer' },
    role: 'approver',
  },
  {
    route: 'POST /v1/reviews/:id/close',
    url: `/v1/reviews/${SQLQ}/close`,
    status: 400,
    what: 'SQL in id',
    payload: {},
  },
  {
    route: 'POST /v1/reviews/:id/close',
    url: '/v1/reviews/rev_none/close',
    status: 404,
    what: 'unknown id',
    payload: {},
  },
  // Cases: ids, transitions and notes.
  { route: 'GET /v1/cases/:id', url: `/v1/cases/${SQLQ}`, status: 400, what: 'SQL in id' },
  { route: 'GET /v1/cases/:id', url: '/v1/cases/case_none', status: 404, what: 'unknown id' },
  {
    route: 'POST /v1/cases/:id/transition',
    url: '/v1/cases/case_none/transition',
    status: 400,
    what: 'an unknown status',
    payload: { status: 'forgotten' },
  },
  {
    route: 'POST /v1/cases/:id/transition',
    url: '/v1/cases/case_none/transition',
    status: 404,
    what: 'unknown id',
    payload: { status: 'investigating' },
  },
  {
    route: 'POST /v1/cases/:id/notes',
    url: '/v1/cases/case_none/notes',
    status: 400,
    what: 'an empty note',
    payload: { body: '' },
  },
  {
    route: 'POST /v1/cases/:id/notes',
    url: '/v1/cases/case_none/notes',
    status: 404,
    what: 'unknown id',
    payload: { body: 'seen on site' },
  },
  // Suppressions: a window must end after it starts, in the future, within 90 days, on a known scope and rule.
  ...[
    { what: 'an unknown scope kind', payload: { scopeKind: 'site' }, status: 400 },
    { what: 'a window ending before it starts', payload: { fromMs: 4_000_000_000_000 }, status: 400 },
    { what: 'a window over by now', payload: { untilMs: 1 }, status: 400 },
    { what: 'a window over 90 days', payload: { untilMs: 4_000_000_000_000 }, status: 400 },
    { what: 'an unknown rule', payload: { ruleId: 'no-such-rule' }, status: 400 },
    { what: 'an empty reason', payload: { reason: '' }, status: 400 },
    { what: 'an unknown lot', payload: { scopeId: 'l-none' }, status: 404 },
    { what: 'SQL in the scope id', payload: { scopeId: SQL }, status: 400 },
  ].map((c) => ({
    route: 'POST /v1/alerts/suppressions',
    url: '/v1/alerts/suppressions',
    status: c.status,
    what: c.what,
    payload: {
      kind: 'maintenance',
      scopeKind: 'lot',
      scopeId: 'l1',
      reason: 'recalibration',
      untilMs: Date.now() + 3_600_000,
      ...c.payload,
    },
  })),
  {
    route: 'GET /v1/alerts/suppressions',
    url: '/v1/alerts/suppressions?state=expired',
    status: 400,
    what: 'an unknown state',
  },
  {
    route: 'GET /v1/alerts/suppressions/:id',
    url: `/v1/alerts/suppressions/${SQLQ}`,
    status: 400,
    what: 'SQL in id',
  },
  {
    route: 'GET /v1/alerts/suppressions/:id',
    url: '/v1/alerts/suppressions/sup_none',
    status: 404,
    what: 'unknown id',
  },
  {
    route: 'POST /v1/alerts/suppressions/:id/end',
    url: '/v1/alerts/suppressions/sup_none/end',
    status: 404,
    what: 'unknown id',
  },
  {
    route: 'GET /v1/alerts/suppressed',
    url: `/v1/alerts/suppressed?borrowerId=${SQLQ}`,
    status: 400,
    what: 'SQL in the borrower id',
  },
  // Alerts: ids, lifecycle bodies, rule settings (a bad setting names the rule and field; nothing is saved).
  { route: 'GET /v1/alerts/:id', url: `/v1/alerts/${SQLQ}`, status: 400, what: 'SQL in id' },
  { route: 'GET /v1/alerts/:id', url: '/v1/alerts/alt_none', status: 404, what: 'unknown id' },
  {
    route: 'POST /v1/alerts/:id/acknowledge',
    url: '/v1/alerts/alt_none/acknowledge',
    status: 404,
    what: 'unknown id',
    payload: {},
  },
  {
    route: 'POST /v1/alerts/:id/acknowledge',
    url: '/v1/alerts/alt_none/acknowledge',
    status: 400,
    what: 'a number as comment',
    payload: { comment: 5 },
  },
  {
    route: 'POST /v1/alerts/:id/resolve',
    url: '/v1/alerts/alt_none/resolve',
    status: 400,
    what: 'no comment',
    payload: {},
  },
  {
    route: 'POST /v1/alerts/:id/resolve',
    url: '/v1/alerts/alt_none/resolve',
    status: 404,
    what: 'unknown id',
    payload: { comment: 'x' },
  },
  {
    route: 'PUT /v1/alerts/rules/:id',
    url: '/v1/alerts/rules/no-such-rule',
    status: 404,
    what: 'unknown rule',
    payload: {},
  },
  {
    route: 'PUT /v1/alerts/rules/:id',
    url: '/v1/alerts/rules/geofence',
    status: 400,
    what: 'a parameter out of range',
    payload: { params: { insideToClear: 0 } },
  },
  {
    route: 'PUT /v1/alerts/rules/:id',
    url: '/v1/alerts/rules/geofence',
    status: 400,
    what: 'an unknown field',
    payload: { threshold: 3 },
  },
  {
    route: 'PUT /v1/alerts/rules/:id/overrides/:borrowerId',
    url: '/v1/alerts/rules/geofence/overrides/nobody',
    status: 404,
    what: 'unknown borrower',
    payload: {},
  },
  {
    route: 'PUT /v1/alerts/rules/:id/overrides/:borrowerId',
    url: '/v1/alerts/rules/geofence/overrides/b1',
    status: 400,
    what: 'a bad override',
    payload: { params: { outsideToOpen: 'soon' } },
  },
  {
    route: 'DELETE /v1/alerts/rules/:id/overrides/:borrowerId',
    url: '/v1/alerts/rules/geofence/overrides/b1',
    status: 404,
    what: 'no such override',
  },
  // Webhooks: ids by pattern (SQL fails it), unknown well-formed ids 404, targets checked, bodies strict.
  ...(['GET', 'PATCH', 'DELETE'] as const).flatMap((m) => [
    {
      route: `${m} /v1/webhooks/subscriptions/:id`,
      url: `/v1/webhooks/subscriptions/${SQLQ}`,
      status: 400,
      what: 'SQL in id',
      ...(m === 'PATCH' ? { payload: { enabled: true } } : {}),
    },
    {
      route: `${m} /v1/webhooks/subscriptions/:id`,
      url: `/v1/webhooks/subscriptions/${UNKNOWN_SUB}`,
      status: 404,
      what: 'unknown id',
      ...(m === 'PATCH' ? { payload: { enabled: true } } : {}),
    },
  ]),
  ...['rotate-secret', 'ping', 'deliveries', 'replay'].flatMap((action) => {
    const method = action === 'deliveries' ? 'GET' : 'POST';
    const payload = action === 'replay' ? { from: 1, to: 2 } : undefined;
    return [
      {
        route: `${method} /v1/webhooks/subscriptions/:id/${action}`,
        url: `/v1/webhooks/subscriptions/${SQLQ}/${action}`,
        status: 400,
        what: 'SQL in id',
        ...(payload === undefined ? {} : { payload }),
      },
      {
        route: `${method} /v1/webhooks/subscriptions/:id/${action}`,
        url: `/v1/webhooks/subscriptions/${UNKNOWN_SUB}/${action}`,
        status: 404,
        what: 'unknown id',
        ...(payload === undefined ? {} : { payload }),
      },
    ];
  }),
  ...(['GET /v1/webhooks/deliveries/:id', 'POST /v1/webhooks/deliveries/:id/replay'] as const).flatMap(
    (route) => [
      { route, url: route.split(' ')[1]?.replace(':id', SQLQ) ?? '', status: 400, what: 'SQL in id' },
      { route, url: route.split(' ')[1]?.replace(':id', '999999') ?? '', status: 404, what: 'unknown id' },
    ],
  ),
  {
    route: 'POST /v1/webhooks/subscriptions',
    url: '/v1/webhooks/subscriptions',
    status: 400,
    what: 'empty body',
    payload: {},
  },
  {
    route: 'POST /v1/webhooks/subscriptions',
    url: '/v1/webhooks/subscriptions',
    status: 400,
    what: 'credentials in the URL',
    payload: { url: 'https://user:pw@example.com/hook' },
  },
  {
    route: 'POST /v1/webhooks/subscriptions',
    url: '/v1/webhooks/subscriptions',
    status: 400,
    what: 'the metadata address',
    payload: { url: 'http://169.254.169.254/latest/meta-data/' },
  },
  {
    route: 'POST /v1/webhooks/subscriptions',
    url: '/v1/webhooks/subscriptions',
    status: 400,
    what: 'an unknown event type',
    payload: { url: 'https://example.com/hook', eventTypes: ['alert.exploded'] },
  },
  {
    route: 'POST /v1/webhooks/subscriptions',
    url: '/v1/webhooks/subscriptions',
    status: 400,
    what: 'a secret of its own',
    payload: { url: 'https://example.com/hook', secret: 'whsec_x' },
  },
  {
    route: 'PATCH /v1/webhooks/subscriptions/:id',
    url: `/v1/webhooks/subscriptions/${UNKNOWN_SUB}`,
    status: 400,
    what: 'an empty patch',
    payload: {},
  },
  {
    route: 'POST /v1/webhooks/subscriptions/:id/rotate-secret',
    url: `/v1/webhooks/subscriptions/${UNKNOWN_SUB}/rotate-secret?overlapSeconds=-1`,
    status: 400,
    what: 'a negative overlap',
  },
  {
    route: 'POST /v1/webhooks/subscriptions/:id/replay',
    url: `/v1/webhooks/subscriptions/${UNKNOWN_SUB}/replay`,
    status: 400,
    what: 'no range',
    payload: {},
  },
  {
    route: 'GET /v1/webhooks/subscriptions/:id/deliveries',
    url: `/v1/webhooks/subscriptions/${UNKNOWN_SUB}/deliveries?status=lost`,
    status: 400,
    what: 'an unknown status',
  },
  {
    route: 'GET /v1/webhooks/subscriptions',
    url: '/v1/webhooks/subscriptions?cursor=not*a*cursor',
    status: 400,
    what: 'a malformed cursor',
  },
  {
    route: 'GET /v1/webhooks/dead-letters',
    url: `/v1/webhooks/dead-letters?subscriptionId=${SQLQ}`,
    status: 400,
    what: 'SQL in subscriptionId',
  },
  {
    route: 'GET /v1/webhooks/dead-letters',
    url: `/v1/webhooks/dead-letters?cursor=${encodeURIComponent(Buffer.from('"x"').toString('base64url'))}`,
    status: 400,
    what: 'a cursor of another list',
  },
];

describe('bad input', () => {
  let t: TestApi;
  beforeAll(async () => {
    t = await startTestApi({ env: { API_CSV_BODY_LIMIT_BYTES: '2048' } });
    await seedPortfolio(t.state);
  });
  afterAll(() => t.close());

  for (const c of CASES) {
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

  it('when a free-text field holds SQL, then it is stored literally and nothing else is touched', async () => {
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

  it('when the bad-input table is compared with the routes, then every route with a parameter, query or body has cases', () => {
    const covered = new Set(CASES.map((c) => c.route));
    const needing = registeredRoutes(t.app)
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
    expect(needing.filter((r) => !covered.has(r))).toEqual([]);
  });
});

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
