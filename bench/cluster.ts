/**
 * `npm run bench:cluster` — readings/s from devices to InfluxDB through two brokers on Redis behind HAProxy
 * and two ingest workers (8 partitions), beside one broker (SQLite sessions, the default) and one ingest
 * measured in the same run on the same machine, every part its own process (test/support/*).
 *
 * Load: real MQTT.js device clients in this process, QoS 1, one reading per message, each device keeping
 * BENCH_INFLIGHT publishes open (closed loop: saturation). Figures per setup:
 * - readings/s stored (InfluxDB point count over the window);
 * - CPU µs per reading of each process (brokers, workers, Redis), from /proc/<pid>/stat over the window;
 * - PUBACK p99: publish → PUBACK, which the broker sends only once the reading is in its session store
 *   (broker/publish-before-ack.ts), so it is the publish → durably queued latency;
 * - drain ms: after the devices stop, how long until every PUBACKed reading is in InfluxDB;
 * - publish → stored p50/p99, measured after the saturation window in a paced phase where the devices offer
 *   BENCH_PACED_RATE readings/s (the same for both setups) and probe devices publish one reading every 50 ms;
 *   the store is polled for them (bench/stored-latency.ts): PUBLISH → readable in InfluxDB, what the PUBACK
 *   p99 leaves out (the ingest's batching, the partition hop through Redis, the InfluxDB write).
 * Memory per connection is measured by `npm run bench:connections` (thousands of connections; a few hundred
 * are lost in the brokers' garbage-collection noise).
 * On a 2-core machine the cluster runs 2× the processes on the same cores: it cannot be faster here; the
 * ratios show what clustering costs per reading, which the README's capacity model projects from.
 *
 * Environment: BENCH_DEVICES (200), BENCH_DURATION_MS (8000), BENCH_INFLIGHT (2), BENCH_PROBES (4),
 * BENCH_PACED_RATE (100 readings/s), BENCH_PACED_MS (6000).
 */
import { readdirSync, readFileSync } from 'node:fs';
import mqtt, { type MqttClient } from 'mqtt';
import { parseConfig } from '../core/config.js';
import { issueToken } from '../core/credentials.js';
import { telemetryTopic } from '../core/contracts/index.js';
import { silentLogger } from '../core/logger.js';
import { openDatabase, stateConfigSpec, stateOn } from '../core/state/index.js';
import { openTelemetryStore } from '../core/storage/open-telemetry-store.js';
import { telemetryConfigSpec } from '../core/storage/telemetry-config.js';
import { freePort } from '../test/support/child-process.js';
import { startHaproxy } from '../test/support/haproxy.js';
import { startInfluxd, type Influxd } from '../test/support/influxd.js';
import { startPostgres } from '../test/support/postgres.js';
import { provisionStakes } from '../test/support/provision.js';
import { startRedis, type RedisServer } from '../test/support/redis.js';
import { spawnRiskfuse, type RiskfuseProcess } from '../test/support/riskfuse-process.js';
import { quantileMs, stakePayload, startStoredProbe } from './stored-latency.js';
import { envInt, processCpuSeconds, runBench } from './support.js';

const DEVICES = envInt('BENCH_DEVICES', 200);
const DURATION_MS = envInt('BENCH_DURATION_MS', 8000);
const INFLIGHT = envInt('BENCH_INFLIGHT', 2);
const PROBES = envInt('BENCH_PROBES', 4);
const PROBE_INTERVAL_MS = 50;
const PROBE_POLL_MS = 20;
const PACED_MS = envInt('BENCH_PACED_MS', 6000);
/** Readings/s offered in the paced phase of both setups: well under what 1 + 1 sustains on a shared 2-core machine. */
const PACED_RATE = envInt('BENCH_PACED_RATE', 100);
const PARTITIONS = 8;

interface Setup {
  readonly name: string;
  readonly mqttUrl: string;
  readonly processes: Record<string, number>;
  readonly database: string;
}

interface Result {
  readonly readingsPerS: number;
  readonly cpuUsPerReading: Record<string, number>;
  readonly pubackP99Ms: number;
  readonly drainMs: number;
  readonly storedP50Ms: number;
  readonly storedP99Ms: number;
  readonly storedSamples: number;
}

