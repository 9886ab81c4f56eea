import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../core/config.js';
import { silentLogger } from '../core/logger.js';
import { openState, stateConfigSpec } from '../core/state/index.js';
import { openSqliteTelemetryStore } from '../core/storage/sqlite-telemetry-store.js';
import { HOUR, seedSecuredBorrower, stakeReading } from '../risk/test/credit/fixtures.js';
import { freshPostgresDatabase } from './support/postgres.js';
import { spawnRiskfuse, type RiskfuseProcess } from './support/riskfuse-process.js';

/**
 * Two `riskfuse start` on one PostgreSQL (all-in-one replicas): the credit monitor is elected (`credit-monitor`
 * lock, bin/start.ts) as in `riskfuse risk`, so only one process recomputes the credit figures — two would
 * race on them and could each announce the same breach — and the other takes over when it stops. Each
 * process's own counter (`riskfuse_credit_refreshes_total` on its /metrics) says which one computes.
 */
const dirs: string[] = [];
const procs: RiskfuseProcess[] = [];
afterAll(async () => {
  for (const p of procs) await p.kill('SIGKILL');
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

async function until(what: string, cond: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await cond()) return;
    await sleep(200);
  }
  throw new Error(`timed out waiting until ${what}`);
}

async function refreshes(apiUrl: string): Promise<number> {
  const text = await (await fetch(`${apiUrl}/metrics`)).text();
  const m = /^riskfuse_credit_refreshes_total (\d+)/m.exec(text);
  if (m === null) throw new Error(`no riskfuse_credit_refreshes_total in ${apiUrl}/metrics`);
  return Number(m[1]);
}

describe('credit monitor of riskfuse start', () => {
  it('when two riskfuse start share one PostgreSQL, then one computes the credit figures, and the other takes over when it stops', async () => {
    const url = await freshPostgresDatabase('start_credit_elected');
    if (url === undefined) throw new Error('PostgreSQL is not available (install Debian postgresql)');
    const shared = mkdtempSync(join(tmpdir(), 'rf-start-credit-'));
    dirs.push(shared);
    const telemetryPath = join(shared, 'telemetry.db');
    const telemetry = openSqliteTelemetryStore(telemetryPath);
    const state = await openState(
      parseConfig(stateConfigSpec, { STATE_DB_URL: url }),
      silentLogger,
      'start-credit-elected-test',
    );
    try {
      const now = Date.now();
      await telemetry.writeReadings([stakeReading(now - HOUR, 1, { weightKg: 90_000 })]);
      await seedSecuredBorrower(state, now);
      const start = async (name: string) => {
        const dataDir = join(shared, name);
        const p = spawnRiskfuse(['start'], {
          STATE_DB_URL: url,
          DATA_DIR: dataDir,
          TELEMETRY_DB_PATH: telemetryPath,
          DEMO: 'false',
          API_HOST: '127.0.0.1',
          API_PORT: '0',
          MQTT_PORT: '0',
          CREDIT_REFRESH_INTERVAL_MS: '1000',
          RISK_SCORE_INTERVAL_MS: '3600000',
          LEADER_CHECK_INTERVAL_MS: '200',
          LOG_LEVEL: 'error',
        });
        procs.push(p);
        await p.waitFor(/API\s+http:\/\/127\.0\.0\.1:\d+\/v1/, 90_000);
        const m = /API\s+(http:\/\/127\.0\.0\.1:\d+)\/v1/.exec(p.output());
        return { p, apiUrl: m?.[1] ?? '' };
      };
      const a = await start('a');
      const b = await start('b');
      await until(
        'the figures are stored',
        async () => (await state.credit.getExposures(['b1'])).get('b1') !== undefined,
      );
      // Two refresh intervals more: a second computing process would have counted by now.
      await sleep(2_500);
      const counts = [await refreshes(a.apiUrl), await refreshes(b.apiUrl)];
      expect(counts.filter((n) => n > 0)).toHaveLength(1);
      expect((await state.credit.getExposures(['b1'])).get('b1')?.verifiedValue).toBeCloseTo(90_000 * 0.7, 6);
      const [leader, standby] = (counts[0] ?? 0) > 0 ? [a, b] : [b, a];

      await leader.p.kill('SIGTERM');
      await until('the standby takes over', async () => (await refreshes(standby.apiUrl)) > 0);
    } finally {
      await telemetry.close();
      await state.close();
    }
  }, 240_000);
});
