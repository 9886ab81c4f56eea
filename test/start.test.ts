import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../core/config.js';
import { silentLogger } from '../core/logger.js';
import { openTelemetryStore } from '../core/storage/open-telemetry-store.js';
import { openSqliteState } from '../core/state/index.js';
import { telemetryConfigSpec } from '../core/storage/telemetry-config.js';
import { spawnRiskfuse } from './support/riskfuse-process.js';

/** The Quick start's promise: within 60 s of `riskfuse start`, readings of all three kinds are stored. */
describe('riskfuse start (npm start)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'rf-start-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('when started on a fresh data dir, then the API answers with the printed admin key, within 60 s all three kinds are stored and shown, the shipped model scores the portfolio, and Ctrl-C stops it cleanly', async () => {
    const startedAt = Date.now();
    const proc = spawnRiskfuse(['start'], {
      DATA_DIR: dir,
      MQTT_PORT: '0',
      MQTT_HOST: '127.0.0.1',
      API_PORT: '0',
      API_HOST: '127.0.0.1',
    });
    try {
      await proc.waitFor(/MQTT broker\s+mqtt:\/\/127\.0\.0\.1:\d+/, 30_000);
      await proc.waitFor(/Ctrl-C to stop\./, 30_000);
      const apiUrl = /API\s+(http:\/\/127\.0\.0\.1:\d+)\/v1 · docs/.exec(proc.output())?.[1];
      const adminKey = /admin key \(shown once, store it now\): (rfk_\S+)/.exec(proc.output())?.[1];
      expect(apiUrl).toBeDefined();
      expect(adminKey).toBeDefined();
      const borrowers = await fetch(`${apiUrl ?? ''}/v1/borrowers?limit=5`, {
        headers: { authorization: `Bearer ${adminKey ?? ''}` },
      });
      expect(borrowers.status).toBe(200);
      expect(((await borrowers.json()) as { items: unknown[] }).items).toHaveLength(5);
      const metrics = await (await fetch(`${apiUrl ?? ''}/metrics`)).text();
      expect(metrics).toMatch(/^riskfuse_ingest_readings_stored_total \d+$/m);
      await proc.waitFor(
        /stake [1-9][\d,]* · helmet [1-9][\d,]* · satellite [1-9][\d,]*/,
        60_000 - (Date.now() - startedAt),
      );
      expect(Date.now() - startedAt).toBeLessThan(60_000);
      expect(proc.output()).toMatch(/risk scoring\s+champion v1 \(fused-mlp, the shipped default\)/);
      await proc.waitFor(/scores [1-9][\d,]*/, 60_000 - (Date.now() - startedAt));
    } finally {
      const code = await proc.kill('SIGINT');
      expect(proc.output()).toMatch(/stopped\. [\d,]+ readings stored this run\./);
      expect(code).toBe(0);
    }
    const store = await openTelemetryStore(parseConfig(telemetryConfigSpec, { DATA_DIR: dir }), silentLogger);
    try {
      for (const kind of ['stake', 'helmet', 'satellite'] as const) {
        expect(await store.count({ kind }), kind).toBeGreaterThan(0);
      }
    } finally {
      await store.close();
    }
    // Every borrower with a loan got a stored champion score with reasons (in the SQLite file `start` keeps).
    const state = openSqliteState(join(dir, 'state.db'));
    try {
      const scores = await state.scores.latestScores();
      expect(scores.length).toBeGreaterThanOrEqual(40);
      expect(scores.every((s) => s.modelVersion === 'v1' && s.pd > 0 && s.pd < 1)).toBe(true);
      expect(scores.some((s) => s.reasons.length > 0)).toBe(true);
    } finally {
      await state.close();
    }
  }, 90_000);
});
