/**
 * `npm run bench:ingest` — sustained readings/s from MQTT publish to durable store, for SQLite and InfluxDB,
 * with thousands of simulated devices, beside the raw Aedes publish→subscribe rate (no auth, no storage)
 * measured in the same run. Prints a table and ends with one JSON line of every figure.
 *
 * Load: real MQTT.js device clients in a worker thread, each keeping BENCH_INFLIGHT QoS 1 publishes open
 * (closed loop), one reading per message. Latency = time stored (or received, for the baseline) minus the
 * device timestamp set at publish.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { Aedes } from 'aedes';
import mqtt from 'mqtt';
import { brokerConfigSpec } from '../broker/config.js';
import { createBroker } from '../broker/index.js';
import { createMq } from '../broker/mq.js';
import { parseConfig } from '../core/config.js';
import { ALL_TELEMETRY } from '../core/contracts/index.js';
import { issueToken, makeCredentials } from '../core/credentials.js';
import { silentLogger } from '../core/logger.js';
import { openSqliteStateStore } from '../core/storage/sqlite-state-store.js';
import { openTelemetryStore } from '../core/storage/open-telemetry-store.js';
import { telemetryConfigSpec } from '../core/storage/telemetry-config.js';
import { createIngest } from '../ingest/app.js';
import { ingestConfigSpec } from '../ingest/config.js';
import { influxdAvailable, startInfluxd } from '../test/support/influxd.js';

const DEVICES = Number(process.env.BENCH_DEVICES ?? 2000);
const DURATION_MS = Number(process.env.BENCH_DURATION_MS ?? 15_000);
const INFLIGHT = Number(process.env.BENCH_INFLIGHT ?? 4);
const RAMP_MS = Number(process.env.BENCH_RAMP_MS ?? 4000);

interface PhaseResult {
  readonly perS: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly publishedAckedPerS: number;
  readonly errors: number;
}

let peakRss = 0;
const rssTimer = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 100);

class Latencies {
  private readonly samples: number[] = [];
  private seen = 0;
  add(ms: number): void {
    this.seen += 1;
    if (this.samples.length < 2_000_000) this.samples.push(ms);
  }
  quantile(q: number): number {
    const sorted = [...this.samples].sort((a, b) => a - b);
    return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
  }
}

/** Runs the devices against `url`; `measured()` counts what arrived so far, `reset()` starts the window. */
async function drive(
  url: string,
  devices: { id: string; token: string | undefined }[],
  window: { reset(): void; measured(): number },
  latencies: Latencies,
): Promise<PhaseResult> {
  // Node 20 workers do not inherit the tsx loader, so the worker registers it before importing the load file.
  const entry = new URL('./load-worker.ts', import.meta.url).href;
  const boot = `import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${JSON.stringify(entry)}); })`;
  const worker = new Worker(boot, {
    eval: true,
    workerData: { url, devices, durationMs: DURATION_MS, inflight: INFLIGHT, rampMs: RAMP_MS },
  });
  let startedAt = 0;
  const done = await new Promise<{ acked: number; errors: number; elapsedMs: number }>((resolve, reject) => {
    worker.on('message', (m: { type: string; acked: number; errors: number; elapsedMs: number }) => {
      if (m.type === 'connected') {
        window.reset();
        startedAt = Date.now();
        process.stdout.write(
          `  ${devices.length} devices connected; measuring for ${DURATION_MS / 1000} s\n`,
        );
      } else if (m.type === 'done') resolve(m);
    });
    worker.on('error', reject);
  });
  const elapsedS = (Date.now() - startedAt) / 1000;
  const measured = window.measured();
  await worker.terminate();
  return {
    perS: Math.round(measured / elapsedS),
    p50Ms: Math.round(latencies.quantile(0.5) * 10) / 10,
    p99Ms: Math.round(latencies.quantile(0.99) * 10) / 10,
    publishedAckedPerS: Math.round(done.acked / (done.elapsedMs / 1000)),
    errors: done.errors,
  };
}

