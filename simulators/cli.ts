import { EXIT, formatHelp, parseFlags, UsageError, type CommandHelp } from '../core/cli.js';
import { parseConfig } from '../core/config.js';
import { errorMessage, RiskfuseError } from '../core/errors.js';
import { createLogger, type Logger } from '../core/logger.js';
import { loggingConfigSpec } from '../core/logging-config.js';
import { openTelemetryStore } from '../core/storage/open-telemetry-store.js';
import { openState, stateConfigSpec, statePath } from '../core/state/index.js';
import { telemetryConfigSpec } from '../core/storage/telemetry-config.js';
import { backfill } from './backfill.js';
import { DAY_MS } from './calendar.js';
import { simulateConfigSpec } from './config.js';
import { createEngine } from './engine.js';
import { provisionWorld } from './provision.js';
import { runSimulation, type SimulationHandle } from './runner.js';
import { parseScenario, SCENARIO_DOCS, SCENARIO_KINDS, type ScenarioSpec } from './scenarios.js';
import { generateWorld, type World } from './world.js';

/**
 * `riskfuse simulate`: generates the seeded world, provisions it into the state store (devices need their
 * tokens), then either connects every device to the broker and runs live (until SIGINT/SIGTERM), or with
 * `--backfill DAYS` writes that much history straight into the stores and exits.
 */
export const simulateHelp: CommandHelp = {
  brief: 'the simulated world: devices over MQTT and the loan book, or --backfill history',
  usage:
    'riskfuse simulate [--seed N] [--borrowers N] [--speed H] [--scenario KIND:TARGET[:START_DAY[:DAYS]]]... [--backfill DAYS] [--mqtt-url URL]',
  summary: [
    'Run the simulated world: borrowers, sites, pledged collateral and their devices (collateral stakes, smart',
    'helmets, satellite feeds) driven by a latent business health that also drives the loan book.',
    'Live mode (default) provisions the world into the state store, connects every device to the broker as an',
    'MQTT client and publishes readings, starting SIM_START_DAYS_AGO days back at SPEED simulated hours per',
    'second until it catches up with now, then in real time. --backfill DAYS instead writes DAYS of history',
    'straight into the telemetry and state stores and exits.',
    '',
    'Scenarios (TARGET: a borrower b0003, lot b0003-l1, site b0003-s1, device id, or region code for drought;',
    'START_DAY counts from the world start, default 3; DAYS overrides the default duration):',
    ...SCENARIO_KINDS.map((k) => `  ${k.padEnd(19)} ${SCENARIO_DOCS[k]}`),
  ].join('\n'),
  options: [
    ['--seed N', 'world seed (default SIM_SEED, 42)'],
    ['--borrowers N', 'borrowers in the portfolio (default SIM_BORROWERS, 50)'],
    ['--speed H', 'simulated hours per real second while catching up (default SIM_SPEED, 3)'],
    ['--scenario SPEC', 'inject a scenario, e.g. removal:b0003:10 (repeatable)'],
    ['--backfill DAYS', 'write DAYS of history to the stores and exit instead of running live'],
    ['--mqtt-url URL', 'broker URL (default MQTT_URL, mqtt://127.0.0.1:1883)'],
    ['-h, --help', 'show this help'],
  ],
  env: [simulateConfigSpec, stateConfigSpec, telemetryConfigSpec, loggingConfigSpec],
};

export interface SimulateCommandOptions {
  readonly log?: Logger;
  /** Stops a live run (in addition to SIGINT/SIGTERM). */
  readonly signal?: AbortSignal;
  readonly stdout?: (text: string) => void;
  readonly stderr?: (text: string) => void;
  /** Called once a live run has started. */
  readonly onRunning?: (handle: SimulationHandle, world: World) => void;
  /** Wall clock, epoch ms; default Date.now. */
  readonly now?: () => number;
}

