/**
 * `npm run bench:connections` — many authenticated device connections, each publishing one reading a minute:
 * first on one broker process (up to BENCH_SINGLE_MAX, under the 20,000 open-files cap of a process here),
 * then all BENCH_CONNECTIONS across the brokers of a cluster sharing Redis (MQTT_PERSISTENCE=redis), devices
 * spread over them directly (HAProxy would hold two descriptors per connection in one process: it cannot
 * front 100,000 here). Every part is its own process: brokers, one ingest (InfluxDB), and the devices in load
 * processes (bench/connections-worker.ts: raw sockets and mqtt-packet) on loopback source addresses
 * 127.0.<phase>.10, .11, … (four per load process, none shared between phases).
 *
 * Devices are registered as the simulator registers them (a random token each, its salted hash in the
 * registry; test/support/provision.ts) and log in with those credentials.
 * Figures per setup: connect rate (CONNACKs/s while all connect), brokers' RSS idle and with every device
 * connected, memory per connection (the difference over the connections), PUBACK p99, and publish → stored
 * p50/p99 (probe devices, bench/stored-latency.ts) while the fleet publishes.
 *
 * Connects are paced (BENCH_CONNECT_RATE) so that the ramp does not take the shared cores from everything else,
 * and progress is printed every 10 s (connected, failures by reason, each broker's open files): a run that
 * slows or stops shows why while it runs. Every process started is killed if the bench is interrupted.
 *
 * Environment: BENCH_CONNECTIONS (2000; 100000 for the full size), BENCH_SINGLE_MAX (19800),
 * BENCH_WINDOW_MS (60000: each device publishes once), BENCH_PERIOD_MS (60000), BENCH_PER_PROCESS (17000),
 * BENCH_CONNECT_RATE (300/s), BENCH_CONNACK_TIMEOUT_MS (30000), BENCH_DRAIN_MS (30000), BENCH_PER_BROKER
 * (19000), BENCH_INGEST_WORKERS (1; more share BENCH_INGEST_PARTITIONS, 12), BENCH_PHASES (single,cluster).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { connect as netConnect } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig } from '../core/config.js';
import { issueToken } from '../core/credentials.js';
import { silentLogger } from '../core/logger.js';
import { openDatabase, stateConfigSpec, stateOn } from '../core/state/index.js';
import { openTelemetryStore } from '../core/storage/open-telemetry-store.js';
import { telemetryConfigSpec } from '../core/storage/telemetry-config.js';
import { freePort } from '../test/support/child-process.js';
import { startInfluxd, type Influxd } from '../test/support/influxd.js';
import { provisionStakes } from '../test/support/provision.js';
import { startRedis } from '../test/support/redis.js';
import { spawnRiskfuse, type RiskfuseProcess } from '../test/support/riskfuse-process.js';
import type {
  Connected,
  ConnectOrder,
  ConnectProgress,
  Published,
  PublishOrder,
} from './connections-worker.js';
import { quantileMs, rssBytes, startStoredProbe } from './stored-latency.js';
import { envInt, runBench } from './support.js';

const CONNECTIONS = envInt('BENCH_CONNECTIONS', 2000);
const SINGLE_MAX = envInt('BENCH_SINGLE_MAX', 19_800);
const WINDOW_MS = envInt('BENCH_WINDOW_MS', 60_000);
const PERIOD_MS = envInt('BENCH_PERIOD_MS', 60_000);
const PER_PROCESS = envInt('BENCH_PER_PROCESS', 17_000);
/** New connections per second over all load processes: a ramp the shared cores can take beside other work. */
const CONNECT_RATE = envInt('BENCH_CONNECT_RATE', 300);
const CONNACK_TIMEOUT_MS = envInt('BENCH_CONNACK_TIMEOUT_MS', 30_000);
/** `single`, `cluster` or both (default): the ratios need both. */
const PHASES = (process.env.BENCH_PHASES ?? 'single,cluster').split(',');
const SOURCES_PER_PROCESS = 4;
const DRAIN_MS = envInt('BENCH_DRAIN_MS', 30_000);
/**
 * Cluster phase: ingest workers (each on its own broker) and the partitions they share when more than one. Three
 * workers on 12 partitions stored no faster than one on this contended 2-core machine (294 vs 390 readings/s at
 * 30,000 devices): the pipeline is short of CPU, not of sessions.
 */
