import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig } from '../../core/config.js';
import type { DeviceSessions } from '../../core/contracts/index.js';
import { issueApiKey } from '../../core/credentials.js';
import { silentLogger, type Logger } from '../../core/logger.js';
import { API_ROLES, type ApiRole, type State } from '../../core/state/index.js';
import { openTestState } from '../../core/state/test/backends.js';
import { openSqliteTelemetryStore } from '../../core/storage/sqlite-telemetry-store.js';
import type { TelemetryStore } from '../../core/storage/telemetry-store.js';
import { buildApp, type ApiApp } from '../app.js';
import { bootstrapAdminKey } from '../auth.js';
import { apiConfigSpec } from '../config.js';
import { riskScores } from '../routes/scores.js';
import { createAlerts, policyBreachAlerts, type AlertsComponent } from '../../alerts/index.js';
import { createCredit, type CreditComponent } from '../../risk/credit/credit-app.js';
import { creditConfigSpec } from '../../risk/credit/config.js';
import { createRisk, riskBackendConfigSpec, riskConfigSpec, type RiskComponent } from '../../risk/index.js';
import { createWebhooks, webhookConfigSpec, type Webhooks } from '../../webhooks/index.js';

export const T0 = Date.UTC(2026, 0, 1);

/** A valid active loan of b1 for the import tests; `over` changes fields. */
export const loan = (id: string, over: Record<string, unknown> = {}) => ({
  id,
  borrowerId: 'b1',
  principal: 100_000,
  currency: 'EUR',
  annualRatePct: 7.5,
  startAt: T0,
  termDays: 360,
  status: 'active',
  ...over,
});

export interface TestApi {
  readonly app: ApiApp;
  readonly state: State;
  readonly telemetry: TelemetryStore;
  /** One active key per role. */
  readonly keys: Record<ApiRole, string>;
  readonly dir: string;
  /** The risk component when started `withRisk`. */
  readonly risk?: RiskComponent;
  /** The alerts component (always wired: engine, lifecycle, rules, stream). */
  readonly alerts: AlertsComponent;
  /** Webhooks; their deliverer runs only when `env` sets WEBHOOK_DELIVERY=true. */
  readonly webhooks: Webhooks;
  /** Credit: the monitor (not started: tests call `refresh`), the policy, applications and decisions. */
  readonly credit: CreditComponent;
  auth(role: ApiRole): { authorization: string };
  close(): Promise<void>;
}

/** A broker that is up and has no device connected. */
export const idleSessions: DeviceSessions = {
  disconnectsImmediately: true,
  disconnect: () => Promise.resolve(false),
  isUp: () => Promise.resolve(true),
};

/**
 * The API on real stores: the test run's state backend (SQLite in a temp dir, or PostgreSQL with
 * RISKFUSE_TEST_STATE=postgres) and SQLite telemetry, with an API key per role.
 */
