/**
 * `npm run bench:api` — requests/s and p50/p99 latency of API routes over real HTTP, each beside a trivial
 * Fastify route (a bare `Fastify()` answering `{"ok":true}`, no plugins) measured in the same run, as ratios: of
 * requests/s (`…Ratio`, higher is better) and of p99 latency (`…P99Ratio`, the issue's aim for the score read:
 * at most 3). BENCH_TARGETS=score,borrower runs only those targets.
 *
 * The API is built as in production (auth with a real API key, rate limit raised out of the way, helmet,
 * compression, schema serialisation) on SQLite stores in a temp dir, seeded with one borrower of
 * BENCH_DEVICES stakes reporting every 5 minutes for 7 days. Load: BENCH_CONNECTIONS keep-alive
 * connections (Nagle off) from a worker thread (bench/http-load-worker.ts), closed loop, BENCH_WARMUP_MS
 * then BENCH_DURATION_MS measured per target.
 *
 * A target is one line of TARGETS. The score route reads the borrower's latest score (scored once by the
 * shipped default model, as the scoring service stores it) with its reasons and contributions.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify from 'fastify';
import { tcpDeviceSessions } from '../api/device-sessions.js';
import { riskScores } from '../api/routes/scores.js';
import { createRisk, riskBackendConfigSpec, riskConfigSpec } from '../risk/index.js';
import { parseConfig } from '../core/config.js';
import type { Reading } from '../core/contracts/index.js';
import { issueToken, makeCredentials } from '../core/credentials.js';
import { silentLogger } from '../core/logger.js';
import { openSqliteState } from '../core/state/index.js';
import { openSqliteTelemetryStore } from '../core/storage/sqlite-telemetry-store.js';
import { listenApi } from './api-server.js';
import type { HttpLoadReport } from './http-load-worker.js';
import { cpuSeconds, envInt, httpLoad, runBench } from './support.js';

const CONNECTIONS = envInt('BENCH_CONNECTIONS', 16);
const DURATION_MS = envInt('BENCH_DURATION_MS', 5000);
const WARMUP_MS = envInt('BENCH_WARMUP_MS', 1000);
const DEVICES = envInt('BENCH_DEVICES', 4);
/** Comma-separated target keys to run (e.g. `score`); default all. */
const ONLY = (process.env.BENCH_TARGETS ?? '').split(',').filter((k) => k !== '');
const DAY_MS = 86_400_000;
const STEP_MS = 300_000;

