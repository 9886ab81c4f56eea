import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Reading } from '../contracts/index.js';
import { silentLogger } from '../logger.js';
import type { State } from '../state/index.js';
import { openTestState } from '../state/test/backends.js';
import { retentionCuts, RetentionJob, type RetentionConfig } from '../storage/retention.js';
import { openSqliteTelemetryStore, type SqliteTelemetryStore } from '../storage/sqlite-telemetry-store.js';

const DAY_MS = 86_400_000;
const NOW = Date.UTC(2026, 5, 15, 13, 45);
const TODAY = Date.UTC(2026, 5, 15);

const config = (over: Partial<RetentionConfig> = {}): RetentionConfig => ({
  telemetryRawRetentionDays: 10,
  telemetryHourlyRetentionDays: 30,
  telemetryDailyRetentionDays: 0,
  scoresThinAfterDays: 5,
  retentionIntervalMs: 3_600_000,
  ...over,
});

describe('retention cut-offs', () => {
  it('when windows are set in days, then cuts fall on UTC midnights, 0 keeps forever and a coarser window never ends first', () => {
    expect(retentionCuts(config(), NOW)).toEqual({
      rawBeforeMs: TODAY - 10 * DAY_MS,
      hourlyBeforeMs: TODAY - 30 * DAY_MS,
      dailyBeforeMs: 0,
    });
    expect(
      retentionCuts(config({ telemetryHourlyRetentionDays: 3, telemetryDailyRetentionDays: 2 }), NOW),
    ).toEqual({
      rawBeforeMs: TODAY - 10 * DAY_MS,
      hourlyBeforeMs: TODAY - 10 * DAY_MS,
      dailyBeforeMs: TODAY - 10 * DAY_MS,
    });
    expect(retentionCuts(config({ telemetryRawRetentionDays: 0 }), NOW).rawBeforeMs).toBe(0);
  });
});

describe('retention job', () => {
  let dir: string;
  let telemetry: SqliteTelemetryStore;
  let state: State;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'rf-retention-'));
    telemetry = openSqliteTelemetryStore(join(dir, 'telemetry.db'));
    state = await openTestState(dir);
  });
  afterEach(async () => {
    await telemetry.close();
    await state.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('when a pass runs, then readings older than the raw window are gone, their daily aggregates remain, and old scores are thinned to one a day', async () => {
    const readings: Reading[] = [];
    for (let d = 1; d <= 20; d++) {
      for (let h = 0; h < 24; h += 6) {
        readings.push({
          kind: 'stake',
          deviceId: 'stk-1',
          borrowerId: 'b1',
          siteId: 's1',
          ts: TODAY - d * DAY_MS + h * 3_600_000,
          seq: d * 100 + h,
          fields: { weightKg: 1_000 + d + h },
        });
      }
    }
    await telemetry.writeReadings(readings);
    const q = {
      kind: 'stake' as const,
      field: 'weightKg',
      fromMs: TODAY - 20 * DAY_MS,
      toMs: TODAY,
      intervalMs: DAY_MS,
      groupBy: 'device' as const,
    };
    const daily = await telemetry.aggregate(q);
    await state.models.addModel({
      version: 'v1',
      name: 'm',
      kind: 'mlp',
      status: 'challenger',
      createdAt: 0,
      artifactPath: 'x',
      dataHash: 'h',
      backend: 'wasm',
      meta: {},
    });
    const at = (d: number, h: number): number => TODAY - d * DAY_MS + h * 3_600_000;
    await state.scores.addScores(
      [at(8, 1), at(8, 9), at(8, 20), at(2, 1), at(2, 5)].map((ms) => ({
        borrowerId: 'b1',
        at: ms,
        modelVersion: 'v1',
        shadow: false,
        pd: 0.02,
        score: 700,
        grade: 'B',
        reasons: [],
        trigger: 'periodic',
      })),
    );

    const pass = await new RetentionJob({
      config: config(),
      telemetry,
      scores: state.scores,
      log: silentLogger,
      now: () => NOW,
    }).runOnce();

    const cut = TODAY - 10 * DAY_MS;
    expect(pass.telemetry?.raw).toBe(readings.filter((r) => r.ts < cut).length);
    expect(await telemetry.count({ toMs: cut })).toBe(0);
    expect(await telemetry.count({})).toBe(readings.filter((r) => r.ts >= cut).length);
    expect(await telemetry.aggregate(q)).toEqual(daily);
    expect(pass.scoresDeleted).toBe(2);
    expect((await state.scores.scoreHistory({ borrowerId: 'b1' })).map((s) => s.at)).toEqual([
      at(2, 5),
      at(2, 1),
      at(8, 20),
    ]);
  });
});