const INGEST_WORKERS = envInt('BENCH_INGEST_WORKERS', 1);
const INGEST_PARTITIONS = envInt('BENCH_INGEST_PARTITIONS', 12);
const PROGRESS_MS = 10_000;
/** Connections per broker of the cluster phase, under a process's file cap with room for the rest. */
const PER_BROKER = envInt('BENCH_PER_BROKER', 19_000);
const PROBES = 4;

interface PhaseResult {
  readonly brokers: number;
  readonly connections: number;
  readonly failed: number;
  readonly firstError?: string;
  /** Failure reason → count. */
  readonly failures: Record<string, number>;
  readonly connectPerS: number;
  /** Each broker's RSS with every device connected. */
  readonly brokerRssMiB: number[];
  readonly brokersRssIdleMiB: number;
  readonly brokersRssConnectedMiB: number;
  readonly bytesPerConnection: number;
  readonly readingsPerS: number;
  readonly published: number;
  readonly acked: number;
  readonly closedDuringWindow: number;
  readonly pubackP99Ms: number;
  readonly storedP50Ms: number;
  readonly storedP99Ms: number;
  readonly storedSamples: number;
  /** Probe readings not stored within BENCH_DRAIN_MS after the window: the store lags behind the fleet. */
  readonly storedMissing: number;
}

/** A load process (bench/connections-worker.ts) and its latest progress while connecting. */
class LoadProcess {
  readonly child: ChildProcess;
  progress: ConnectProgress = { type: 'progress', connected: 0, failed: 0, failures: {} };

  constructor() {
    this.child = fork(new URL('./connections-worker.ts', import.meta.url), { execArgv: ['--import', 'tsx'] });
    live.add(this.child);
    this.child.once('exit', () => live.delete(this.child));
    this.child.on('message', (m: { type: string }) => {
      if (m.type === 'progress') this.progress = m as ConnectProgress;
    });
  }

  ask<T extends Connected | Published>(order: ConnectOrder | PublishOrder, reply: T['type']): Promise<T> {
    return new Promise((resolve, reject) => {
      const onMessage = (m: { type: string }): void => {
        if (m.type !== reply) return;
        this.child.off('message', onMessage);
        this.child.off('exit', onExit);
        if (m.type === 'connected') this.progress = { ...(m as Connected), type: 'progress' };
        resolve(m as T);
      };
      const onExit = (code: number | null): void => reject(new Error(`load process exited (${code})`));
      this.child.on('message', onMessage);
      this.child.once('exit', onExit);
      this.child.send(order);
    });
  }
}

/**
 * Every process the bench started and has not seen exit: killed (SIGKILL) if the bench is interrupted, so a
 * stopped run leaves no broker, load process, InfluxDB or Redis behind. The normal path stops them in `finally`.
 */
const live = new Set<ChildProcess>();
/** InfluxDB and Redis, stopped (and their directories removed) on an interruption too. */
const services: (() => Promise<void>)[] = [];
const stopAll = (): void => {
  for (const child of live) child.kill('SIGKILL');
};
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.once(signal, () => {
    console.log(`${signal}: stopping every process the bench started`);
    stopAll();
    void Promise.allSettled(services.map((stop) => stop())).finally(() => process.exit(130));
  });
}
process.once('exit', stopAll);

const mib = (bytes: number): number => Math.round(bytes / 1_048_576);

function openFiles(pid: number): number {
  try {
    return readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return NaN;
  }
}

function sumFailures(all: readonly Record<string, number>[]): Record<string, number> {
  const sum: Record<string, number> = {};
  for (const f of all) for (const [k, v] of Object.entries(f)) sum[k] = (sum[k] ?? 0) + v;
  return sum;
}