interface Target {
  /** Key prefix in the JSON line, e.g. `borrower` → `borrowerPerS`. */
  readonly key: string;
  readonly name: string;
  readonly path: string;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'rf-bench-api-'));
  const state = openSqliteState(join(dir, 'state.db'));
  const telemetry = openSqliteTelemetryStore(join(dir, 'telemetry.db'));
  const toMs = Math.floor(Date.now() / DAY_MS) * DAY_MS;
  const fromMs = toMs - 7 * DAY_MS;

  await state.portfolio.upsertBorrowers([
    { id: 'b0001', name: 'Bench Grain Co', sector: 'trading', region: 'north', createdAt: fromMs },
  ]);
  await state.portfolio.upsertSites([
    {
      id: 's0001',
      borrowerId: 'b0001',
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
  const deviceIds = Array.from({ length: DEVICES }, (_, i) => `stk-bench-${i}`);
  await state.devices.upsertDevices(
    deviceIds.map((id) => ({
      device: {
        id,
        kind: 'stake' as const,
        borrowerId: 'b0001',
        siteId: 's0001',
        status: 'active' as const,
        createdAt: fromMs,
      },
      credentials: makeCredentials(id, issueToken()),
    })),
  );
  const readings: Reading[] = [];
  for (const deviceId of deviceIds) {
    for (let ts = fromMs, seq = 0; ts < toMs; ts += STEP_MS, seq++) {
      readings.push({
        kind: 'stake',
        deviceId,
        borrowerId: 'b0001',
        siteId: 's0001',
        ts,
        seq,
        fields: {
          weightKg: 1000 + (seq % 50),
          itemCount: 10,
          lat: 1,
          lon: 2,
          tamper: 0,
          temperatureC: 20,
          humidityPct: 50,
          batteryPct: 90,
        },
      });
    }
  }
  for (let i = 0; i < readings.length; i += 5000) await telemetry.writeReadings(readings.slice(i, i + 5000));
  // A loan, so the borrower is in the book, and its score from the shipped default model (stored as the
  // scoring service stores it).
  const startAt = fromMs - 200 * DAY_MS;
  await state.loans.upsertLoans([
    {
      id: 'ln-bench',
      borrowerId: 'b0001',
      principal: 100_000,
      currency: 'CAD',
      annualRatePct: 9,
      startAt,
      termDays: 730,
      status: 'active',
    },
  ]);
  await state.loans.upsertRepayments(
    Array.from({ length: 24 }, (_, k) => ({
      id: `ln-bench-r${k + 1}`,
      loanId: 'ln-bench',
      dueAt: startAt + (k + 1) * 30 * DAY_MS,
      amountDue: 4600,
      amountPaid: startAt + (k + 1) * 30 * DAY_MS < toMs ? 4600 : 0,
      ...(startAt + (k + 1) * 30 * DAY_MS < toMs ? { paidAt: startAt + (k + 1) * 30 * DAY_MS } : {}),
    })),
  );
  const risk = await createRisk({
    config: { ...parseConfig({ ...riskConfigSpec, ...riskBackendConfigSpec }, {}), dataDir: dir },
    state,
    telemetry,
    log: silentLogger,
  });
  const scored = await risk.scoring.scorePortfolio('periodic');
  if (scored.borrowers !== 1)
    throw new Error(`expected the bench borrower to be scored, got ${scored.borrowers}`);
  const api = await listenApi({
    state,
    telemetry,
    sessions: tcpDeviceSessions('mqtt://127.0.0.1:1'),
    scores: riskScores(risk),
  });

  const trivial = Fastify();
  trivial.get('/trivial', () => ({ ok: true }));
  await trivial.listen({ host: '127.0.0.1', port: 0 });
  const trivialUrl = `http://127.0.0.1:${(trivial.server.address() as AddressInfo).port}/trivial`;

  const TARGETS: Target[] = [
    { key: 'borrower', name: 'GET /v1/borrowers/:id', path: '/v1/borrowers/b0001' },
    {
      key: 'aggregate7d',
      name: 'GET /v1/telemetry/aggregate (7 d, 1 h)',
      path: `/v1/telemetry/aggregate?borrowerId=b0001&kind=stake&fields=weightKg&fns=mean,min,max&from=${fromMs}&to=${toMs}&windowMs=3600000`,
    },
    { key: 'score', name: 'GET /v1/borrowers/:id/score', path: '/v1/borrowers/b0001/score' },
  ];

  /**
   * A load run, with the CPU the server side spent per request: this thread's CPU (the servers; the load runs in
   * a worker) over warm-up and window, per request at the window's rate. Less sensitive to a busy machine than
   * latency, which includes waiting for a core.
   */
  const run = async (url: string, headers: Record<string, string> = {}) => {
    const cpuStart = cpuSeconds('thread-self');
    const r = await httpLoad({
      url,
      headers,
      connections: CONNECTIONS,
      warmupMs: WARMUP_MS,
      durationMs: DURATION_MS,
    });
    const cpuEnd = cpuSeconds('thread-self');
    const served = (r.requests * (WARMUP_MS + DURATION_MS)) / DURATION_MS;
    const cpuUs =
      cpuStart === undefined || cpuEnd === undefined || served === 0
        ? null
        : Math.round(((cpuEnd - cpuStart) * 1e6) / served);
    return { ...r, cpuUs };
  };

  process.stdout.write(
    `data: 1 borrower, ${DEVICES} stakes, ${readings.length} readings over 7 days (SQLite); the aggregate asks hourly mean/min/max of weightKg\n`,
  );
  process.stdout.write(
    `bench:api — ${CONNECTIONS} keep-alive connections, closed loop, ${WARMUP_MS} ms warm-up + ${DURATION_MS} ms measured per target, Node ${process.version}\n`,
  );
  const row = (name: string, r: HttpLoadReport & { cpuUs: number | null }, ratio: string, p99Ratio: string) =>
    `${name.padEnd(44).slice(0, 44)} ${String(r.perS).padStart(8)} ${r.p50Ms.toFixed(2).padStart(8)} ${r.p99Ms.toFixed(2).padStart(8)} ${ratio.padStart(8)} ${p99Ratio.padStart(8)} ${String(r.cpuUs ?? '–').padStart(10)}${r.errors + r.non2xx > 0 ? `  (${r.errors} errors, ${r.non2xx} non-2xx)` : ''}\n`;
  process.stdout.write(
    `${'target'.padEnd(44)} ${'req/s'.padStart(8)} ${'p50 ms'.padStart(8)} ${'p99 ms'.padStart(8)} ${'req/s ×'.padStart(8)} ${'p99 ×'.padStart(8)} ${'CPU µs/req'.padStart(10)}\n`,
  );
  const base = await run(trivialUrl);
  process.stdout.write(row('trivial Fastify route (baseline)', base, '1.00', '1.00'));
  const figures: Record<string, number | string> = {
    bench: 'api',
    connections: CONNECTIONS,
    durationMs: DURATION_MS,
    baselinePerS: base.perS,
    baselineP50Ms: base.p50Ms,
    baselineP99Ms: base.p99Ms,
    baselineCpuUsPerRequest: base.cpuUs ?? 'n/a',
  };
  for (const target of TARGETS.filter((t) => ONLY.length === 0 || ONLY.includes(t.key))) {
    const r = await run(`${api.url}${target.path}`, api.headers);
    if (r.non2xx > 0 || r.errors > 0 || r.requests === 0)
      throw new Error(`${target.name}: ${r.errors} errors, ${r.non2xx} non-2xx`);
    const ratio = r.perS / Math.max(1, base.perS);
    // The issue's aim: a score read's p99 at most 3 × the trivial route's.
    const p99Ratio = r.p99Ms / Math.max(0.001, base.p99Ms);
    process.stdout.write(row(target.name, r, ratio.toFixed(2), p99Ratio.toFixed(2)));
    Object.assign(figures, {
      [`${target.key}PerS`]: r.perS,
      [`${target.key}P50Ms`]: r.p50Ms,
      [`${target.key}P99Ms`]: r.p99Ms,
      [`${target.key}Ratio`]: Number(ratio.toFixed(3)),
      [`${target.key}P99Ratio`]: Number(p99Ratio.toFixed(3)),
      [`${target.key}CpuUsPerRequest`]: r.cpuUs ?? 'n/a',
    });
  }
  figures.peakRssMb = Math.round(process.memoryUsage().rss / 1048576);

  await api.close();
  await risk.close();
  await trivial.close();
  await telemetry.close();
  await state.close();
  rmSync(dir, { recursive: true, force: true });
  process.stdout.write(`${JSON.stringify(figures)}\n`);
}

runBench(main);