export async function startTestApi(
  options: {
    env?: Record<string, string>;
    /** The broker's side; a function when it needs the state store (a real broker's registry). */
    sessions?: DeviceSessions | ((state: State) => DeviceSessions);
    telemetry?: TelemetryStore;
    /** An existing state (e.g. a simulated world's); closed by the caller, not by `close()`. */
    state?: State;
    /** Wire in a real risk component (shipped default model) for the score and model routes. */
    withRisk?: boolean;
    /** The risk component's clock (a simulated world's time), Date.now otherwise. */
    riskNow?: () => number;
    log?: Logger;
  } = {},
): Promise<TestApi> {
  const dir = mkdtempSync(join(tmpdir(), 'rf-api-'));
  const ownState = options.state === undefined;
  const state = options.state ?? (await openTestState(dir));
  const telemetry = options.telemetry ?? openSqliteTelemetryStore(join(dir, 'telemetry.db'));
  const config = parseConfig(apiConfigSpec, { API_RATE_LIMIT_PER_MIN: '1000000', ...options.env });
  const boot = await bootstrapAdminKey(state, undefined, T0);
  if (!boot.created || boot.generated === undefined) throw new Error('no admin key bootstrapped');
  const keys = { admin: boot.generated } as Record<ApiRole, string>;
  for (const role of API_ROLES.filter((r) => r !== 'admin')) {
    const issued = issueApiKey();
    await state.apiKeys.createApiKey({ id: issued.id, name: role, role, createdAt: T0 }, issued);
    keys[role] = issued.key;
  }
  const risk =
    options.withRisk === true
      ? await createRisk({
          config: { ...parseConfig({ ...riskConfigSpec, ...riskBackendConfigSpec }, {}), dataDir: dir },
          state,
          telemetry,
          log: silentLogger,
          ...(options.riskNow === undefined ? {} : { now: options.riskNow }),
        })
      : undefined;
  const alerts = await createAlerts({
    state,
    log: silentLogger,
    config: {
      alertSilenceCheckIntervalMs: 0,
      alertStreamHeartbeatMs: Number(options.env?.ALERT_STREAM_HEARTBEAT_MS ?? 15_000),
      alertStreamPollMs: 50,
    },
  });
  const webhooks = createWebhooks({
    config: parseConfig(webhookConfigSpec, { WEBHOOK_DELIVERY: 'false', ...options.env }),
    state,
    log: options.log ?? silentLogger,
  });
  webhooks.deliverer?.start();
  const credit = createCredit({
    config: parseConfig(creditConfigSpec, { CREDIT_DEBOUNCE_MS: '0', ...options.env }),
    state,
    telemetry,
    log: silentLogger,
    ...(options.riskNow === undefined ? {} : { now: options.riskNow }),
    ...policyBreachAlerts(alerts.service),
  });
  const app = await buildApp({
    credit,
    config,
    state,
    telemetry,
    alerts,
    webhooks: webhooks.service,
    ...(risk === undefined ? {} : { scores: riskScores(risk) }),
    log: options.log ?? silentLogger,
    sessions:
      typeof options.sessions === 'function' ? options.sessions(state) : (options.sessions ?? idleSessions),
  });
  await app.ready();
  return {
    app,
    state,
    telemetry,
    keys,
    dir,
    ...(risk === undefined ? {} : { risk }),
    alerts,
    webhooks,
    credit,
    auth: (role) => ({ authorization: `Bearer ${keys[role]}` }),
    async close() {
      await app.close();
      await alerts.close();
      await credit.close();
      await webhooks.deliverer?.close();
      await risk?.close();
      if (options.telemetry === undefined) await telemetry.close();
      if (ownState) await state.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A small portfolio: borrower b1 with warehouse s1 and lot l1, borrower b2 with nothing. */
export async function seedPortfolio(state: State): Promise<void> {
  await state.portfolio.upsertBorrowers([
    { id: 'b1', name: 'Grain Co', sector: 'trading', region: 'north', createdAt: T0 },
    { id: 'b2', name: 'Steel Coil Ltd', sector: 'manufacturing', region: 'south', createdAt: T0 + 1 },
  ]);
  await state.portfolio.upsertSites([
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
  await state.portfolio.upsertLots([
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
}

/**
 * Every table of the state, for before/after comparisons (the audit log included): read through `state.db` on
 * either engine, each table's rows ordered by all its columns.
 */
export async function snapshot(state: State): Promise<Record<string, unknown[]>> {
  const { db } = state;
  const tables =
    db.dialect === 'sqlite'
      ? await db.all<{ name: string }>(
          `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name`,
        )
      : await db.all<{ name: string }>(
          `SELECT table_name AS name FROM information_schema.tables
           WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY table_name`,
        );
  const out: Record<string, unknown[]> = {};
  for (const { name } of tables) {
    const columns =
      db.dialect === 'sqlite'
        ? await db.all<{ name: string }>('SELECT name FROM pragma_table_info(?) ORDER BY cid', [name])
        : await db.all<{ name: string }>(
            `SELECT column_name AS name FROM information_schema.columns
             WHERE table_schema = 'public' AND table_name = ? ORDER BY ordinal_position`,
            [name],
          );
    const order = columns.map((_, i) => String(i + 1)).join(', ');
    const rows = await db.all(`SELECT * FROM "${name}" ORDER BY ${order}`);
    // last_used_at moves on reads (at most once a minute per key); it is not state a request changes.
    out[name] = name === 'api_keys' ? rows.map(({ last_used_at: _, ...r }) => r) : rows;
  }
  return out;
}
