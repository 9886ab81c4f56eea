import type { ApiRole } from '../core/state/index.js';

/**
 * Who may call what: the one table the auth hook enforces and the auth-matrix test walks. A route is keyed
 * `METHOD path` as registered (HEAD follows GET); a route missing here is refused to everyone (fail closed),
 * and a test fails when one is. `public` needs no key.
 *
 * - admin: everything.
 * - officer: read everything but keys and the audit log; act on alerts, import loan data, re-score.
 * - auditor: read only, including API keys (never their secrets) and the audit log.
 * - device-ops: devices only — list, provision, rotate, revoke, their readings.
 * - approver: the lender's credit approvers — read what officers read, decide credit applications and close
 *   limit reviews. Only approvers decide (not even admins: the lender keeps credit approval with named people,
 *   and four-eyes counts two different approver keys).
 */
export type Access = 'public' | readonly ApiRole[];

const READ: readonly ApiRole[] = ['admin', 'officer', 'auditor', 'approver'];
const APPROVE: readonly ApiRole[] = ['approver'];
const REVIEW: readonly ApiRole[] = ['admin', 'officer', 'approver'];
const DEVICE_READ: readonly ApiRole[] = ['admin', 'officer', 'auditor', 'device-ops'];
const DEVICE_WRITE: readonly ApiRole[] = ['admin', 'device-ops'];
const ADMIN: readonly ApiRole[] = ['admin'];
const IMPORT: readonly ApiRole[] = ['admin', 'officer'];
const AUDIT: readonly ApiRole[] = ['admin', 'auditor'];