/** The redis-server started by `redis`, found by its port. */
function redisPid(redis: RedisServer): number {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const cmd = (() => {
      try {
        return readFileSync(`/proc/${entry}/cmdline`, 'utf8');
      } catch {
        return '';
      }
    })();
    // redis-server retitles itself `/usr/bin/redis-server 127.0.0.1:{port}`.
    if (cmd.startsWith('/usr/bin/redis-server') && cmd.includes(`:${redis.port}`)) return Number(entry);
  }
  throw new Error('redis-server process not found');
}

async function waitStarted(p: RiskfuseProcess, pattern: RegExp): Promise<number> {
  await p.waitFor(pattern, 120_000);
  const pid = p.child.pid;
  if (pid === undefined) throw new Error('no pid');
  return pid;
}

async function run(
  setup: Setup,
  tokens: Map<string, string>,
  probes: Map<string, string>,
  influxd: Influxd,
  /** Readings/s the devices offer in the paced phase where publish → stored is measured. */
  pacedRate: number,
): Promise<Result> {
  const store = await openTelemetryStore(
    parseConfig(telemetryConfigSpec, { INFLUX_URL: influxd.url, INFLUX_DATABASE: setup.database }),
    silentLogger,
  );
  const clients: MqttClient[] = await Promise.all(
    [...tokens].map(([id, token]) =>
      mqtt.connectAsync(setup.mqttUrl, { clientId: id, username: id, password: token, clean: true }),
    ),
  );
  const base = Date.now() - 3_600_000;
  const latencies: number[] = [];
  let running = true;
  let acked = 0;
  let measuring = false;
  const ids = [...tokens.keys()];
  const nextSeq = new Array<number>(ids.length).fill(0);
  const payload = (seq: number): string => stakePayload(base + seq, seq);
  const loops = clients.flatMap((client, i) =>
    Array.from({ length: INFLIGHT }, async () => {
      const id = ids[i] as string;
      while (running) {
        const seq = (nextSeq[i] = (nextSeq[i] ?? 0) + 1);
        const t0 = performance.now();
        await client.publishAsync(telemetryTopic(id), payload(seq), { qos: 1 });
        acked += 1;
        if (measuring) latencies.push(performance.now() - t0);
      }
    }),
  );
  // Warm-up, then the window.
  await new Promise((r) => setTimeout(r, 2000));
  const storedBefore = await store.count({ fromMs: base });
  const cpuBefore = Object.fromEntries(
    Object.entries(setup.processes).map(([k, pid]) => [k, processCpuSeconds(pid)]),
  );
  measuring = true;
  const t0 = Date.now();
  await new Promise((r) => setTimeout(r, DURATION_MS));
  const storedAfter = await store.count({ fromMs: base });
  const elapsedS = (Date.now() - t0) / 1000;
  const cpuAfter = Object.fromEntries(
    Object.entries(setup.processes).map(([k, pid]) => [k, processCpuSeconds(pid)]),
  );
  measuring = false;
  running = false;
  const stoppedAt = Date.now();
  await Promise.all(loops);
  while ((await store.count({ fromMs: base })) < acked) await new Promise((r) => setTimeout(r, 50));
  const drainMs = Date.now() - stoppedAt;

  // Paced phase: the devices offer `pacedRate` readings/s (round robin, QoS 1) while the probes measure
  // publish → stored. Saturation would measure only the queue the closed loop builds, not the path.
  const probe = await startStoredProbe({
    store,
    mqttUrl: setup.mqttUrl,
    probes,
    intervalMs: PROBE_INTERVAL_MS,
    pollMs: PROBE_POLL_MS,
    baseMs: base,
  });
  let next = 0;
  let owed = 0;
  const pacer = setInterval(() => {
    owed += pacedRate / 100;
    for (; owed >= 1; owed -= 1) {
      const i = next++ % clients.length;
      const seq = (nextSeq[i] = (nextSeq[i] ?? 0) + 1);
      clients[i]?.publish(telemetryTopic(ids[i] as string), payload(seq), { qos: 1 });
    }
  }, 10);
  await new Promise((r) => setTimeout(r, 1000));
  probe.measure();
  await new Promise((r) => setTimeout(r, PACED_MS));
  clearInterval(pacer);
  const stored = await probe.stop();
  await Promise.all(clients.map((c) => c.endAsync()));
  await store.close();
  const readings = storedAfter - storedBefore;
  latencies.sort((a, b) => a - b);
  return {
    readingsPerS: Math.round(readings / elapsedS),
    cpuUsPerReading: Object.fromEntries(
      Object.keys(setup.processes).map((k) => [
        k,
        Math.round((((cpuAfter[k] ?? 0) - (cpuBefore[k] ?? 0)) * 1e6) / Math.max(1, readings)),
      ]),
    ),
    pubackP99Ms: quantileMs(latencies, 0.99),
    drainMs,
    storedP50Ms: quantileMs(stored, 0.5),
    storedP99Ms: quantileMs(stored, 0.99),
    storedSamples: stored.length,
  };
}

