/**
 * `npm run bench:score` — scoring throughput and latency on the embedded store.
 *
 * A simulated lender of BENCH_BORROWERS (10,000) borrowers with BENCH_DAYS (21) days of device history in the
 * SQLite telemetry store (built once, cached under BENCH_DIR, default data/bench), scored by the champion
 * network (the shipped default model when present, else one trained here):
 * 1. Portfolio, cold: the process's first features for every borrower (one daily panel from the store's
 *    daily aggregates + the loan book) and inference with explanations, as the scoring service does —
 *    scores/s, and the features' CPU seconds (all threads: the wall time on a shared machine depends on its
 *    load) — beside the raw model-inference rate on the same feature matrix (model.predict, batched), in the
 *    same run: the ratio is what features and explanations cost on top of the network. Then the same
 *    features from the raw readings (the baseline the aggregates must beat), and the next periodic run; then
 *    periodic features with the store's reader thread (BENCH_READER_THREADS, default 1) against every grid on
 *    one thread, alternated in the same run.
 * 2. One borrower: features + score + explanation for one borrower at a time (as after a significant
 *    reading), p50/p99 over BENCH_SINGLE (200) borrowers, beside raw inference of one row.
 * 3. Training: seconds per epoch of the fused network on the WASM backend (the portfolio's rows, 3 epochs).
 * Ends with one JSON line.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { silentLogger } from '../core/logger.js';
import { openTrainingWorld } from '../bin/training-world.js';
import { fitImputer, inputNames, toMatrix } from '../risk/features/dataset.js';
import { extractFeatures, loadPortfolio } from '../risk/features/extract.js';
import type { RegionBaselines } from '../risk/features/offline.js';
import { FEATURE_NAMES } from '../risk/features/spec.js';
import { shippedModelPath } from '../risk/app.js';
import { initBackend } from '../risk/model/backend.js';
import { trainClassifier } from '../risk/model/train.js';
import { readModelFile } from '../risk/registry.js';
import { RISK_MODEL_FORMAT, RiskModel, type RiskModelFile } from '../risk/scorer.js';
import {
  openSqliteTelemetryStore,
  type SqliteTelemetryStore,
} from '../core/storage/sqlite-telemetry-store.js';
import { envInt } from './support.js';

const BORROWERS = envInt('BENCH_BORROWERS', 10_000);
const DAYS = envInt('BENCH_DAYS', 21);
const SINGLE = envInt('BENCH_SINGLE', 200);
const DIR = process.env.BENCH_DIR ?? join('data', 'bench');
/** The telemetry store's reader threads (core/storage/sqlite-grid-readers.ts); 0 reads every grid on one thread. */
const READERS = process.env.BENCH_READER_THREADS === '0' ? 0 : envInt('BENCH_READER_THREADS', 1);

const pct = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? Number.NaN;
};
const r1 = (v: number): number => Math.round(v * 10) / 10;
const say = (s: string): boolean => process.stderr.write(`${s}\n`);

