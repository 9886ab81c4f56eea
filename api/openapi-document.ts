import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig } from '../core/config.js';
import { silentLogger } from '../core/logger.js';
import { openSqliteState } from '../core/state/index.js';
import { openSqliteTelemetryStore } from '../core/storage/sqlite-telemetry-store.js';
import { buildApp } from './app.js';
import { createCredit } from '../risk/credit/credit-app.js';
import { creditConfigSpec } from '../risk/credit/config.js';
import { apiConfigSpec } from './config.js';
import { tcpDeviceSessions } from './device-sessions.js';
import type { ScoresService } from './routes/scores.js';
import { RiskfuseError } from '../core/errors.js';
import { createWebhooks, webhookConfigSpec } from '../webhooks/index.js';
import { alertsConfigSpec, createAlerts } from '../alerts/index.js';

const unavailable = (): never => {
  throw new RiskfuseError('INTERNAL', 'no scoring while the OpenAPI document is generated');
};
const documentationOnlyScores: ScoresService = {
  latest: unavailable,
  latestKey: unavailable,
  latestMany: unavailable,
  heads: unavailable,
  history: unavailable,
  daily: unavailable,
  trends: unavailable,
  rescore: unavailable,
  notifyLoanEvent: unavailable,
  models: unavailable,
  model: unavailable,
  activate: unavailable,
};

/**
 * The OpenAPI document as `npm run openapi` writes it to `openapi.json`: generated from the route schemas of an
 * app built with the default configuration (never the caller's environment), so the output depends on the
 * code alone. A test compares it to the committed file.
 */
export async function openApiDocument(): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'rf-openapi-'));
  const state = openSqliteState(':memory:');
  const telemetry = openSqliteTelemetryStore(join(dir, 'telemetry.db'));
  const alerts = await createAlerts({
    config: parseConfig(alertsConfigSpec, { ALERT_SILENCE_CHECK_INTERVAL_MS: '0' }),
    state,
    log: silentLogger,
  });
  try {
    const app = await buildApp({
      config: parseConfig(apiConfigSpec, {}),
      state,
      telemetry,
      log: silentLogger,
      sessions: tcpDeviceSessions('mqtt://127.0.0.1:1883'),
      // Only the routes' schemas are read; nothing is scored or delivered while the document is generated.
      scores: documentationOnlyScores,
      webhooks: createWebhooks({
        config: parseConfig(webhookConfigSpec, { WEBHOOK_DELIVERY: 'false' }),
        state,
        log: silentLogger,
      }).service,
      credit: createCredit({
        config: parseConfig(creditConfigSpec, {}),
        state,
        telemetry,
        log: silentLogger,
      }),
      // The alert routes are registered only with the alerts component: without it they were missing from
      // the document (and from the dashboard's generated types). No timer runs: silence checks are off.
      alerts,
    });
    await app.ready();
    const doc = JSON.stringify(app.swagger(), null, 2);
    await app.close();
    return `${doc}\n`;
  } finally {
    await alerts.close();
    await telemetry.close();
    await state.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