async function baseline(): Promise<PhaseResult> {
  process.stdout.write('baseline: bare Aedes, QoS 1, one MQTT.js subscriber, no auth, no storage\n');
  // Stock Aedes 1.2 dies of a stack overflow in its emitter at this load, so the baseline gets the same
  // emitter fix as the riskfuse broker (broker/mq.ts); nothing else is added.
  const aedes = await Aedes.createBroker({ mq: createMq(100), concurrency: 100 });
  const server: Server = createServer((socket) => {
    socket.setNoDelay(true);
    aedes.handle(socket);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  const url = `mqtt://127.0.0.1:${port}`;
  const sub = await mqtt.connectAsync(url, { clientId: 'bench-sub', clean: true });
  await sub.subscribeAsync(ALL_TELEMETRY, { qos: 1 });
  let received = 0;
  let counting = false;
  const latencies = new Latencies();
  sub.on('message', (_topic, payload) => {
    if (!counting) return;
    received += 1;
    const ts = (JSON.parse(payload.toString()) as { ts: number }).ts;
    latencies.add(Date.now() - ts);
  });
  const devices = Array.from({ length: DEVICES }, (_, i) => ({ id: `bench-${i}`, token: undefined }));
  const result = await drive(
    url,
    devices,
    { reset: () => ((counting = true), (received = 0)), measured: () => received },
    latencies,
  );
  counting = false;
  await sub.endAsync(true);
  await new Promise<void>((r) => server.close(() => r()));
  await new Promise<void>((r) => aedes.close(() => r()));
  return result;
}

async function platform(backend: 'sqlite' | 'influxdb', influxUrl?: string): Promise<PhaseResult> {
  process.stdout.write(`${backend}: riskfuse broker (auth + ACL) → ingest → ${backend}\n`);
  const dir = mkdtempSync(join(tmpdir(), 'rf-bench-'));
  const state = openSqliteStateStore(join(dir, 'state.db'));
  const now = Date.now();
  state.upsertBorrowers([{ id: 'b1', name: 'Bench', sector: 'trading', region: 'r', createdAt: now }]);
  state.upsertSites([
    { id: 's1', borrowerId: 'b1', name: 'S', kind: 'warehouse', lat: 31.2, lon: 121.5, geofence: [] },
  ]);
  const devices = Array.from({ length: DEVICES }, (_, i) => ({ id: `stk-bench-${i}`, token: issueToken() }));
  state.upsertDevices(
    devices.map((d) => ({
      device: {
        id: d.id,
        kind: 'stake' as const,
        borrowerId: 'b1',
        siteId: 's1',
        status: 'active' as const,
        createdAt: now,
      },
      credentials: makeCredentials(d.id, d.token),
    })),
  );
  const serviceToken = issueToken();
  const broker = createBroker({
    config: parseConfig(brokerConfigSpec, {
      MQTT_HOST: '127.0.0.1',
      MQTT_PORT: '0',
      MQTT_SERVICE_TOKEN: serviceToken,
    }),
    registry: state,
    log: silentLogger,
  });
  const { tcpPort } = await broker.listen();
  const url = `mqtt://127.0.0.1:${tcpPort}`;
  const telemetry = await openTelemetryStore(
    parseConfig(telemetryConfigSpec, {
      DATA_DIR: dir,
      ...(influxUrl ? { INFLUX_URL: influxUrl, INFLUX_DATABASE: 'bench' } : {}),
    }),
    silentLogger,
  );
  let stored = 0;
  let counting = false;
  const latencies = new Latencies();
  const ingest = createIngest({
    config: parseConfig(ingestConfigSpec, {
      MQTT_URL: url,
      MQTT_SERVICE_TOKEN: serviceToken,
      INGEST_CLIENT_ID: `bench-${backend}`,
    }),
    telemetry,
    state,
    log: silentLogger,
    onStored: (readings) => {
      if (!counting) return;
      stored += readings.length;
      const t = Date.now();
      for (const r of readings) latencies.add(t - r.ts);
    },
  });
  await ingest.start();
  const result = await drive(
    url,
    devices,
    { reset: () => ((counting = true), (stored = 0)), measured: () => stored },
    latencies,
  );
  counting = false;
  await ingest.stop();
  await broker.close();
  await telemetry.close();
  state.close();
  rmSync(dir, { recursive: true, force: true });
  return result;
}

function row(name: string, r: PhaseResult, base: number): string {
  return `${name.padEnd(26)} ${String(r.perS).padStart(8)} /s  ratio ${(r.perS / base).toFixed(2).padStart(5)}  p50 ${String(r.p50Ms).padStart(7)} ms  p99 ${String(r.p99Ms).padStart(7)} ms  errors ${r.errors}`;
}

async function main(): Promise<void> {
  process.stdout.write(
    `devices ${DEVICES}, in-flight per device ${INFLIGHT}, window ${DURATION_MS} ms, QoS 1, 1 reading/message\n`,
  );
  const base = await baseline();
  const sqlite = await platform('sqlite');
  let influx: PhaseResult | undefined;
  if (influxdAvailable()) {
    const influxd = await startInfluxd();
    try {
      influx = await platform('influxdb', influxd.url);
    } finally {
      await influxd.stop();
    }
  } else {
    process.stdout.write('influxdb: skipped (influxd not on PATH)\n');
  }
  clearInterval(rssTimer);
  process.stdout.write('\n');
  process.stdout.write(`${row('raw Aedes pub→sub (base)', base, base.perS)}\n`);
  process.stdout.write(`${row('riskfuse → SQLite', sqlite, base.perS)}\n`);
  if (influx) process.stdout.write(`${row('riskfuse → InfluxDB', influx, base.perS)}\n`);
  process.stdout.write(
    `peak RSS ${Math.round(peakRss / 1048576)} MB (whole bench process incl. device worker)\n`,
  );
  const figures = {
    bench: 'ingest',
    devices: DEVICES,
    inflightPerDevice: INFLIGHT,
    windowMs: DURATION_MS,
    baselinePerS: base.perS,
    baselineP50Ms: base.p50Ms,
    baselineP99Ms: base.p99Ms,
    sqliteReadingsPerS: sqlite.perS,
    sqliteRatio: Math.round((sqlite.perS / base.perS) * 1000) / 1000,
    sqliteP50Ms: sqlite.p50Ms,
    sqliteP99Ms: sqlite.p99Ms,
    influxReadingsPerS: influx?.perS ?? null,
    influxRatio: influx ? Math.round((influx.perS / base.perS) * 1000) / 1000 : null,
    influxP50Ms: influx?.p50Ms ?? null,
    influxP99Ms: influx?.p99Ms ?? null,
    peakRssMb: Math.round(peakRss / 1048576),
  };
  process.stdout.write(`${JSON.stringify(figures)}\n`);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`bench failed: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  },
);
