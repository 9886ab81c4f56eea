/**
 * `npm run bench:decisions`: with BENCH_BORROWERS (default 10,000) borrowers — each with a warehouse, a pledged
 * lot and its stake, a loan with a repayment and a score — on the embedded SQLite state:
 * 1. a recommendation for one credit application (risk/decisions/applications.ts `recommend`), p50/p99 over
 *    BENCH_SAMPLES random borrowers; aim under 100 ms p99;
 * 2. EL refreshed after a stake reading that moves coverage (the ingest's onStored → the credit monitor →
 *    credit_exposures stored, debounce 0), p50/p99; aim under 1 s p99.
 * Baseline, in the same run: one read of a borrower's stored exposure (`getExposures([id])`); the figures are
 * printed beside it as ratios. The last line is one JSON object with every figure.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { makeCredentials } from '../core/credentials.js';
import { parseConfig } from '../core/config.js';
import { silentLogger } from '../core/logger.js';
import { openSqliteState } from '../core/state/index.js';
import { openSqliteTelemetryStore } from '../core/storage/sqlite-telemetry-store.js';
import { createCredit } from '../risk/credit/credit-app.js';
import { creditConfigSpec } from '../risk/credit/config.js';
import { CreditApplications } from '../risk/decisions/applications.js';
import { envInt, runBench } from './support.js';

const pct = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;
};
const r2 = (n: number) => Math.round(n * 100) / 100;

async function main(): Promise<void> {
  const n = envInt('BENCH_BORROWERS', 10_000);
  const samples = envInt('BENCH_SAMPLES', 200);
  const dir = mkdtempSync(join(tmpdir(), 'rf-bench-decisions-'));
  const state = openSqliteState(join(dir, 'state.db'));
  const telemetry = openSqliteTelemetryStore(join(dir, 'telemetry.db'));
  const T = Date.UTC(2026, 5, 1);
  const now = { ms: T };
  try {
    const ids = Array.from({ length: n }, (_, i) => `b${String(i).padStart(5, '0')}`);
    const fence: [number, number][] = [
      [0, 0],
      [0, 1],
      [1, 1],
      [1, 0],
    ];
    await state.transaction(async () => {
      await state.portfolio.upsertBorrowers(
        ids.map((id) => ({ id, name: id, sector: 'trading', region: 'r', createdAt: T })),
      );
      await state.portfolio.upsertSites(
        ids.map((id) => ({
          id: `s-${id}`,
          borrowerId: id,
          name: 's',
          kind: 'warehouse',
          lat: 0.5,
          lon: 0.5,
          geofence: fence,
        })),
      );
      await state.portfolio.upsertLots(
        ids.map((id) => ({
          id: `l-${id}`,
          borrowerId: id,
          siteId: `s-${id}`,
          commodity: 'canola',
          pledgedWeightKg: 200_000,
          unitPricePerKg: 0.65,
          currency: 'CAD',
          pledgedAt: T,
        })),
      );
      await state.devices.upsertDevices(
        ids.map((id) => ({
          device: {
            id: `stk-${id}`,
            kind: 'stake',
            borrowerId: id,
            siteId: `s-${id}`,
            lotId: `l-${id}`,
            status: 'active',
            createdAt: T,
          },
          credentials: makeCredentials(`stk-${id}`, 'token'),
        })),
      );
      await state.loans.upsertLoans(
        ids.map((id) => ({
          id: `ln-${id}`,
          borrowerId: id,
          principal: 80_000,
          currency: 'CAD',
          annualRatePct: 8,
          startAt: T - 86_400_000 * 30,
          termDays: 365,
          status: 'active',
        })),
      );
      await state.loans.upsertRepayments(
        ids.map((id) => ({
          id: `rp-${id}`,
          loanId: `ln-${id}`,
          dueAt: T + 86_400_000,
          amountDue: 80_000,
          amountPaid: 0,
        })),
      );
      await state.models.addModel({
        version: 'bench',
        name: 'm',
        kind: 'mlp',
        status: 'challenger',
        createdAt: T,
        artifactPath: 'x',
        dataHash: 'h',
        backend: 'wasm',
        meta: {},
      });
      await state.scores.addScores(
        ids.map((id, i) => ({
          borrowerId: id,
          at: T,
          modelVersion: 'bench',
          shadow: false,
          pd: 0.005 + (i % 50) / 1000,
          score: 650,
          grade: 'B',
          reasons: [
            { feature: 'late_payments_90d', contribution: 0.2, value: 1, text: '1 late payment in 90 days' },
          ],
          trigger: 'periodic',
        })),
      );
    });
    const reading = (id: string, ts: number, seq: number, lat: number) => ({
      kind: 'stake' as const,
      deviceId: `stk-${id}`,
      borrowerId: id,
      siteId: `s-${id}`,
      ts,
      seq,
      fields: {
        weightKg: 200_000,
        itemCount: 200,
        lat,
        lon: 0.5,
        tamper: 0,
        temperatureC: 10,
        humidityPct: 40,
        batteryPct: 90,
      },
    });
    await telemetry.writeReadings(ids.map((id) => reading(id, T - 60_000, 1, 0.5)));
    const credit = createCredit({
      config: parseConfig(creditConfigSpec, {
        CREDIT_DEBOUNCE_MS: '0',
        CREDIT_REFRESH_INTERVAL_MS: '3600000',
      }),
      state,
      telemetry,
      log: silentLogger,
      now: () => now.ms,
    });
    const t0 = performance.now();
    await credit.monitor.start();
    const startMs = performance.now() - t0;
    process.stdout.write(
      `${n} borrowers: registry, observations and every borrower's EL computed in ${Math.round(startMs)} ms\n`,
    );

    const apps = new CreditApplications(state, credit, () => now.ms);
    const pick = (i: number) => ids[(i * 7919) % n] as string;
    const baseline: number[] = [];
    const recommend: number[] = [];
    const refresh: number[] = [];
    for (let i = 0; i < samples; i++) {
      const id = pick(i);
      let t = performance.now();
      await state.credit.getExposures([id]);
      baseline.push(performance.now() - t);
      t = performance.now();
      await apps.recommend({
        borrowerId: id,
        amount: 50_000,
        currency: 'CAD',
        tenorDays: 365,
        lotIds: [`l-${id}`],
        funders: [],
      });
      recommend.push(performance.now() - t);
    }
    let moved = 0;
    for (let i = 0; i < samples; i++) {
      const id = pick(i + samples);
      now.ms += 1_000;
      const t = performance.now();
      // Alternately out of and back into the fence: every reading moves verified coverage.
      credit.monitor.onReadings([reading(id, now.ms, 2 + i, i % 2 === 0 ? 5 : 0.5)]);
      await credit.monitor.settled();
      refresh.push(performance.now() - t);
      const e = (await state.credit.getExposures([id])).get(id);
      if ((i % 2 === 0 && e?.verifiedCoverage === 0) || (i % 2 === 1 && (e?.verifiedCoverage ?? 0) > 0))
        moved += 1;
    }
    if (moved !== samples) throw new Error(`only ${moved} of ${samples} readings moved the stored coverage`);
    await credit.close();
    const b50 = pct(baseline, 50);
    const out = {
      bench: 'decisions',
      borrowers: n,
      samples,
      startMs: Math.round(startMs),
      recommendP50Ms: r2(pct(recommend, 50)),
      recommendP99Ms: r2(pct(recommend, 99)),
      elRefreshP50Ms: r2(pct(refresh, 50)),
      elRefreshP99Ms: r2(pct(refresh, 99)),
      baselineReadP50Ms: r2(b50),
      recommendRatio: r2(pct(recommend, 50) / b50),
      elRefreshRatio: r2(pct(refresh, 50) / b50),
    };
    process.stdout.write(
      `recommendation: p50 ${out.recommendP50Ms} ms, p99 ${out.recommendP99Ms} ms (aim < 100 ms) — ${out.recommendRatio}× one exposure read (${out.baselineReadP50Ms} ms)\n` +
        `EL refreshed after a coverage-moving reading: p50 ${out.elRefreshP50Ms} ms, p99 ${out.elRefreshP99Ms} ms (aim < 1,000 ms) — ${out.elRefreshRatio}× one exposure read\n`,
    );
    process.stdout.write(`${JSON.stringify(out)}\n`);
  } finally {
    await telemetry.close();
    await state.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

runBench(main);
