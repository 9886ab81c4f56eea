/**
 * `npm run bench:connections` — many authenticated device connections, each publishing one reading a minute:
 * first on one broker process (up to BENCH_SINGLE_MAX, under the 20,000 open-files cap of a process here),
 * then all BENCH_CONNECTIONS across the brokers of a cluster sharing Redis (MQTT_PERSISTENCE=redis), devices
 * spread over them directly (HAProxy would hold two descriptors per connection in one process: it cannot
 * front 100,000 here). Every part is its own process: brokers, one ingest (InfluxDB), and the devices in load
 * processes (bench/connections-worker.ts: raw sockets and mqtt-packet) on loopback source addresses
 * 127.0.0.10, .11, …
 *
 * Devices are registered as the simulator registers them (a random token each, its salted hash in the
 * registry; test/support/provision.ts) and log in with those credentials.
 * Figures per setup: connect rate (CONNACKs/s while all connect), brokers' RSS idle and with every device
 * connected, memory per connection (the difference over the connections), PUBACK p99, and publish → stored
 * p50/p99 (probe devices, bench/stored-latency.ts) while the fleet publishes.
 *
 * Environment: BENCH_CONNECTIONS (2000; 100000 for the full size), BENCH_SINGLE_MAX (19800),
 * BENCH_WINDOW_MS (60000: each device publishes once), BENCH_PERIOD_MS (60000), BENCH_PER_PROCESS (17000).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
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
import type { Connected, ConnectOrder, Published, PublishOrder } from './connections-worker.js';
import { quantileMs, rssBytes, startStoredProbe } from './stored-latency.js';
import { envInt, runBench } from './support.js';

const CONNECTIONS = envInt('BENCH_CONNECTIONS', 2000);
const SINGLE_MAX = envInt('BENCH_SINGLE_MAX', 19_800);
const WINDOW_MS = envInt('BENCH_WINDOW_MS', 60_000);
const PERIOD_MS = envInt('BENCH_PERIOD_MS', 60_000);
const PER_PROCESS = envInt('BENCH_PER_PROCESS', 17_000);
/** Connections per broker of the cluster phase, under a process's file cap with room for the rest. */
const PER_BROKER = 19_000;
const PROBES = 4;

interface PhaseResult {
  readonly brokers: number;
  readonly connections: number;
  readonly failed: number;
  readonly firstError?: string;
  readonly connectPerS: number;
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
}

function ask<T>(child: ChildProcess, order: ConnectOrder | PublishOrder): Promise<T> {
  return new Promise((resolve, reject) => {
    child.once('message', (m) => resolve(m as T));
    child.once('exit', (code) => reject(new Error(`load process exited (${code})`)));
    child.send(order);
  });
}

const mib = (bytes: number): number => Math.round(bytes / 1_048_576);

