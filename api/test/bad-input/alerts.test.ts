/** Bad input on the alert, suppression and case routes. */
import { badInputSuite, type Case, SQL, SQLQ } from './support.js';

const CASES: Case[] = [
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
];

badInputSuite('alerts', CASES);
