import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ConfigOf } from '../core/config.js';
import { errorMessage } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { ScoreRepository, State } from '../core/state/index.js';
import type { TelemetryStore } from '../core/storage/telemetry-store.js';
import { modelDir, type riskConfigSpec } from './config.js';
import { initBackend, type BackendPreference } from './model/backend.js';
import { ModelMonitor } from './monitoring/monitor.js';
import { ModelRegistry } from './registry.js';
import { ScoringService } from './scoring-service.js';

/**
 * Wiring of the risk component: registry (with the shipped default model when it is empty), scoring service.
 * Used by `riskfuse start` (in-process, fed by the ingest's stored readings) and `riskfuse risk`.
 */
export interface RiskDeps {
  readonly config: ConfigOf<typeof riskConfigSpec> & {
    readonly dataDir: string;
    readonly tfBackend: BackendPreference;
  };
  readonly state: State;
  readonly telemetry: TelemetryStore;
  readonly log: Logger;
  /** The scoring clock; Date.now unless a simulation's time is wanted. */
  readonly now?: () => number;
}

export interface RiskComponent {
  readonly registry: ModelRegistry;
  /** The state's scores (what the API reads). */
  readonly scores: ScoreRepository;
  readonly scoring: ScoringService;
  /** The daily model-monitoring job (drift, backtests); elected like the periodic scoring. */
  readonly monitor: ModelMonitor;
  readonly backend: string;
  /** The default model registered on this start, if the registry was empty. */
  readonly installedDefault?: string;
  /** Starts the scoring service's periodic job (one process of a deployment runs it). */
  start(): void;
  /** Stops the periodic job; resolves once the runs already started are stored. */
  stop(): Promise<void>;
  close(): Promise<void>;
}

/** The model shipped with riskfuse (trained by `riskfuse evaluate`), found from the package root. */
export function shippedModelPath(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (existsSync(join(dir, 'package.json'))) return join(dir, 'risk', 'models', 'default-fused.json');
    dir = dirname(dir);
  }
  return join(process.cwd(), 'risk', 'models', 'default-fused.json');
}

export async function createRisk(deps: RiskDeps): Promise<RiskComponent> {
  const { config, log } = deps;
  const backend = await initBackend(config.tfBackend, (note) => log.warn(note));
  const registry = new ModelRegistry(deps.state.models, modelDir(config), { pdFloor: config.pdFloor });
  let installedDefault: string | undefined;
  try {
    const rec = await registry.ensureDefault(shippedModelPath());
    if (rec !== undefined) {
      installedDefault = rec.version;
      log.info(
        { version: rec.version, name: rec.name },
        'registered and activated the shipped default model',
      );
    }
  } catch (err) {
    log.error(
      { err: errorMessage(err) },
      'could not install the default model; scoring waits for a champion',
    );
  }
  const scoring = new ScoringService({
    state: deps.state,
    telemetryStore: deps.telemetry,
    registry,
    log: log.child({ component: 'risk' }),
    scoreIntervalMs: config.scoreIntervalMs,
    eventDebounceMs: config.eventDebounceMs,
    pdChangeThreshold: config.pdChangeThreshold,
    ...(deps.now === undefined ? {} : { now: deps.now }),
  });
  const monitor = new ModelMonitor({
    state: deps.state,
    registry,
    log: log.child({ component: 'model-monitoring' }),
    intervalMs: config.monitorIntervalMs,
    minPopulation: config.monitorMinPopulation,
    backtestWindowDays: config.backtestWindowDays,
    ...(deps.now === undefined ? {} : { now: deps.now }),
  });
  return {
    registry,
    scores: deps.state.scores,
    scoring,
    monitor,
    backend,
    ...(installedDefault === undefined ? {} : { installedDefault }),
    start: () => scoring.start(),
    stop: () => scoring.stop(),
    close: async () => {
      await monitor.stop();
      await scoring.close();
    },
  };
}