async function phase(
  name: string,
  devices: readonly (readonly [string, string])[],
  probes: Map<string, string>,
  brokerCount: number,
  env: { common: Record<string, string>; broker: Record<string, string>; influxd: Influxd },
): Promise<PhaseResult> {
  const started: RiskfuseProcess[] = [];
  const children: ChildProcess[] = [];
  try {
    const ports = await Promise.all(Array.from({ length: brokerCount }, () => freePort()));
    const brokers = ports.map((port) =>
      spawnRiskfuse(['broker'], {
        ...env.common,
        ...env.broker,
        LOG_LEVEL: 'info',
        MQTT_HOST: '0.0.0.0',
        MQTT_PORT: String(port),
      }),
    );
    started.push(...brokers);
    await Promise.all(brokers.map((b) => b.waitFor(/MQTT broker listening/, 180_000)));
    const ingest = spawnRiskfuse(['ingest'], {
      ...env.common,
      INFLUX_URL: env.influxd.url,
      INFLUX_DATABASE: name,
      LOG_LEVEL: 'info',
      MQTT_URL: `mqtt://127.0.0.1:${ports[0]}`,
    });
    started.push(ingest);
    await ingest.waitFor(/"msg":"subscribed"/, 180_000);
    const brokerPids = brokers.map((b) => b.child.pid as number);
    const rss = (): number => brokerPids.reduce((s, pid) => s + rssBytes(pid), 0);
    await new Promise((r) => setTimeout(r, 1000));
    const rssIdle = rss();

    const slices = Math.ceil(devices.length / PER_PROCESS);
    for (let c = 0; c < slices; c++) {
      children.push(
        fork(new URL('./connections-worker.ts', import.meta.url), { execArgv: ['--import', 'tsx'] }),
      );
    }
    const t0 = performance.now();
    const connected = await Promise.all(
      children.map((child, c) =>
        ask<Connected>(child, {
          type: 'connect',
          devices: devices.slice(c * PER_PROCESS, (c + 1) * PER_PROCESS),
          ports,
          sourceAddress: `127.0.0.${10 + c}`,
          concurrency: 200,
        }),
      ),
    );
    const connectS = (performance.now() - t0) / 1000;
    const connections = connected.reduce((s, r) => s + r.connected, 0);
    const failed = connected.reduce((s, r) => s + r.failed, 0);
    const firstError = connected.find((r) => r.firstError !== undefined)?.firstError;
    await new Promise((r) => setTimeout(r, 2000));
    const rssConnected = rss();

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
        ask<Published>(child, { type: 'publish', periodMs: PERIOD_MS, windowMs: WINDOW_MS, baseMs }),
      ),
    );
    const stored = await probe.stop();
    const windowS = (performance.now() - w0) / 1000;
    const readingsPerS = Math.round(((await store.count({ fromMs: baseMs })) - before) / windowS);
    await store.close();
    const puback = published.flatMap((p) => p.pubackMs).sort((a, b) => a - b);
    return {
      brokers: brokerCount,
      connections,
      failed,
      ...(firstError === undefined ? {} : { firstError }),
      connectPerS: Math.round(connections / connectS),
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
    };
  } finally {
    for (const child of children) child.kill('SIGKILL');
    for (const p of started.reverse()) await p.kill('SIGTERM');
  }
}

runBench(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'rf-bench-connections-'));
  const [influxd, redis] = await Promise.all([startInfluxd(), startRedis({ appendfsync: 'everysec' })]);
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
        `${label.padEnd(27)} ${r.connections} connected (${r.failed} failed${r.firstError ? `: ${r.firstError}` : ''}) at ${r.connectPerS}/s; brokers' RSS ${r.brokersRssIdleMiB} → ${r.brokersRssConnectedMiB} MiB = ${r.bytesPerConnection} B/connection; ${r.readingsPerS} readings/s stored; PUBACK p99 ${r.pubackP99Ms} ms; publish→stored p50 ${r.storedP50Ms} ms p99 ${r.storedP99Ms} ms (${r.storedSamples} probes); ${r.closedDuringWindow} dropped during the window`,
      );
    };
    const single = await phase('single', devices.slice(0, SINGLE_MAX), probes, 1, {
      common,
      broker: {},
      influxd,
    });
    // Each phase is printed as it ends: the full size runs for a long time on a shared machine.
    report('1 broker (SQLite sessions)', single);
    const brokers = Math.max(2, Math.ceil(CONNECTIONS / PER_BROKER));
    const cluster = await phase('cluster', devices, probes, brokers, {
      common,
      broker: { MQTT_PERSISTENCE: 'redis', MQTT_REDIS_URL: redis.url },
      influxd,
    });

    report(`${cluster.brokers} brokers (Redis)`, cluster);
    const ratio = (a: number, b: number): number => Math.round((a / b) * 100) / 100;
    console.log(
      `ratios (cluster / one broker): bytes per connection ${ratio(cluster.bytesPerConnection, single.bytesPerConnection)}, publish→stored p99 ${ratio(cluster.storedP99Ms, single.storedP99Ms)}, connect rate ${ratio(cluster.connectPerS, single.connectPerS)}`,
    );
    console.log(
      JSON.stringify({
        bench: 'connections',
        connections: CONNECTIONS,
        windowMs: WINDOW_MS,
        periodMs: PERIOD_MS,
        single,
        cluster,
        bytesPerConnectionRatio: ratio(cluster.bytesPerConnection, single.bytesPerConnection),
        storedP99Ratio: ratio(cluster.storedP99Ms, single.storedP99Ms),
      }),
    );
  } finally {
    await Promise.all([influxd.stop(), redis.stop()]);
    rmSync(dir, { recursive: true, force: true });
  }
});
