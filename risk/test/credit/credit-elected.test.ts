import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../../core/config.js';
import { silentLogger } from '../../../core/logger.js';
import { openState, stateConfigSpec } from '../../../core/state/index.js';
import { openSqliteTelemetryStore } from '../../../core/storage/sqlite-telemetry-store.js';
import { freshPostgresDatabase } from '../../../test/support/postgres.js';
import { riskMain } from '../../main.js';
import { HOUR, seedSecuredBorrower, stakeReading } from './fixtures.js';

/**
 * Split deployment: two `riskfuse risk` processes on one PostgreSQL. The credit monitor is an elected job
 * (`credit-monitor` lock, risk/main.ts), so exactly one of them recomputes the credit figures, and the other
 * takes over when it stops. The leader is not handed the ingest's readings in-process: it re-reads the
 * stakes' latest state from the telemetry store at each refresh.
 */
const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

async function until(what: string, cond: () => boolean | Promise<boolean>, timeoutMs = 20_000) {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await cond()) return;
    await sleep(50);
  }
  throw new Error(`timed out waiting until ${what}`);
}

describe('credit monitor in a split deployment', () => {
  it('when two risk processes share one PostgreSQL, then one computes the credit figures, and the other takes over when it stops', async () => {
    const url = await freshPostgresDatabase('credit_elected');
    if (url === undefined) throw new Error('PostgreSQL is not available (install Debian postgresql)');
    const dataDir = mkdtempSync(join(tmpdir(), 'rf-credit-elected-'));
    dirs.push(dataDir);
    const now = Date.now();
    const telemetryPath = join(dataDir, 'telemetry.db');
    const telemetry = openSqliteTelemetryStore(telemetryPath);
    await telemetry.writeReadings([stakeReading(now - HOUR, 1, { weightKg: 90_000 })]);
    const state = await openState(
      parseConfig(stateConfigSpec, { STATE_DB_URL: url }),
      silentLogger,
      'credit-elected-test',
    );
    await seedSecuredBorrower(state, now);
    const env = {
      STATE_DB_URL: url,
      DATA_DIR: dataDir,
      TELEMETRY_DB_PATH: telemetryPath,
      CREDIT_REFRESH_INTERVAL_MS: '1000',
      RISK_SCORE_INTERVAL_MS: '3600000',
      LEADER_CHECK_INTERVAL_MS: '200',
      LOG_LEVEL: 'error',
    };
    const a = await riskMain(env, { log: silentLogger, installSignalHandlers: false });
    const b = await riskMain(env, { log: silentLogger, installSignalHandlers: false });
    try {
      const exposure = async () => (await state.credit.getExposures(['b1'])).get('b1');
      await until('the figures are stored', async () => (await exposure()) !== undefined);
      // Two refresh intervals more: a second computing process would have run by now.
      await sleep(2_500);
      const computing = [a, b].filter((p) => p.credit.monitor.counters.refreshes > 0);
      expect(computing).toHaveLength(1);
      expect([a, b].filter((p) => p.credit.monitor.running)).toHaveLength(1);
      const leader = computing[0] as typeof a;
      const standby = leader === a ? b : a;
      expect(standby.credit.monitor.counters.refreshes).toBe(0);
      expect((await exposure())?.ead).toBe(60_000);
      expect((await exposure())?.verifiedValue).toBeCloseTo(90_000 * 0.7, 6);

      // A reading stored by an ingest elsewhere reaches the leader through the telemetry store.
      await telemetry.writeReadings([stakeReading(Date.now(), 2, { weightKg: 30_000 })]);
      await until(
        'the lot weight is re-read',
        async () => (await exposure())?.verifiedValue === 30_000 * 0.7,
      );

      await leader.close();
      await until('the standby takes over', () => standby.credit.monitor.counters.refreshes > 0);
      expect(standby.credit.monitor.running).toBe(true);
    } finally {
      await a.close();
      await b.close();
      await telemetry.close();
      await state.close();
    }
  }, 90_000);
});