runBench(async () => {
  const [influxd, redis, postgres] = await Promise.all([
    startInfluxd(),
    startRedis({ appendfsync: 'always' }),
    startPostgres(),
  ]);
  const url = await postgres.createDatabase('bench_cluster');
  const state = stateOn(
    await openDatabase(parseConfig(stateConfigSpec, { STATE_DB_URL: url }), silentLogger, 'bench'),
  );
  const all = await provisionStakes(state, [
    ...Array.from({ length: DEVICES }, (_, i) => `stk-bench-${String(i).padStart(4, '0')}`),
    ...Array.from({ length: PROBES }, (_, i) => `stk-probe-${i}`),
  ]);
  const tokens = new Map([...all].filter(([id]) => id.startsWith('stk-bench-')));
  const probes = new Map([...all].filter(([id]) => id.startsWith('stk-probe-')));
  const serviceToken = issueToken();
  const common = {
    STATE_DB_URL: url,
    MQTT_SERVICE_TOKEN: serviceToken,
    LOG_LEVEL: 'warn',
    DATA_DIR: redis.dir,
  };
  const influxEnv = (db: string) => ({ INFLUX_URL: influxd.url, INFLUX_DATABASE: db });
  const started: RiskfuseProcess[] = [];
  const spawn = (args: string[], env: Record<string, string>): RiskfuseProcess => {
    const p = spawnRiskfuse(args, env);
    started.push(p);
    return p;
  };

  // 1 + 1: today's single broker (SQLite sessions) and single ingest.
  const singlePort = await freePort();
  const single = spawn(['broker'], {
    ...common,
    LOG_LEVEL: 'info',
    MQTT_HOST: '127.0.0.1',
    MQTT_PORT: String(singlePort),
    MQTT_PERSISTENCE_PATH: `${redis.dir}/single-broker.db`,
  });
  const singleBroker = await waitStarted(single, /MQTT broker listening/);
  const singleIngest = spawn(['ingest'], {
    ...common,
    ...influxEnv('single'),
    LOG_LEVEL: 'info',
    MQTT_URL: `mqtt://127.0.0.1:${singlePort}`,
  });
  const singleWorker = await waitStarted(singleIngest, /"msg":"subscribed"/);
  const baseline = await run(
    {
      name: '1 broker + 1 ingest',
      mqttUrl: `mqtt://127.0.0.1:${singlePort}`,
      processes: { broker: singleBroker, ingest: singleWorker },
      database: 'single',
    },
    tokens,
    probes,
    influxd,
    PACED_RATE,
  );
  await singleIngest.kill('SIGTERM');
  await single.kill('SIGTERM');

  // 2 + 2: brokers on Redis behind HAProxy, workers splitting 8 partitions.
  const ports = [await freePort(), await freePort()];
  const brokers = ports.map((port) =>
    spawn(['broker'], {
      ...common,
      LOG_LEVEL: 'info',
      MQTT_HOST: '127.0.0.1',
      MQTT_PORT: String(port),
      MQTT_PERSISTENCE: 'redis',
      MQTT_REDIS_URL: redis.url,
    }),
  );
  const brokerPids = await Promise.all(brokers.map((b) => waitStarted(b, /MQTT broker listening/)));
  const haproxy = await startHaproxy([`127.0.0.1:${ports[0]}`, `127.0.0.1:${ports[1]}`]);
  const workers = [0, 1].map((i) =>
    spawn(['ingest'], {
      ...common,
      ...influxEnv('cluster'),
      LOG_LEVEL: 'info',
      MQTT_URL: haproxy.url,
      INGEST_PARTITIONS: String(PARTITIONS),
      INGEST_REDIS_URL: redis.url,
      INGEST_WORKER_ID: `w${i}`,
    }),
  );
  const workerPids = await Promise.all(workers.map((w) => waitStarted(w, /"msg":"subscribed"/)));
  // Both workers' shares settle after one lease renewal.
  await new Promise((r) => setTimeout(r, 3000));
  const cluster = await run(
    {
      name: '2 brokers + 2 workers',
      mqttUrl: haproxy.url,
      processes: {
        'broker-1': brokerPids[0] as number,
        'broker-2': brokerPids[1] as number,
        'ingest-1': workerPids[0] as number,
        'ingest-2': workerPids[1] as number,
        redis: redisPid(redis),
      },
      database: 'cluster',
    },
    tokens,
    probes,
    influxd,
    // The same offered load as the 1 + 1 run, so the two latencies compare.
    PACED_RATE,
  );

  const sum = (r: Result, prefix: string) =>
    Object.entries(r.cpuUsPerReading)
      .filter(([k]) => k.startsWith(prefix))
      .reduce((a, [, v]) => a + v, 0);
  const figures = {
    bench: 'cluster',
    devices: DEVICES,
    inflight: INFLIGHT,
    pacedRatePerS: PACED_RATE,
    singleReadingsPerS: baseline.readingsPerS,
    clusterReadingsPerS: cluster.readingsPerS,
    throughputRatio: Math.round((cluster.readingsPerS / baseline.readingsPerS) * 100) / 100,
    singleBrokerCpuUsPerReading: sum(baseline, 'broker'),
    clusterBrokersCpuUsPerReading: sum(cluster, 'broker'),
    brokerCpuRatio: Math.round((sum(cluster, 'broker') / sum(baseline, 'broker')) * 100) / 100,
    singleIngestCpuUsPerReading: sum(baseline, 'ingest'),
    clusterIngestCpuUsPerReading: sum(cluster, 'ingest'),
    ingestCpuRatio: Math.round((sum(cluster, 'ingest') / sum(baseline, 'ingest')) * 100) / 100,
    redisCpuUsPerReading: cluster.cpuUsPerReading.redis ?? 0,
    singlePubackP99Ms: baseline.pubackP99Ms,
    clusterPubackP99Ms: cluster.pubackP99Ms,
    singleDrainMs: baseline.drainMs,
    clusterDrainMs: cluster.drainMs,
    singleStoredP50Ms: baseline.storedP50Ms,
    singleStoredP99Ms: baseline.storedP99Ms,
    clusterStoredP50Ms: cluster.storedP50Ms,
    clusterStoredP99Ms: cluster.storedP99Ms,
    storedP99Ratio: Math.round((cluster.storedP99Ms / baseline.storedP99Ms) * 100) / 100,
    storedSamples: { single: baseline.storedSamples, cluster: cluster.storedSamples },

    perProcessCpuUsPerReading: { single: baseline.cpuUsPerReading, cluster: cluster.cpuUsPerReading },
  };
  console.log(
    `devices ${DEVICES}, ${INFLIGHT} publishes in flight each, window ${DURATION_MS} ms; publish→stored at ${PACED_RATE} readings/s offered for ${PACED_MS} ms`,
  );
  for (const [name, r] of [
    ['1 broker + 1 ingest', baseline],
    ['2 brokers + 2 workers', cluster],
  ] as const) {
    console.log(
      `${name.padEnd(22)} ${String(r.readingsPerS).padStart(7)} readings/s  PUBACK p99 ${r.pubackP99Ms} ms  publish→stored p50 ${r.storedP50Ms} ms p99 ${r.storedP99Ms} ms (${r.storedSamples} probes)  drain ${r.drainMs} ms  CPU µs/reading ${JSON.stringify(r.cpuUsPerReading)}`,
    );
  }
  console.log(
    `ratios (cluster / single): throughput ${figures.throughputRatio}, broker CPU per reading ${figures.brokerCpuRatio}, ingest CPU per reading ${figures.ingestCpuRatio}, publish→stored p99 ${figures.storedP99Ratio}`,
  );
  for (const w of workers) await w.kill('SIGTERM');
  for (const b of brokers) await b.kill('SIGTERM');
  await haproxy.stop();
  await state.close();
  await Promise.all([influxd.stop(), redis.stop(), postgres.stop()]);
  console.log(JSON.stringify(figures));
});
