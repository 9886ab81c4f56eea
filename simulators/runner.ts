import { errorMessage } from '../core/errors.js';
import { silentLogger, type Logger } from '../core/logger.js';
import type { Device, State } from '../core/state/index.js';
import { DAY_MS, HOUR_MS } from './calendar.js';
import { DeviceClient, emptyPublishStats, type PublishStats } from './device-client.js';
import { createEngine, type WorldEngine } from './engine.js';
import { LoanBookWriter } from './loan-sync.js';
import type { DeviceStream, GeneratedReading } from './stream.js';
import type { World } from './world.js';

/**
 * The live simulation: every device of the world as an MQTT client, publishing its readings as simulated
 * time passes, and the loan book written to the state store as it evolves.
 *
 * Simulated clock. It starts at `startMs` (default: now − 7 days) and advances `speed` simulated hours per
 * real second, but never past the wall clock minus `clockGuardMs`: the ingest rejects device timestamps in
 * the future, and a device's `ts` is the true time plus its clock error (at most ±8 s), so a 10 s guard keeps
 * every `ts` in the past. Once it has caught up, simulated time runs at real time, `clockGuardMs` behind.
 * It also pauses while devices that are connected have more than `maxPendingReadings` readings queued in
 * total (back-pressure from a slow broker), so speed is a ceiling, not a promise; devices that are offline do
 * not hold it back — their bounded queues fill and drop, as real devices' would.
 *
 * Readings between the world's start and `startMs` are not published (backfill them instead); `seq` still
 * counts from the world's start, so a backfill followed by a live run continues every device's sequence.
 */
export interface RunSimulationOptions {
  readonly world: World;
  readonly stateStore: Pick<State, 'loans'>;
  /** e.g. `mqtt://127.0.0.1:1883`. */
  readonly mqttUrl: string;
  /** deviceId → token, from `provisionWorld`. */
  readonly tokens: ReadonlyMap<string, string>;
  /** Simulated hours per real second; default 1 (a week of catch-up takes 168 s). */
  readonly speed?: number;
  /** Simulated start, epoch ms; default now − 7 days (never before the world's start). */
  readonly startMs?: number;
  /** How far behind the wall clock simulated time stays at most, ms; default 10,000 (≥ the largest clock error). */
  readonly clockGuardMs?: number;
  /** Real interval between simulation steps, ms; default 250. */
  readonly tickMs?: number;
  /** New connections per real second during ramp-up; default 200. */
  readonly connectRatePerS?: number;
  /** Back-pressure threshold (see above), readings; default 200,000. */
  readonly maxPendingReadings?: number;
  /** Simulated interval between loan-book writes, ms; default 1 hour (and at most one write a real second). */
  readonly loanBookIntervalMs?: number;
  /** Real interval between `onProgress` calls, ms; default 1,000. */
  readonly progressIntervalMs?: number;
  /** Only these devices are simulated (default: all with a token). */
  readonly deviceFilter?: (device: Device) => boolean;
  readonly maxQueuedReadings?: number;
  readonly maxInflightMessages?: number;
  readonly maxBatchReadings?: number;
  readonly keepaliveS?: number;
  readonly reconnectBaseMs?: number;
  readonly reconnectMaxMs?: number;
  readonly log?: Logger;
  readonly onProgress?: (progress: SimulationProgress) => void;
  /** Wall clock, epoch ms; default Date.now (tests move it). */
  readonly now?: () => number;
  /** An engine already built for `world` (shares its caches); default a new one. */
  readonly engine?: WorldEngine;
}

export interface SimulationStats extends PublishStats {
  /** Readings generated (due by the simulated clock). */
  readingsGenerated: number;
  /** Devices simulated. */
  devices: number;
  /** Loan and repayment rows written to the state store. */
  loanRowsWritten: number;
}

export interface SimulationProgress {
  readonly simNowMs: number;
  /** Wall clock − simulated clock, ms. */
  readonly lagMs: number;
  /** Simulated time has reached the wall clock and now runs in real time. */
  readonly caughtUp: boolean;
  /** Simulated time is held by back-pressure. */
  readonly throttled: boolean;
  readonly devicesStarted: number;
  readonly stats: Readonly<SimulationStats>;
}

export interface SimulationHandle {
  readonly stats: Readonly<SimulationStats>;
  simNowMs(): number;
  /** The last step was held back by the wall clock: simulated time now runs in real time. */
  caughtUp(): boolean;
  /** The client of one device (tests cut its connection). */
  device(deviceId: string): DeviceClient | undefined;
  /**
   * Stops the clock, writes the loan book a last time, flushes every device (waits for in-flight QoS 1
   * publishes to be acknowledged, at most `timeoutMs`, default 10 s) and disconnects. Idempotent.
   */
  stop(options?: { timeoutMs?: number }): Promise<SimulationStats>;
}

interface Live {
  readonly stream: DeviceStream;
  readonly client: DeviceClient;
}