const FLAGS = {
  seed: { type: 'string' },
  borrowers: { type: 'string' },
  speed: { type: 'string' },
  scenario: { type: 'string', multiple: true },
  backfill: { type: 'string' },
  'mqtt-url': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

function numberFlag(name: string, raw: string | undefined, kind: 'int' | 'positive'): number | undefined {
  if (raw === undefined) return undefined;
  const n = Number(raw);
  const ok = raw.trim() !== '' && Number.isFinite(n) && (kind === 'int' ? Number.isInteger(n) : n > 0);
  if (!ok)
    throw new UsageError(
      `--${name} must be ${kind === 'int' ? 'an integer' : 'a number > 0'}, got ${JSON.stringify(raw)}`,
    );
  return n;
}

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

export async function simulateCommand(
  argv: string[],
  env: Record<string, string | undefined>,
  options: SimulateCommandOptions = {},
): Promise<number> {
  const stdout = options.stdout ?? ((t: string) => void process.stdout.write(t));
  const stderr = options.stderr ?? ((t: string) => void process.stderr.write(t));
  const now = options.now ?? Date.now;

  let seed: number;
  let borrowers: number;
  let speed: number;
  let backfillDays: number | undefined;
  let mqttUrl: string;
  let scenarios: ScenarioSpec[];
  let config;
  try {
    const { values, positionals } = parseFlags(argv, FLAGS);
    if (values.help === true) {
      stdout(`${formatHelp(simulateHelp)}\n`);
      return EXIT.ok;
    }
    if (positionals.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[0])}`);
    try {
      config = parseConfig(
        { ...simulateConfigSpec, ...stateConfigSpec, ...telemetryConfigSpec, ...loggingConfigSpec },
        env,
      );
    } catch (err) {
      stderr(`riskfuse simulate: ${errorMessage(err)}\n`);
      return EXIT.failure;
    }
    seed = numberFlag('seed', str(values.seed), 'int') ?? config.seed;
    const b = numberFlag('borrowers', str(values.borrowers), 'int') ?? config.borrowers;
    if (b < 1) throw new UsageError(`--borrowers must be ≥ 1, got ${b}`);
    borrowers = b;
    speed = numberFlag('speed', str(values.speed), 'positive') ?? config.speed;
    backfillDays = numberFlag('backfill', str(values.backfill), 'positive');
    mqttUrl = str(values['mqtt-url']) ?? config.mqttUrl;
    if (!/^(mqtts?|tcp|tls|wss?):\/\/[^/]+/.test(mqttUrl)) {
      throw new UsageError(
        `--mqtt-url must be an mqtt://, mqtts://, tcp://, ws:// or wss:// URL, got ${JSON.stringify(mqttUrl)}`,
      );
    }
    const specs = Array.isArray(values.scenario)
      ? values.scenario.filter((s): s is string => typeof s === 'string')
      : [];
    scenarios = specs.map((s) => {
      try {
        return parseScenario(s);
      } catch (err) {
        throw new UsageError(errorMessage(err));
      }
    });
  } catch (err) {
    if (err instanceof UsageError) {
      stderr(`riskfuse simulate: ${err.message}\n(run with --help for usage)\n`);
      return EXIT.usage;
    }
    throw err;
  }

  const daysBack = backfillDays ?? config.startDaysAgo;
  const startMs = Math.floor((now() - daysBack * DAY_MS) / DAY_MS) * DAY_MS;
  let world: World;
  try {
    world = generateWorld({ seed, borrowers, startMs, scenarios });
  } catch (err) {
    if (err instanceof RiskfuseError && err.code === 'VALIDATION_FAILED') {
      stderr(`riskfuse simulate: ${err.message}\n(run with --help for usage)\n`);
      return EXIT.usage;
    }
    throw err;
  }

  const log = options.log ?? createLogger({ name: 'riskfuse-simulate', level: config.logLevel });
  // The embedded SQLite file, or PostgreSQL when STATE_DB_URL is set (as for the components).
  const state = await openState(config, log, 'riskfuse-simulate');
  try {
    const provisioned = await provisionWorld(world, state);
    log.info(
      {
        seed,
        borrowers: provisioned.borrowers,
        sites: provisioned.sites,
        lots: provisioned.lots,
        devices: provisioned.devices,
        ...(state.db.dialect === 'sqlite' ? { statePath: statePath(config) } : { stateDb: state.db.dialect }),
      },
      'world provisioned',
    );
    const engine = createEngine(world);
    if (backfillDays !== undefined) {
      const telemetry = await openTelemetryStore(config, log);
      try {
        let lastLog = 0;
        const result = await backfill({
          world,
          engine,
          days: backfillDays,
          endMs: now(),
          telemetryStore: telemetry,
          stateStore: state,
          onProgress: (p) => {
            if (Date.now() - lastLog < 2_000 && p.daysDone < p.days) return;
            lastLog = Date.now();
            log.info(
              {
                daysDone: p.daysDone,
                days: p.days,
                readingsWritten: p.readingsWritten,
                readingsPerS: Math.round(p.readingsPerS),
              },
              'backfill progress',
            );
          },
        });
        log.info({ ...result, readingsPerS: Math.round(result.readingsPerS) }, 'backfill done');
      } finally {
        await telemetry.close();
      }
      return EXIT.ok;
    }

    let lastLog = 0;
    const handle = runSimulation({
      world,
      engine,
      stateStore: state,
      mqttUrl,
      tokens: provisioned.tokens,
      speed,
      startMs,
      connectRatePerS: config.connectRatePerS,
      maxQueuedReadings: config.maxQueuedReadings,
      log,
      now,
      onProgress: (p) => {
        if (Date.now() - lastLog < 10_000) return;
        lastLog = Date.now();
        log.info(
          {
            simNow: new Date(p.simNowMs).toISOString(),
            caughtUp: p.caughtUp,
            throttled: p.throttled,
            devicesStarted: p.devicesStarted,
            connected: p.stats.connected,
            published: p.stats.readingsPublished,
            acked: p.stats.readingsAcked,
            dropped: p.stats.readingsDropped,
          },
          'simulation progress',
        );
      },
    });
    options.onRunning?.(handle, world);
    const stop = stopSignal(options.signal);
    try {
      await stop.stopped;
      log.info('stopping: flushing devices');
      await handle.stop();
    } finally {
      stop.dispose();
    }
    return EXIT.ok;
  } finally {
    await state.close();
  }
}

/**
 * Waits for SIGINT/SIGTERM or `signal` to abort. The handlers stay installed until `dispose()` (after the
 * shutdown), so a second signal during a slow shutdown exits at once.
 */
function stopSignal(signal: AbortSignal | undefined): { readonly stopped: Promise<void>; dispose(): void } {
  let resolve: () => void = () => undefined;
  const stopped = new Promise<void>((r) => (resolve = r));
  let count = 0;
  const onSignal = (): void => {
    count++;
    if (count > 1) process.exit(130);
    resolve();
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  if (signal?.aborted) resolve();
  signal?.addEventListener('abort', resolve, { once: true });
  return {
    stopped,
    dispose() {
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
      signal?.removeEventListener('abort', resolve);
    },
  };
}