export const PERMISSIONS: Readonly<Record<string, Access>> = {
  'GET /health': 'public',
  'GET /ready': 'public',
  'GET /metrics': 'public',
  'GET /openapi.json': 'public',
  // Redirects to the dashboard (api/dashboard.ts).
  'GET /': 'public',
  // Who am I: the dashboard shows the buttons the caller's role may use.
  'GET /v1/me': ['admin', 'officer', 'auditor', 'device-ops', 'approver'],

  'GET /v1/api-keys': AUDIT,
  'POST /v1/api-keys': ADMIN,
  'POST /v1/api-keys/:id/rotate': ADMIN,
  'DELETE /v1/api-keys/:id': ADMIN,
  'GET /v1/audit': AUDIT,

  'GET /v1/portfolio/summary': READ,
  'GET /v1/borrowers': READ,
  'POST /v1/borrowers': ADMIN,
  'GET /v1/borrowers/:id': READ,
  'PATCH /v1/borrowers/:id': ADMIN,
  'DELETE /v1/borrowers/:id': ADMIN,
  'GET /v1/sites': READ,
  'POST /v1/sites': ADMIN,
  'GET /v1/sites/:id': READ,
  'PATCH /v1/sites/:id': ADMIN,
  'DELETE /v1/sites/:id': ADMIN,
  'GET /v1/lots': READ,
  'POST /v1/lots': ADMIN,
  'GET /v1/lots/:id': READ,
  'PATCH /v1/lots/:id': ADMIN,
  'DELETE /v1/lots/:id': ADMIN,

  'GET /v1/devices': DEVICE_READ,
  'GET /v1/devices/summary': DEVICE_READ,
  'POST /v1/devices': DEVICE_WRITE,
  'GET /v1/devices/:id': DEVICE_READ,
  'POST /v1/devices/:id/rotate': DEVICE_WRITE,
  'POST /v1/devices/:id/revoke': DEVICE_WRITE,
  'GET /v1/devices/:id/readings': DEVICE_READ,
  'GET /v1/telemetry/aggregate': READ,
  'GET /v1/sites/:id/worker-hours': READ,

  'GET /v1/loans': READ,
  'GET /v1/loans/:id': READ,
  'GET /v1/loans/:id/repayments': READ,
  'POST /v1/imports/loans': IMPORT,
  'POST /v1/imports/repayments': IMPORT,

  // Registered only when the risk module is wired in (`deps.scores`, api/routes/scores.ts).
  'GET /v1/borrowers/:id/score': READ,
  'GET /v1/borrowers/:id/scores': READ,
  'GET /v1/scores': READ,
  'GET /v1/portfolio/borrowers': READ,
  'POST /v1/borrowers/:id/rescore': IMPORT,
  'GET /v1/models': READ,
  'GET /v1/models/:version': READ,
  'POST /v1/models/:version/activate': ADMIN,
  // Model monitoring (api/routes/model-health.ts): drift and backtests, read like the registry.
  'GET /v1/models/health': READ,
  'GET /v1/models/:version/drift': READ,
  'GET /v1/models/:version/backtest': READ,

  // Registered only when the alerts component is wired in (`deps.alerts`, api/routes/alerts.ts).
  'GET /v1/alerts': READ,
  'GET /v1/alerts/:id': READ,
  'POST /v1/alerts/:id/acknowledge': IMPORT,
  'POST /v1/alerts/:id/resolve': IMPORT,
  'GET /v1/alerts/stream': READ,
  'GET /v1/alerts/rules': READ,
  'PUT /v1/alerts/rules/:id': ADMIN,
  'PUT /v1/alerts/rules/:id/overrides/:borrowerId': ADMIN,
  'DELETE /v1/alerts/rules/:id/overrides/:borrowerId': ADMIN,
  // Cases (api/routes/cases.ts, with the alerts component): officers work them, auditors read them.
  'GET /v1/cases': READ,
  'GET /v1/cases/:id': READ,
  'POST /v1/cases/:id/transition': IMPORT,
  'POST /v1/cases/:id/notes': IMPORT,
  'GET /v1/alerts/rules/precision': READ,
  // Maintenance windows and snoozes (api/routes/suppressions.ts): officers set and end them (audited), every
  // reader sees them and what they held back.
  'GET /v1/alerts/suppressions': READ,
  'POST /v1/alerts/suppressions': IMPORT,
  'GET /v1/alerts/suppressions/:id': READ,
  'POST /v1/alerts/suppressions/:id/end': IMPORT,
  'GET /v1/alerts/suppressed': READ,
  // Webhooks (api/routes/webhooks.ts, when wired in): admins manage them; officers and auditors read
  // subscriptions (never secrets), delivery logs and dead letters.
  'GET /v1/webhooks/subscriptions': READ,
  'POST /v1/webhooks/subscriptions': ADMIN,
  'GET /v1/webhooks/subscriptions/:id': READ,
  'PATCH /v1/webhooks/subscriptions/:id': ADMIN,
  'DELETE /v1/webhooks/subscriptions/:id': ADMIN,
  'POST /v1/webhooks/subscriptions/:id/rotate-secret': ADMIN,
  'POST /v1/webhooks/subscriptions/:id/ping': ADMIN,
  'GET /v1/webhooks/subscriptions/:id/deliveries': READ,
  'POST /v1/webhooks/subscriptions/:id/replay': ADMIN,
  'GET /v1/webhooks/deliveries/:id': READ,
  'POST /v1/webhooks/deliveries/:id/replay': ADMIN,
  'GET /v1/webhooks/dead-letters': READ,

  // Credit (api/routes/credit.ts, credit-applications.ts, when wired in): officers file applications, approvers
  // decide them; admins change the lending policy.
  'GET /v1/credit/exposures': READ,
  'GET /v1/borrowers/:id/credit': READ,
  'GET /v1/policy': READ,
  'PUT /v1/policy': ADMIN,
  'GET /v1/policy/versions': READ,
  'GET /v1/reviews': READ,
  'POST /v1/reviews/:id/close': REVIEW,
  'POST /v1/applications': IMPORT,
  'POST /v1/recommendations': REVIEW,
  'GET /v1/applications': READ,
  'GET /v1/applications/:id': READ,
  'POST /v1/applications/:id/decisions': APPROVE,
};

/**
 * The `METHOD path` keys a role may call, in the table's order: `GET /v1/me` sends them, so the dashboard
 * shows a page or a button only when this table lets the caller use it (never a second copy of the table in
 * web/). Pinned by api/test/dashboard.test.ts.
 */
export const routesFor = (role: ApiRole): string[] =>
  Object.entries(PERMISSIONS)
    .filter(([, access]) => access !== 'public' && access.includes(role))
    .map(([route]) => route);

/**
 * Paths under these prefixes are static assets: the documentation UI and the dashboard (api/dashboard.ts).
 * Public, since they hold no data: the dashboard's API calls carry the key its user types in.
 */
export const PUBLIC_PREFIXES = ['/docs', '/dashboard'] as const;

export function accessFor(method: string, url: string): Access | undefined {
  if (PUBLIC_PREFIXES.some((p) => url === p || url.startsWith(`${p}/`))) return 'public';
  return PERMISSIONS[`${method === 'HEAD' ? 'GET' : method} ${url}`];
}