/** Resolves once a TCP connection to 127.0.0.1:`port` succeeds (the brokers log at `warn` only, see below). */
async function listening(port: number, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = netConnect({ host: '127.0.0.1', port });
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (ok) return;
    if (performance.now() > deadline)
      throw new Error(`nothing listens on port ${port} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** Source addresses of load process `c` in phase `p`: four of its own, none shared with another phase. */
const sourcesOf = (p: number, c: number): string[] =>
  Array.from({ length: SOURCES_PER_PROCESS }, (_, k) => `127.0.${p}.${10 + c * SOURCES_PER_PROCESS + k}`);

async function phase(
  name: string,
  index: number,
  devices: readonly (readonly [string, string])[],
  probes: Map<string, string>,
  brokerCount: number,
  env: {
    common: Record<string, string>;
    broker: Record<string, string>;
    influxd: Influxd;
    ingestWorkers: number;
    redisUrl?: string;
  },
): Promise<PhaseResult> {
  const started: RiskfuseProcess[] = [];
  const children: LoadProcess[] = [];
  let progressTimer: NodeJS.Timeout | undefined;
  try {
    const ports = await Promise.all(Array.from({ length: brokerCount }, () => freePort()));
    const brokers = ports.map((port) =>
      spawnRiskfuse(['broker'], {
        ...env.common,
        ...env.broker,
        // One log line per connection would cost the brokers more than the connections: warnings and errors
        // (file limit, refusals) still show.
        LOG_LEVEL: 'warn',
        MQTT_HOST: '0.0.0.0',
        MQTT_PORT: String(port),
      }),
    );
    for (const b of brokers) live.add(b.child);
    started.push(...brokers);
    await Promise.all(ports.map((port) => listening(port, 180_000)));
    // One ingest for one broker; in the cluster, INGEST_WORKERS workers sharing INGEST_PARTITIONS partition
    // sessions through Redis, each on its own broker, so the brokers share the delivery to the ingest.
    const ingests = Array.from({ length: env.ingestWorkers }, (_, w) =>
      spawnRiskfuse(['ingest'], {
        ...env.common,
        ...(env.ingestWorkers > 1 && env.redisUrl !== undefined
          ? {
              INGEST_PARTITIONS: String(INGEST_PARTITIONS),
              INGEST_REDIS_URL: env.redisUrl ?? '',
              INGEST_WORKER_ID: `w${w}`,
            }
          : {}),
        INFLUX_URL: env.influxd.url,
        INFLUX_DATABASE: name,
        LOG_LEVEL: 'info',
        MQTT_URL: `mqtt://127.0.0.1:${ports[w % ports.length]}`,
      }),
    );
    for (const i of ingests) live.add(i.child);
    started.push(...ingests);
    await Promise.all(ingests.map((i) => i.waitFor(/"msg":"subscribed"/, 180_000)));
    // The workers' shares settle after a lease renewal.
    if (ingests.length > 1) await new Promise((r) => setTimeout(r, 3000));
    const brokerPids = brokers.map((b) => b.child.pid as number);
    const rss = (): number => brokerPids.reduce((s, pid) => s + rssBytes(pid), 0);
    await new Promise((r) => setTimeout(r, 1000));
    const rssIdle = rss();

    const slices = Math.ceil(devices.length / PER_PROCESS);
    for (let c = 0; c < slices; c++) children.push(new LoadProcess());
    const t0 = performance.now();
    let last = { t: t0, connected: 0 };
    progressTimer = setInterval(() => {
      const connected = children.reduce((s, c) => s + c.progress.connected, 0);
      const failed = children.reduce((s, c) => s + c.progress.failed, 0);
      const failures = sumFailures(children.map((c) => c.progress.failures));
      const now = performance.now();
      const rate = Math.round(((connected - last.connected) * 1000) / (now - last.t));
      last = { t: now, connected };
      console.log(
        `  ${name} ${Math.round((now - t0) / 1000)} s: ${connected} connected (${rate}/s), ${failed} failed ${JSON.stringify(failures)}; brokers' RSS ${mib(rss())} MiB, open files ${brokerPids.map(openFiles).join(' ')}; load ${loadavg()[0]?.toFixed(1)}`,
      );
    }, PROGRESS_MS);
    const connected = await Promise.all(
      children.map((child, c) =>
        child.ask<Connected>(
          {
            type: 'connect',
            devices: devices.slice(c * PER_PROCESS, (c + 1) * PER_PROCESS),
            ports,
            sourceAddresses: sourcesOf(index, c),
            concurrency: 200,
            ratePerS: CONNECT_RATE / slices,
            connackTimeoutMs: CONNACK_TIMEOUT_MS,
          },
          'connected',
        ),
      ),
    );
    clearInterval(progressTimer);
    const connectS = (performance.now() - t0) / 1000;
    const connections = connected.reduce((s, r) => s + r.connected, 0);
    const failed = connected.reduce((s, r) => s + r.failed, 0);
    const firstError = connected.find((r) => r.firstError !== undefined)?.firstError;
    const failures = sumFailures(connected.map((r) => r.failures));
    await new Promise((r) => setTimeout(r, 2000));
    const brokerRss = brokerPids.map(rssBytes);
    const brokerRssMiB = brokerRss.map(mib);
    const rssConnected = brokerRss.reduce((a, b) => a + b, 0);

    const store = await openTelemetryStore(
      parseConfig(telemetryConfigSpec, { INFLUX_URL: env.influxd.url, INFLUX_DATABASE: name }),
      silentLogger,
    );
    const baseMs = Date.now() - 3_600_000;
    // Probes on the last broker: in the cluster their readings cross Redis to the ingest on the first.
    const probe = await startStoredProbe({
      store,
      mqttUrl: `mqtt://127.0.0.1:${ports[ports.length - 1]}`,
      probes,
      intervalMs: 250,
      pollMs: 50,
      baseMs,
    });
    probe.measure();
    const before = await store.count({ fromMs: baseMs });
    const w0 = performance.now();
    const published = await Promise.all(
      children.map((child) =>
        child.ask<Published>(
          { type: 'publish', periodMs: PERIOD_MS, windowMs: WINDOW_MS, baseMs },
          'published',
        ),
      ),
    );
    const stored = await probe.stop(DRAIN_MS);
    const windowS = (performance.now() - w0) / 1000;
    const readingsPerS = Math.round(((await store.count({ fromMs: baseMs })) - before) / windowS);
    await store.close();
    const puback = published.flatMap((p) => p.pubackMs).sort((a, b) => a - b);
    return {
      brokers: brokerCount,
      connections,
      failed,
      ...(firstError === undefined ? {} : { firstError }),
      failures,
      connectPerS: Math.round(connections / connectS),
      brokerRssMiB,
      brokersRssIdleMiB: mib(rssIdle),
      brokersRssConnectedMiB: mib(rssConnected),
      bytesPerConnection: Math.round((rssConnected - rssIdle) / Math.max(1, connections)),
      readingsPerS,
      published: published.reduce((s, p) => s + p.published, 0),
      acked: published.reduce((s, p) => s + p.acked, 0),
      closedDuringWindow: published.reduce((s, p) => s + p.closed, 0),
      pubackP99Ms: quantileMs(puback, 0.99),
      storedP50Ms: quantileMs(stored, 0.5),
      storedP99Ms: quantileMs(stored, 0.99),
      storedSamples: stored.length,
      storedMissing: probe.notStored(),
    };
  } finally {
    clearInterval(progressTimer);
    for (const c of children) c.child.kill('SIGKILL');
    for (const p of started.reverse()) await p.kill('SIGTERM');
  }
}