const backend = await initBackend('wasm');
say(`bench:score — ${BORROWERS} borrowers, ${DAYS} days of history, TensorFlow.js ${backend}`);
const world = await openTrainingWorld({
  seed: 7,
  borrowers: BORROWERS,
  months: 6,
  days: DAYS,
  // Scoring speed does not depend on fraud: the fraud-free world keeps its cached history.
  fraudRatePerYear: 0,
  readerThreads: READERS,
  cacheDir: DIR,
  log: silentLogger,
  onProgress: say,
});
try {
  // A world stored before the telemetry store kept daily aggregates gets them built once, before timing.
  const store = world.telemetryStore;
  if ('rollupsBuilt' in store && typeof store.rollupsBuilt === 'function') {
    const b0 = performance.now();
    await (store.rollupsBuilt as () => Promise<void>)();
    const buildMs = performance.now() - b0;
    if (buildMs > 1000) say(`telemetry aggregates built in ${r1(buildMs / 1000)} s (once per store)`);
  }
  const portfolio = await loadPortfolio(world.stateStore);
  const t = world.toMs - 3 * 3_600_000;
  // CPU seconds of this process (all threads) beside wall time: on a shared machine the wall time of a run
  // depends on the other processes' load, its CPU time much less.
  const cpuS = (since?: NodeJS.CpuUsage): number => {
    const c = process.cpuUsage(since);
    return (c.user + c.system) / 1e6;
  };

  // 1. Portfolio, cold: the process's first features (nothing of the store read before), then the model.
  const c0 = process.cpuUsage();
  const p0 = performance.now();
  let baselines: RegionBaselines = { ndvi: new Map() };
  const rows = await extractFeatures({
    telemetryStore: world.telemetryStore,
    portfolio,
    times: [t],
    onBaselines: (_t, b) => (baselines = b),
  });
  const p1 = performance.now();
  const featureCpuS = cpuS(c0);
  const threadedCold =
    'threadedGridReads' in world.telemetryStore
      ? (world.telemetryStore as SqliteTelemetryStore).threadedGridReads()
      : 0;

  // The model: the shipped default when there is one, else a quick one over these features (not timed).
  let file: RiskModelFile;
  const shipped = shippedModelPath();
  if (existsSync(shipped)) file = await readModelFile(shipped);
  else {
    const imputer = fitImputer(rows, FEATURE_NAMES);
    const x = toMatrix(rows, imputer);
    const y = Uint8Array.from(rows, (_, i) => (i % 50 === 0 ? 1 : 0));
    const { model } = await trainClassifier({
      kind: 'mlp',
      featureNames: inputNames(imputer),
      x,
      y,
      xVal: x,
      yVal: y,
      seed: 1,
      maxEpochs: 2,
    });
    file = {
      format: RISK_MODEL_FORMAT,
      name: 'bench',
      horizonDays: 180,
      population: 'performing',
      imputer,
      artifact: model.toArtifact(),
      dataHash: '-',
      backend,
      createdAt: Date.now(),
      metrics: {},
    };
  }
  const model = await RiskModel.load(file);

  const m0 = performance.now();
  const scored = model.score(rows);
  const m1 = performance.now();
  const coldMs = p1 - p0 + (m1 - m0);
  const portfolioScoresPerS = (scored.length * 1000) / coldMs;
  const x = toMatrix(rows, file.imputer);
  model.classifier.predict(x);
  const r0 = performance.now();
  const reps = 5;
  for (let i = 0; i < reps; i++) model.classifier.predict(x);
  const rawPerS = (reps * x.rows * 1000) / (performance.now() - r0);
  say(
    `portfolio, cold (${READERS} reader thread${READERS === 1 ? '' : 's'}, ${threadedCold} of the panel's grids read there): ${scored.length} borrowers in ${r1(coldMs / 1000)} s (features ${r1((p1 - p0) / 1000)} s, ${r1(featureCpuS)} CPU-s; model + explanations ${r1((m1 - m0) / 1000)} s) = ${Math.round(portfolioScoresPerS)} scores/s; raw inference ${Math.round(rawPerS)} rows/s; ratio ${(portfolioScoresPerS / rawPerS).toFixed(4)}`,
  );

  // 1a. The same features read from the raw readings (the store before it kept daily aggregates), same run.
  let rawFeatureMs = Number.NaN;
  let rawFeatureCpuS = Number.NaN;
  if (process.env.BENCH_RAW_FEATURES !== '0') {
    const rawStore = openSqliteTelemetryStore(join(world.dir, 'telemetry.db'), { rawOnly: true });
    const rc0 = process.cpuUsage();
    const f0 = performance.now();
    await extractFeatures({ telemetryStore: rawStore, portfolio, times: [t] });
    rawFeatureMs = performance.now() - f0;
    rawFeatureCpuS = cpuS(rc0);
    await rawStore.close();
    say(
      `features from raw readings (baseline): ${r1(rawFeatureMs / 1000)} s, ${r1(rawFeatureCpuS)} CPU-s; from daily aggregates ${r1((p1 - p0) / 1000)} s, ${r1(featureCpuS)} CPU-s; ratio ${(rawFeatureMs / (p1 - p0)).toFixed(2)}× (CPU ${(rawFeatureCpuS / featureCpuS).toFixed(2)}×)`,
    );
  }

  // 1b. The scoring service's next periodic run, 15 minutes later: the same reads, with the store's pages warm.
  const w0 = performance.now();
  const warmRows = await extractFeatures({
    telemetryStore: world.telemetryStore,
    portfolio,
    times: [t + 900_000],
  });
  const w1 = performance.now();
  model.score(warmRows);
  const w2 = performance.now();
  const warmScoresPerS = (warmRows.length * 1000) / (w2 - w0);
  say(
    `next periodic run (15 min later): ${warmRows.length} borrowers in ${r1((w2 - w0) / 1000)} s (features ${r1((w1 - w0) / 1000)} s) = ${Math.round(warmScoresPerS)} scores/s; ratio ${(warmScoresPerS / rawPerS).toFixed(4)}`,
  );

  // 1c. The same periodic features with every grid read on one thread (a second handle on the file, reader threads
  // off), alternated with the store's own handle: the reader thread's effect, measured in this run.
  let oneThreadFeatureMs = Number.NaN;
  let readersFeatureMs = Number.NaN;
  if (READERS > 0) {
    const oneThread = openSqliteTelemetryStore(join(world.dir, 'telemetry.db'), { readerThreads: 0 });
    const timed = async (store: typeof oneThread | typeof world.telemetryStore): Promise<number> => {
      const f0 = performance.now();
      await extractFeatures({ telemetryStore: store, portfolio, times: [t + 1_800_000] });
      return performance.now() - f0;
    };
    const one: number[] = [];
    const many: number[] = [];
    for (let i = 0; i < 2; i++) {
      one.push(await timed(oneThread));
      many.push(await timed(world.telemetryStore));
    }
    await oneThread.close();
    oneThreadFeatureMs = Math.min(...one);
    readersFeatureMs = Math.min(...many);
    say(
      `periodic features, best of 2 alternated: ${r1(readersFeatureMs / 1000)} s with ${READERS} reader thread${READERS === 1 ? '' : 's'}, ${r1(oneThreadFeatureMs / 1000)} s on one thread; ratio ${(oneThreadFeatureMs / readersFeatureMs).toFixed(2)}×`,
    );
  }

  // 2. One borrower at a time.
  const ids = portfolio.borrowers.map((b) => b.id);
  const single: number[] = [];
  const raw: number[] = [];
  for (let i = 0; i < SINGLE; i++) {
    const id = ids[(i * 7919) % ids.length] as string;
    const s0 = performance.now();
    const one = await extractFeatures({
      telemetryStore: world.telemetryStore,
      portfolio: await loadPortfolio(world.stateStore, [id]),
      times: [t],
      regionBaselines: baselines,
    });
    model.score(one);
    single.push(performance.now() - s0);
    const oneX = toMatrix(one, file.imputer);
    const q0 = performance.now();
    model.classifier.predict(oneX);
    raw.push(performance.now() - q0);
  }
  const singleP50 = pct(single, 50);
  const singleP99 = pct(single, 99);
  const rawP50 = pct(raw, 50);
  const rawP99 = pct(raw, 99);
  say(
    `one borrower: p50 ${r1(singleP50)} ms, p99 ${r1(singleP99)} ms; raw inference of one row p50 ${r1(rawP50)} ms, p99 ${r1(rawP99)} ms; ratio p50 ${r1(singleP50 / rawP50)}×`,
  );

  // 3. Training time per epoch (WASM), fused network, these rows with a synthetic label.
  const imputer = fitImputer(rows, FEATURE_NAMES);
  const tx = toMatrix(rows, imputer);
  const ty = Uint8Array.from(rows, (_, i) => (i % 40 === 0 ? 1 : 0));
  const epochs: number[] = [];
  await trainClassifier({
    kind: 'mlp',
    featureNames: inputNames(imputer),
    x: tx,
    y: ty,
    xVal: tx,
    yVal: ty,
    seed: 3,
    maxEpochs: 3,
    patience: 10,
    onEpoch: (e) => epochs.push(e.ms),
  });
  const epochMs = pct(epochs, 50);
  say(
    `training: ${rows.length} rows × ${tx.cols} inputs, ${Math.round(epochMs)} ms per epoch (median of ${epochs.length}) on ${backend}`,
  );

  console.log(
    JSON.stringify({
      bench: 'score',
      readerThreads: READERS,
      threadedGridReadsCold: threadedCold,
      backend,
      borrowers: scored.length,
      historyDays: DAYS,
      readings: world.readings,
      portfolioColdMs: Math.round(coldMs),
      portfolioScoresPerS: Math.round(portfolioScoresPerS),
      portfolioFeatureMs: Math.round(p1 - p0),
      portfolioFeatureCpuS: r1(featureCpuS),
      portfolioModelMs: Math.round(m1 - m0),
      rawFeatureMs: Math.round(rawFeatureMs),
      rawFeatureCpuS: r1(rawFeatureCpuS),
      featureSpeedupRatio: Number((rawFeatureMs / (p1 - p0)).toFixed(3)),
      rawInferenceRowsPerS: Math.round(rawPerS),
      portfolioRatio: Number((portfolioScoresPerS / rawPerS).toFixed(5)),
      warmScoresPerS: Math.round(warmScoresPerS),
      warmFeatureMs: Math.round(w1 - w0),
      warmRatio: Number((warmScoresPerS / rawPerS).toFixed(5)),
      periodicFeatureMsReaders: Number.isNaN(readersFeatureMs) ? null : Math.round(readersFeatureMs),
      periodicFeatureMsOneThread: Number.isNaN(oneThreadFeatureMs) ? null : Math.round(oneThreadFeatureMs),
      readerThreadRatio: Number.isNaN(readersFeatureMs)
        ? null
        : Number((oneThreadFeatureMs / readersFeatureMs).toFixed(2)),
      singleP50Ms: r1(singleP50),
      singleP99Ms: r1(singleP99),
      rawSingleP50Ms: r1(rawP50),
      rawSingleP99Ms: r1(rawP99),
      singleRatioP50: r1(singleP50 / rawP50),
      trainRows: rows.length,
      trainEpochMs: Math.round(epochMs),
    }),
  );
  model.dispose();
} finally {
  await world.close();
}
