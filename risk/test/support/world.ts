import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '../../../core/logger.js';
import type { State } from '../../../core/state/index.js';
import { openTestState } from '../../../core/state/test/backends.js';
import { openSqliteTelemetryStore } from '../../../core/storage/sqlite-telemetry-store.js';
import type { TelemetryStore } from '../../../core/storage/telemetry-store.js';
import {
  backfill,
  generateWorld,
  parseScenario,
  provisionWorld,
  type World,
} from '../../../simulators/index.js';

/** A small simulated lender for risk tests: stores in a temp dir, sparse device reporting, fixed dates. */
export interface TestWorld {
  readonly dir: string;
  readonly world: World;
  readonly state: State;
  readonly telemetry: TelemetryStore;
  readonly fromMs: number;
  readonly toMs: number;
  close(): Promise<void>;
}

export const DAY_MS = 86_400_000;
export const WORLD_START_MS = Date.UTC(2024, 0, 1);

export async function buildTestWorld(opts: {
  borrowers: number;
  days: number;
  seed?: number;
  /** Default WORLD_START_MS. */
  startMs?: number;
  /** Scenario specs (simulators/scenarios.ts), e.g. `drought:SK-SAS:50:70`. */
  scenarios?: readonly string[];
}): Promise<TestWorld> {
  const dir = await mkdtemp(join(tmpdir(), 'riskfuse-risk-'));
  const world = generateWorld({
    seed: opts.seed ?? 7,
    borrowers: opts.borrowers,
    startMs: opts.startMs ?? WORLD_START_MS,
    scenarios: (opts.scenarios ?? []).map(parseScenario),
    stakeIntervalMs: 6 * 3_600_000,
    helmetIntervalMs: 2 * 3_600_000,
  });
  const state = await openTestState(dir);
  const telemetry = openSqliteTelemetryStore(join(dir, 'telemetry.db'), { log: silentLogger });
  await provisionWorld(world, state);
  const fromMs = opts.startMs ?? WORLD_START_MS;
  const toMs = fromMs + opts.days * DAY_MS;
  await backfill({ world, days: opts.days, endMs: toMs, telemetryStore: telemetry, stateStore: state });
  return {
    dir,
    world,
    state,
    telemetry,
    fromMs,
    toMs,
    close: async () => {
      await telemetry.close();
      await state.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
