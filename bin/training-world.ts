import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { RiskfuseError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { openSqliteState, type State } from '../core/state/index.js';
import {
  openSqliteTelemetryStore,
  type SqliteTelemetryStore,
} from '../core/storage/sqlite-telemetry-store.js';
import type { TelemetryStore } from '../core/storage/telemetry-store.js';
import { backfill, fraudScenarios, generateWorld, provisionWorld, type World } from '../simulators/index.js';

/**
 * The simulated lender whose history `riskfuse evaluate` learns from: a seeded world backfilled into its own
 * embedded stores (never the live ones), from a fixed start date so that the same options always give the
 * same history. Built once and reused: a `complete.json` marker is written only after the whole history is
 * stored, so an interrupted build is thrown away and rebuilt, never half used.
 *
 * Devices report less often than the live demo's (stakes every 6 h, helmets every 2 h): a battery-saving
 * deployment, and 18 months × 2,000 borrowers stays around twenty million readings.
 */
export interface TrainingWorldOptions {
  readonly seed: number;
  readonly borrowers: number;
  readonly months: number;
  /** History length in days instead of months (benchmarks); overrides `months`. */
  readonly days?: number;
  /** Folder for this world's stores; one sub-folder per option set. */
  readonly cacheDir: string;
  readonly stakeIntervalMs?: number;
  readonly helmetIntervalMs?: number;
  /**
   * Collateral frauds per borrower-year (simulators/fraud-credit.ts `fraudScenarios`); default
   * DEFAULT_FRAUD_RATE_PER_YEAR. 0 gives the fraud-free world of earlier reports.
   */
  readonly fraudRatePerYear?: number;
  /** Reader threads of the telemetry store for whole-portfolio features (default 1; core/storage/sqlite-grid-readers.ts). */
  readonly readerThreads?: number;
  readonly log: Logger;
  readonly onProgress?: (line: string) => void;
}

export interface TrainingWorld {
  readonly dir: string;
  /** The generated world the history was simulated from (pure: regenerated when the history is reused). */
  readonly world: World;
  /** The world's own embedded state (a SQLite file in `dir`). */
  readonly stateStore: State;
  readonly telemetryStore: TelemetryStore;
  readonly fromMs: number;
  readonly toMs: number;
  readonly readings: number;
  readonly reused: boolean;
  close(): Promise<void>;
}

/**
 * Collateral frauds per borrower-year in the training world: enough that a few dozen of a 2,000-borrower
 * lender's defaults follow one, so that the model can learn what stakes see before them and the evaluation
 * can measure it. An assumption of the simulation, not an industry figure (none is published per kind).
 */
export const DEFAULT_FRAUD_RATE_PER_YEAR = 0.05;

/** History starts here (UTC): fixed, so a report is reproducible whatever day it runs. */
export const TRAINING_START_MS = Date.UTC(2024, 0, 1);
const DAY_MS = 86_400_000;

interface Marker {
  readonly seed: number;
  readonly borrowers: number;
  readonly months: number;
  readonly stakeIntervalMs: number;
  readonly helmetIntervalMs: number;
  readonly fraudRatePerYear: number;
  /** `worldHash` of the world the history was simulated from (absent in markers written before it existed). */
  readonly worldHash?: string;
  readonly fromMs: number;
  readonly toMs: number;
  readonly readings: number;
  readonly builtAt: string;
  readonly buildMs: number;
}

export async function openTrainingWorld(opts: TrainingWorldOptions): Promise<TrainingWorld> {
  if (!Number.isInteger(opts.borrowers) || opts.borrowers < 20) {
    throw new RiskfuseError('VALIDATION_FAILED', `borrowers must be an integer ≥ 20, got ${opts.borrowers}`);
  }
  if (opts.days === undefined && (!Number.isInteger(opts.months) || opts.months < 6 || opts.months > 60)) {
    throw new RiskfuseError(
      'VALIDATION_FAILED',
      `months must be an integer from 6 to 60, got ${opts.months}`,
    );
  }
  const stakeIntervalMs = opts.stakeIntervalMs ?? 6 * 3_600_000;
  const helmetIntervalMs = opts.helmetIntervalMs ?? 2 * 3_600_000;
  const fraudRatePerYear = opts.fraudRatePerYear ?? DEFAULT_FRAUD_RATE_PER_YEAR;
  if (!(fraudRatePerYear >= 0 && fraudRatePerYear <= 1)) {
    throw new RiskfuseError('VALIDATION_FAILED', `fraud rate must be in [0, 1], got ${fraudRatePerYear}`);
  }
  const dir = join(
    opts.cacheDir,
    `seed${opts.seed}-b${opts.borrowers}-${opts.days === undefined ? `m${opts.months}` : `d${opts.days}`}-s${stakeIntervalMs / 60_000}-h${helmetIntervalMs / 60_000}${fraudRatePerYear > 0 ? `-f${fraudRatePerYear}` : ''}`,
  );
  const markerPath = join(dir, 'complete.json');
  const fromMs = TRAINING_START_MS;
  const end = new Date(fromMs);
  if (opts.days === undefined) end.setUTCMonth(end.getUTCMonth() + opts.months);
  else end.setTime(fromMs + opts.days * DAY_MS);
  const toMs = end.getTime();

  // The world is a pure function of these options: generated first without scenarios for its borrower ids,
  // then with the frauds drawn over them.
  const base = {
    seed: opts.seed,
    borrowers: opts.borrowers,
    startMs: fromMs,
    stakeIntervalMs,
    helmetIntervalMs,
  };
  const world = generateWorld({
    ...base,
    scenarios: fraudScenarios(
      generateWorld(base).borrowers.map((b) => b.id),
      { seed: opts.seed, ratePerYear: fraudRatePerYear, days: Math.round((toMs - fromMs) / DAY_MS) - 30 },
    ),
  });

  const hash = worldHash(world);
  const openTelemetry = (): SqliteTelemetryStore =>
    openSqliteTelemetryStore(join(dir, 'telemetry.db'), {
      log: opts.log,
      readerThreads: opts.readerThreads ?? 1,
    });
  const marker = existsSync(markerPath)
    ? (JSON.parse(readFileSync(markerPath, 'utf8')) as Marker)
    : undefined;
  if (marker !== undefined && marker.worldHash !== hash) {
    opts.onProgress?.(
      `the simulated history in ${dir} was built from another world (the simulator's rates changed since): rebuilding it`,
    );
  }
  if (marker !== undefined && marker.worldHash === hash) {
    const stateStore = openSqliteState(join(dir, 'state.db'));
    const telemetryStore = openTelemetry();
    opts.onProgress?.(
      `reusing the simulated history in ${dir} (${marker.readings.toLocaleString('en')} readings)`,
    );
    return opened(world, dir, stateStore, telemetryStore, fromMs, toMs, marker.readings, true);
  }

  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const started = Date.now();
  const stateStore = openSqliteState(join(dir, 'state.db'));
  const telemetryStore = openTelemetry();
  try {
    await provisionWorld(world, stateStore);
    const days = Math.round((toMs - fromMs) / DAY_MS);
    let lastReport = 0;
    const result = await backfill({
      world,
      days,
      endMs: toMs,
      telemetryStore,
      stateStore,
      batchSize: 10_000,
      onProgress: (p) => {
        if (Date.now() - lastReport < 2_000 && p.daysDone < p.days) return;
        lastReport = Date.now();
        opts.onProgress?.(
          `simulating history: day ${p.daysDone}/${p.days}, ${p.readingsWritten.toLocaleString('en')} readings ` +
            `(${Math.round(p.readingsPerS).toLocaleString('en')}/s)`,
        );
      },
    });
    const built: Marker = {
      seed: opts.seed,
      borrowers: opts.borrowers,
      months: opts.months,
      stakeIntervalMs,
      helmetIntervalMs,
      fraudRatePerYear,
      worldHash: hash,
      fromMs,
      toMs,
      readings: result.readingsWritten,
      builtAt: new Date().toISOString(),
      buildMs: Date.now() - started,
    };
    writeFileSync(markerPath, JSON.stringify(built, null, 2));
    // Closed and opened again before use: closing writes the query planner's statistics
    // (sqlite-telemetry-store.ts, `PRAGMA optimize`). A build shorter than the store's 10-minute refresh left
    // the file without them, and the same process then planned its queries blind: `npm run bench:score` on a
    // freshly built 10,000-borrower world took 15.8 s for its first portfolio run, and its ten single-borrower
    // scores had not finished after three minutes; with the statistics, 5–10 s and a median of about 55 ms each.
    await telemetryStore.close();
    const reopened = openTelemetry();
    return opened(world, dir, stateStore, reopened, fromMs, toMs, result.readingsWritten, false);
  } catch (err) {
    await telemetryStore.close().catch(() => undefined);
    await stateStore.close();
    throw err;
  }
}

/**
 * Hash of what the history is simulated from beyond the folder name's options: the borrowers' latent profiles
 * (with the cash shocks that frauds bring on, simulators/fraud-credit.ts FRAUD_CREDIT_EFFECTS) and the resolved
 * scenarios. A change of the simulator's rates — a fraud's default probability, the cash-shock rate — changes
 * it, so a cached history simulated under the old rates is rebuilt instead of silently reused.
 * Pinned by bin/test/training-world.test.ts.
 */
export function worldHash(world: World): string {
  const json = JSON.stringify({ profiles: world.profiles, scenarios: world.scenarios }, (_k, v: unknown) =>
    typeof v === 'number' && !Number.isFinite(v) ? String(v) : v,
  );
  return createHash('sha256').update(json).digest('hex').slice(0, 16);
}

function opened(
  world: World,
  dir: string,
  stateStore: State,
  telemetryStore: TelemetryStore,
  fromMs: number,
  toMs: number,
  readings: number,
  reused: boolean,
): TrainingWorld {
  return {
    world,
    dir,
    stateStore,
    telemetryStore,
    fromMs,
    toMs,
    readings,
    reused,
    close: async () => {
      await telemetryStore.close();
      await stateStore.close();
    },
  };
}