runBench(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'rf-bench-connections-'));
  const [influxd, redis] = await Promise.all([startInfluxd(), startRedis({ appendfsync: 'everysec' })]);
  services.push(
    () => influxd.stop(),
    () => redis.stop(),
    () => Promise.resolve(rmSync(dir, { recursive: true, force: true })),
  );
  try {
    const db = await openDatabase(parseConfig(stateConfigSpec, { DATA_DIR: dir }), silentLogger, 'bench');
    const state = stateOn(db);
    const ids = Array.from({ length: CONNECTIONS }, (_, i) => `stk-c-${String(i).padStart(6, '0')}`);
    const p0 = performance.now();
    const tokens = await provisionStakes(state, [
      ...ids,
      ...Array.from({ length: PROBES }, (_, i) => `stk-p-${i}`),
    ]);
    console.log(`registered ${tokens.size} devices in ${Math.round(performance.now() - p0)} ms`);
    await state.close();
    const devices = ids.map((id) => [id, tokens.get(id) as string] as const);
    const probes = new Map([...tokens].filter(([id]) => id.startsWith('stk-p-')));
    const common = { DATA_DIR: dir, MQTT_SERVICE_TOKEN: issueToken() };

    const report = (label: string, r: PhaseResult): void => {
      console.log(
        `${label.padEnd(27)} ${r.connections} connected (${r.failed} failed${r.failed > 0 ? ` ${JSON.stringify(r.failures)}` : ''}) at ${r.connectPerS}/s; brokers' RSS ${r.brokersRssIdleMiB} → ${r.brokersRssConnectedMiB} MiB (${r.brokerRssMiB.join(' + ')}) = ${r.bytesPerConnection} B/connection; ${r.readingsPerS} readings/s stored; PUBACK p99 ${r.pubackP99Ms} ms; publish→stored p50 ${r.storedP50Ms} ms p99 ${r.storedP99Ms} ms (${r.storedSamples} probes, ${r.storedMissing} not stored within ${DRAIN_MS / 1000} s); ${r.closedDuringWindow} dropped during the window`,
      );
    };
    const single = PHASES.includes('single')
      ? await phase('single', 1, devices.slice(0, SINGLE_MAX), probes, 1, {
          common,
          broker: {},
          influxd,
          ingestWorkers: 1,
        })
      : undefined;
    // Each phase is printed as it ends: the full size runs for a long time on a shared machine.
    if (single !== undefined) report('1 broker (SQLite sessions)', single);
    const brokers = Math.max(2, Math.ceil(CONNECTIONS / PER_BROKER));
    const cluster = PHASES.includes('cluster')
      ? await phase('cluster', 2, devices, probes, brokers, {
          common,
          broker: { MQTT_PERSISTENCE: 'redis', MQTT_REDIS_URL: redis.url },
          influxd,
          ingestWorkers: Math.min(brokers, INGEST_WORKERS),
          redisUrl: redis.url,
        })
      : undefined;
    if (cluster !== undefined) report(`${cluster.brokers} brokers (Redis)`, cluster);
    const ratio = (a: number, b: number): number => Math.round((a / b) * 100) / 100;
    const ratios =
      single === undefined || cluster === undefined
        ? {}
        : {
            bytesPerConnectionRatio: ratio(cluster.bytesPerConnection, single.bytesPerConnection),
            storedP99Ratio: ratio(cluster.storedP99Ms, single.storedP99Ms),
            connectRateRatio: ratio(cluster.connectPerS, single.connectPerS),
          };
    if (single !== undefined && cluster !== undefined) {
      console.log(
        `ratios (cluster / one broker): bytes per connection ${ratios.bytesPerConnectionRatio}, publish→stored p99 ${ratios.storedP99Ratio}, connect rate ${ratios.connectRateRatio}`,
      );
    }
    console.log(
      JSON.stringify({
        bench: 'connections',
        connections: CONNECTIONS,
        windowMs: WINDOW_MS,
        periodMs: PERIOD_MS,
        connectRatePerS: CONNECT_RATE,
        single,
        cluster,
        ...ratios,
      }),
    );
  } finally {
    await Promise.all(services.map((stop) => stop()));
  }
});