export function runSimulation(opts: RunSimulationOptions): SimulationHandle {
  const now = opts.now ?? Date.now;
  const log = opts.log ?? silentLogger;
  const world = opts.world;
  const engine = opts.engine ?? createEngine(world);
  const speed = opts.speed ?? 1;
  if (!(speed > 0)) throw new RangeError(`speed must be > 0, got ${speed}`);
  const guardMs = opts.clockGuardMs ?? 10_000;
  const tickMs = opts.tickMs ?? 250;
  const maxPending = opts.maxPendingReadings ?? 200_000;
  const loanEveryMs = opts.loanBookIntervalMs ?? HOUR_MS;
  const startMs = Math.max(world.startMs, opts.startMs ?? now() - 7 * DAY_MS);

  const publishStats = emptyPublishStats();
  const stats: SimulationStats = Object.assign(publishStats, {
    readingsGenerated: 0,
    devices: 0,
    loanRowsWritten: 0,
  });
  const live: Live[] = [];
  const byId = new Map<string, DeviceClient>();
  for (const p of world.profiles.devices) {
    const token = opts.tokens.get(p.device.id);
    if (token === undefined || (opts.deviceFilter && !opts.deviceFilter(p.device))) continue;
    const client = new DeviceClient({
      deviceId: p.device.id,
      token,
      mqttUrl: opts.mqttUrl,
      stats: publishStats,
      log,
      ...(opts.maxQueuedReadings === undefined ? {} : { maxQueuedReadings: opts.maxQueuedReadings }),
      ...(opts.maxInflightMessages === undefined ? {} : { maxInflightMessages: opts.maxInflightMessages }),
      ...(opts.maxBatchReadings === undefined ? {} : { maxBatchReadings: opts.maxBatchReadings }),
      ...(opts.keepaliveS === undefined ? {} : { keepaliveS: opts.keepaliveS }),
      ...(opts.reconnectBaseMs === undefined ? {} : { reconnectBaseMs: opts.reconnectBaseMs }),
      ...(opts.reconnectMaxMs === undefined ? {} : { reconnectMaxMs: opts.reconnectMaxMs }),
    });
    live.push({ stream: engine.stream(p.index, startMs), client });
    byId.set(p.device.id, client);
  }
  stats.devices = live.length;
  const skipped = world.devices.length - live.length;
  if (skipped > 0) log.info({ skipped }, 'devices without a token or filtered out are not simulated');

  const loanWriter = new LoanBookWriter(engine.loanBook, opts.stateStore);
  let simNow = startMs;
  let lastReal = now();
  let lastLoanWrite = Number.NEGATIVE_INFINITY;
  let lastProgress = 0;
  let started = 0;
  let connectBudget = 0;
  let throttled = false;
  let capped = false;
  let lastLoanWriteReal = Number.NEGATIVE_INFINITY;
  let stopped: Promise<SimulationStats> | undefined;
  const buf: GeneratedReading[] = [];

  /** The loan-book write in flight (one at a time), awaited by `stop`. */
  let loanWrite: Promise<void> | undefined;
  /** Never rejects: a failed write is logged, and the simulation goes on. */
  const writeLoans = async (): Promise<void> => {
    lastLoanWrite = simNow;
    try {
      const w = await loanWriter.writeAt(simNow);
      stats.loanRowsWritten += w.loans + w.repayments;
    } catch (err) {
      log.error({ err: errorMessage(err) }, 'loan book write failed');
    }
  };

  const progress = (): SimulationProgress => ({
    simNowMs: simNow,
    lagMs: now() - simNow,
    caughtUp: capped,
    throttled,
    devicesStarted: started,
    stats: { ...stats },
  });

  const tick = (): void => {
    const real = now();
    const dtMs = Math.max(0, real - lastReal);
    lastReal = real;

    // Ramp-up: a few connections per tick, never thousands of CONNECTs at once.
    const rate = opts.connectRatePerS ?? 200;
    connectBudget = Math.min(connectBudget + (rate * dtMs) / 1000, Math.max(1, rate));
    while (started < live.length && connectBudget >= 1) {
      live[started]?.client.start();
      started++;
      connectBudget--;
    }

    let pending = 0;
    for (const l of live) if (l.client.connected) pending += l.client.queued;
    throttled = pending > maxPending;
    if (!throttled) {
      const target = simNow + dtMs * speed * 3600;
      capped = target >= real - guardMs;
      simNow = Math.max(simNow, Math.min(target, real - guardMs));
    }

    for (const l of live) {
      buf.length = 0;
      if (l.stream.drain(simNow, buf) === 0) continue;
      stats.readingsGenerated += buf.length;
      l.client.enqueue(buf.map((g) => g.payload));
    }

    // Every simulated hour, but at most once a real second (a large book at high speed).
    if (
      loanWrite === undefined &&
      simNow - lastLoanWrite >= loanEveryMs &&
      real - lastLoanWriteReal >= 1_000
    ) {
      lastLoanWriteReal = real;
      loanWrite = writeLoans().finally(() => {
        loanWrite = undefined;
      });
    }
    if (opts.onProgress && real - lastProgress >= (opts.progressIntervalMs ?? 1_000)) {
      lastProgress = real;
      opts.onProgress(progress());
    }
  };

  const safeTick = (): void => {
    try {
      tick();
    } catch (err) {
      log.error({ err: errorMessage(err) }, 'simulation step failed');
    }
  };
  const timer = setInterval(safeTick, tickMs);
  safeTick();
  log.info(
    { devices: live.length, startMs, speed, mqttUrl: opts.mqttUrl.replace(/\/\/[^@/]*@/, '//') },
    'simulation started',
  );

  return {
    stats,
    simNowMs: () => simNow,
    caughtUp: () => capped,
    device: (id) => byId.get(id),
    stop(options = {}) {
      stopped ??= (async () => {
        clearInterval(timer);
        await loanWrite;
        await writeLoans();
        // Devices never started have nothing in flight; count their queue as unsent.
        await Promise.all(live.map((l) => l.client.stop(options.timeoutMs ?? 10_000)));
        log.info({ stats }, 'simulation stopped');
        return { ...stats };
      })();
      return stopped;
    },
  };
}
