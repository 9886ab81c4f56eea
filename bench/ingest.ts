/**
 * `npm run bench:ingest` — MQTT publish to durable store, for SQLite and InfluxDB, with thousands of
 * simulated devices, beside the raw Aedes publish→subscribe path (no auth, no storage) measured in the same
 * run. Prints a table and ends with one JSON line of every figure.
 *
 * Load: real MQTT.js device clients in a worker thread of this process (bench/load-worker.ts), QoS 1, one
 * reading per message. Each backend (and the baseline) runs two phases on the same connections:
 * 1. paced (open loop): BENCH_RATE_PER_S messages a second spread evenly over the devices, well below
 *    saturation, so latency is service time: p50/p99 of stored (received, for the baseline) minus the
 *    device timestamp, over every message stamped in the window (late ones are waited for). Also the CPU
 *    the system under test spent per reading (process CPU minus the device worker's; Linux only).
 * 2. closed loop: every device keeps BENCH_INFLIGHT publishes open, which saturates the node: the
 *    readings/s stored is the maximum throughput; its latencies are mostly queueing.
 *
 * Environment: BENCH_DEVICES (2000), BENCH_DURATION_MS (window of each phase, 10000), BENCH_INFLIGHT (4),
 * BENCH_RAMP_MS (connection ramp, 4000), BENCH_RATE_PER_S (5000), BENCH_WARMUP_MS (paced warm-up, 1000),
 * BENCH_BROKER_PERSISTENCE (the riskfuse broker's session store: sqlite, the product default, or memory),
 * BENCH_HANDOFF_MS (the SQLite session store's MQTT_HANDOFF_MS; default the product's, 0 = write every message),
 * BENCH_BACKENDS (telemetry stores to run, comma-separated: sqlite,influxdb; influxdb only with influxd on PATH),
 * BENCH_ROUNDS (1): with more, the baseline and SQLite run again alternately, and the closed-loop ratio of each
 * round and their median are reported: on a shared machine the bare broker alone varied 16,400–26,100 msg/s
 * between runs of one session, so one round's ratio is a sample, not a figure.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Worker } from 'node:worker_threads';
import { Aedes } from 'aedes';
import mqtt from 'mqtt';
import { brokerConfigSpec } from '../broker/config.js';
import { createBroker } from '../broker/index.js';
import { createMq } from '../broker/mq.js';
import { brokerPersistenceConfigSpec, openBrokerPersistence } from '../broker/persistence-config.js';
import { parseConfig } from '../core/config.js';
import { ALL_TELEMETRY } from '../core/contracts/index.js';
import { issueToken, makeCredentials } from '../core/credentials.js';
import { silentLogger } from '../core/logger.js';
import { openSqliteState } from '../core/state/index.js';
import { openTelemetryStore } from '../core/storage/open-telemetry-store.js';
import { telemetryConfigSpec } from '../core/storage/telemetry-config.js';
import { createIngest } from '../ingest/app.js';
import { ingestConfigSpec } from '../ingest/config.js';
import { influxdAvailable, startInfluxd } from '../test/support/influxd.js';
import type { LoadCommand, LoadReport, LoadSpec } from './load-worker.js';
import { Arrivals, quantile } from './arrivals.js';
import { cpuSeconds, envInt, median, runBench, tsxWorker } from './support.js';

const DEVICES = envInt('BENCH_DEVICES', 2000);
const DURATION_MS = envInt('BENCH_DURATION_MS', 10_000);
const INFLIGHT = envInt('BENCH_INFLIGHT', 4);
const RAMP_MS = envInt('BENCH_RAMP_MS', 4000);
const RATE_PER_S = envInt('BENCH_RATE_PER_S', 5000);
const WARMUP_MS = envInt('BENCH_WARMUP_MS', 1000);
const BROKER_PERSISTENCE = process.env.BENCH_BROKER_PERSISTENCE === 'memory' ? 'memory' : 'sqlite';
const HANDOFF_MS = process.env.BENCH_HANDOFF_MS;
const BACKENDS = new Set((process.env.BENCH_BACKENDS ?? 'sqlite,influxdb').split(',').map((b) => b.trim()));
const ROUNDS = envInt('BENCH_ROUNDS', 1);
/** How long the paced phase waits for messages stamped in its window that have not arrived yet. */
const LATE_TIMEOUT_MS = 10_000;
let peakRss = 0;
const rssTimer = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 100);

interface PacedResult {
  readonly offeredPerS: number;
  readonly perS: number;
  readonly p50Ms: number | null;
  readonly p99Ms: number | null;
  /** Messages stamped in the window that had not arrived LATE_TIMEOUT_MS after it. */
  readonly missing: number;
  readonly cpuUsPerReading: number | null;
  /** Of which on the main thread, the event loop broker and ingest share (the first to saturate). */
  readonly mainCpuUsPerReading: number | null;
}

interface ClosedResult {
  readonly perS: number;
  readonly p50Ms: number | null;
  readonly p99Ms: number | null;
  readonly publishedAckedPerS: number;
}

interface BackendResult {
  readonly connections: number;
  readonly paced: PacedResult;
  readonly closed: ClosedResult;
  /** Device errors, lost connections, missing messages, and what the system under test refused or retried. */
  readonly errors: number;
  /** Rows the broker's SQLite session store wrote per reading stored (inserts, updates, deletes), if SQLite. */
  readonly sessionWritesPerReading?: number;
}

/** A system under test: where devices connect, what arrives at its end, how many connections it holds. */
interface Target {
  readonly url: string;
  readonly devices: { id: string; token: string | undefined }[];
  readonly arrivals: Arrivals;
  connections(): number;
  /** Problems the system itself counted (rejections, store errors, dropped publishes). */
  problems(): number;
}

class LoadWorker {
  private readonly worker: Worker;
  private readonly reports: LoadReport[] = [];
  private waiting: (() => void) | undefined;
  private failure: Error | undefined;

  constructor(spec: LoadSpec) {
    this.worker = tsxWorker('./load-worker.ts', spec);
    this.worker.on('message', (m: LoadReport | { type: 'failed'; message: string }) => {
      if (m.type === 'failed') this.failure = new Error(`load worker: ${m.message}`);
      else this.reports.push(m);
      this.waiting?.();
    });
    this.worker.on('error', (err) => {
      this.failure = err;
      this.waiting?.();
    });
  }

  send(command: LoadCommand): void {
    this.worker.postMessage(command);
  }

  async next<T extends LoadReport['type']>(type: T): Promise<Extract<LoadReport, { type: T }>> {
    for (;;) {
      if (this.failure) throw this.failure;
      const report = this.reports.shift();
      if (report !== undefined) {
        if (report.type !== type) throw new Error(`load worker sent ${report.type}, expected ${type}`);
        return report as Extract<LoadReport, { type: T }>;
      }
      await new Promise<void>((resolve) => (this.waiting = resolve));
    }
  }

  terminate(): Promise<number> {
    return this.worker.terminate();
  }
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

async function measure(target: Target): Promise<BackendResult> {
  const load = new LoadWorker({ url: target.url, devices: target.devices, rampMs: RAMP_MS });
  try {
    await load.next('connected');
    const connections = target.connections();
    process.stdout.write(`  ${target.devices.length} devices connected (${connections} connections)\n`);

    // Paced: CPU is sampled over the window (after warm-up) until the last message stamped in it arrived.
    target.arrivals.clear();
    load.send({ type: 'paced', ratePerS: RATE_PER_S, warmupMs: WARMUP_MS, durationMs: DURATION_MS });
    await sleep(WARMUP_MS);
    const cpuStart = cpuSeconds('self');
    const mainCpuStart = cpuSeconds('thread-self');
    const paced = await load.next('phase-done');
    const stamped = (s: number): boolean => s >= paced.windowStartMs && s < paced.windowEndMs;
    const lateDeadline = Date.now() + LATE_TIMEOUT_MS;
    let arrived = target.arrivals.latencies(stamped);
    while (arrived.length < paced.publishedInWindow && Date.now() < lateDeadline) {
      await sleep(20);
      arrived = target.arrivals.latencies(stamped);
    }
    const cpuEnd = cpuSeconds('self');
    const mainCpuEnd = cpuSeconds('thread-self');
    arrived.sort((a, b) => a - b);
    const pacedSeconds = (paced.windowEndMs - paced.windowStartMs) / 1000;
    const sutCpuS =
      cpuStart === undefined || cpuEnd === undefined || paced.workerCpuS === null
        ? undefined
        : cpuEnd - cpuStart - paced.workerCpuS;
    const perReadingUs = (cpuS: number | undefined): number | null =>
      cpuS === undefined || arrived.length === 0 ? null : Math.round((cpuS * 1e6 * 10) / arrived.length) / 10;
    const pacedResult: PacedResult = {
      offeredPerS: Math.round(paced.publishedInWindow / pacedSeconds),
      perS: Math.round(arrived.length / pacedSeconds),
      p50Ms: quantile(arrived, 0.5),
      p99Ms: quantile(arrived, 0.99),
      missing: Math.max(0, paced.publishedInWindow - arrived.length),
      cpuUsPerReading: perReadingUs(sutCpuS),
      mainCpuUsPerReading: perReadingUs(
        mainCpuStart === undefined || mainCpuEnd === undefined ? undefined : mainCpuEnd - mainCpuStart,
      ),
    };
    process.stdout.write(
      `  paced ${RATE_PER_S}/s: ${pacedResult.perS}/s arrived, p50 ${pacedResult.p50Ms} ms, p99 ${pacedResult.p99Ms} ms, ` +
        `CPU ${pacedResult.cpuUsPerReading} µs/reading (main thread ${pacedResult.mainCpuUsPerReading})\n`,
    );

    // Closed loop: what arrives during the window is the throughput.
    target.arrivals.clear();
    load.send({ type: 'closed', inflight: INFLIGHT, durationMs: DURATION_MS });
    const closed = await load.next('phase-done');
    const during = target.arrivals.latencies((_s, a) => a >= closed.windowStartMs && a < closed.windowEndMs);
    during.sort((a, b) => a - b);
    const closedSeconds = (closed.windowEndMs - closed.windowStartMs) / 1000;
    const closedResult: ClosedResult = {
      perS: Math.round(during.length / closedSeconds),
      p50Ms: quantile(during, 0.5),
      p99Ms: quantile(during, 0.99),
      publishedAckedPerS: Math.round(closed.acked / closedSeconds),
    };
    process.stdout.write(`  closed loop: ${closedResult.perS}/s arrived\n`);

    load.send({ type: 'stop' });
    const stopped = await load.next('stopped');
    return {
      connections,
      paced: pacedResult,
      closed: closedResult,
      errors: stopped.errors + pacedResult.missing + target.problems(),
    };
  } finally {
    await load.terminate();
  }
}

async function baseline(): Promise<BackendResult> {
  process.stdout.write('baseline: bare Aedes, QoS 1, one MQTT.js subscriber, no auth, no storage\n');
  // Stock Aedes 1.2 dies of a stack overflow in its emitter at this load, so the baseline gets the same
  // emitter as the riskfuse broker (broker/mq.ts: bounded stack, O(1) queue); nothing else is added.
  const aedes = await Aedes.createBroker({ mq: createMq(100), concurrency: 100 });
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    socket.setNoDelay(true);
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    aedes.handle(socket);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  const url = `mqtt://127.0.0.1:${port}`;
  const sub = await mqtt.connectAsync(url, { clientId: 'bench-sub', clean: true });
  await sub.subscribeAsync(ALL_TELEMETRY, { qos: 1 });
  const arrivals = new Arrivals();
  sub.on('message', (_topic, payload) => {
    const ts = (JSON.parse(payload.toString()) as { ts: number }).ts;
    arrivals.add(ts, Date.now());
  });
  const devices = Array.from({ length: DEVICES }, (_, i) => ({ id: `bench-${i}`, token: undefined }));
  try {
    return await measure({ url, devices, arrivals, connections: () => sockets.size, problems: () => 0 });
  } finally {
    await sub.endAsync(true);
    await new Promise<void>((r) => server.close(() => r()));
    await new Promise<void>((r) => aedes.close(() => r()));
  }
}

async function platform(backend: 'sqlite' | 'influxdb', influxUrl?: string): Promise<BackendResult> {
  process.stdout.write(`${backend}: riskfuse broker (auth + ACL) → ingest → ${backend}\n`);
  const dir = mkdtempSync(join(tmpdir(), 'rf-bench-'));
  const state = openSqliteState(join(dir, 'state.db'));
  const now = Date.now();
  await state.portfolio.upsertBorrowers([
    { id: 'b1', name: 'Bench', sector: 'trading', region: 'r', createdAt: now },
  ]);
  await state.portfolio.upsertSites([
    { id: 's1', borrowerId: 'b1', name: 'S', kind: 'warehouse', lat: 31.2, lon: 121.5, geofence: [] },
  ]);
  const devices = Array.from({ length: DEVICES }, (_, i) => ({ id: `stk-bench-${i}`, token: issueToken() }));
  await state.devices.upsertDevices(
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
  // The broker's session store as the product runs it (SQLite, durable before PUBACK) unless asked otherwise.
  const persistence = openBrokerPersistence(
    parseConfig(brokerPersistenceConfigSpec, {
      DATA_DIR: dir,
      MQTT_PERSISTENCE: BROKER_PERSISTENCE,
      ...(HANDOFF_MS === undefined ? {} : { MQTT_HANDOFF_MS: HANDOFF_MS }),
    }),
    silentLogger,
  );
  const broker = createBroker({
    config: parseConfig(brokerConfigSpec, {
      MQTT_HOST: '127.0.0.1',
      MQTT_PORT: '0',
      MQTT_SERVICE_TOKEN: serviceToken,
    }),
    registry: state.devices,
    log: silentLogger,
    persistence,
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
  const arrivals = new Arrivals();
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
      const t = Date.now();
      for (const r of readings) arrivals.add(r.ts, t);
    },
  });
  await ingest.start();
  try {
    const result = await measure({
      url,
      devices,
      arrivals,
      connections: () => broker.counters.currentConnections,
      problems: () => {
        const c = ingest.counters;
        const b = broker.counters;
        return c.readingsRejected + c.storeErrors + b.publishesDroppedUnauthorised + b.oversizedPackets;
      },
    });
    const stats = (persistence as { stats?: { operations: number } }).stats;
    const stored = ingest.counters.readingsStored;
    if (stats === undefined || stored === 0) return result;
    const sessionWritesPerReading = Math.round((stats.operations / stored) * 100) / 100;
    process.stdout.write(
      `  broker session store: ${sessionWritesPerReading} rows written per reading stored\n`,
    );
    return { ...result, sessionWritesPerReading };
  } finally {
    await ingest.stop();
    await broker.close();
    await persistence.destroy();
    await telemetry.close();
    await state.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

const ratio = (value: number, base: number): number => Math.round((value / base) * 1000) / 1000;
const show = (v: number | null): string => (v === null ? '–' : String(v));

/** Table columns: header, width, cell. */
const COLUMNS: readonly [string, number, (r: BackendResult, base: BackendResult) => string][] = [
  ['readings/s', 10, (r) => String(r.closed.perS)],
  ['ratio', 6, (r, base) => ratio(r.closed.perS, base.closed.perS).toFixed(2)],
  ['p50 ms', 7, (r) => show(r.closed.p50Ms)],
  ['p99 ms', 7, (r) => show(r.closed.p99Ms)],
  ['│ readings/s', 12, (r) => String(r.paced.perS)],
  ['p50 ms', 7, (r) => show(r.paced.p50Ms)],
  ['p99 ms', 7, (r) => show(r.paced.p99Ms)],
  ['CPU µs/reading', 15, (r) => show(r.paced.cpuUsPerReading)],
  ['of it main', 11, (r) => show(r.paced.mainCpuUsPerReading)],
  ['│ connections', 14, (r) => String(r.connections)],
  ['errors', 7, (r) => String(r.errors)],
];
const NAME_WIDTH = 26;

function header(): string {
  const closedWidth = COLUMNS.slice(0, 4).reduce((w, [, width]) => w + width + 1, 0);
  return (
    `${''.padEnd(NAME_WIDTH)} ${'closed loop: max throughput'.padEnd(closedWidth)}` +
    `│ paced ${RATE_PER_S} msg/s: publish → stored\n` +
    `${''.padEnd(NAME_WIDTH)} ${COLUMNS.map(([label, width]) => label.padStart(width)).join(' ')}`
  );
}

function row(name: string, r: BackendResult, base: BackendResult): string {
  return `${name.padEnd(NAME_WIDTH)} ${COLUMNS.map(([label, width, cell]) => (label.startsWith('│') ? `│ ${cell(r, base).padStart(width - 2)}` : cell(r, base).padStart(width))).join(' ')}`;
}

async function main(): Promise<void> {
  process.stdout.write(
    `devices ${DEVICES} (one connection each, plus the subscriber), QoS 1, 1 reading/message; each phase ${DURATION_MS} ms\n` +
      `closed loop: ${INFLIGHT} publishes in flight per device; paced: ${RATE_PER_S} msg/s offered ` +
      `(${Math.round((RATE_PER_S / DEVICES) * 100) / 100}/s per device) after ${WARMUP_MS} ms warm-up\n` +
      `riskfuse broker session store: ${BROKER_PERSISTENCE} (BENCH_BROKER_PERSISTENCE)\n`,
  );
  const base = await baseline();
  const sqlite = BACKENDS.has('sqlite') ? await platform('sqlite') : undefined;
  // Further rounds alternate the bare broker and SQLite, so that both see the machine's load of the moment.
  const round = (b: BackendResult, s: BackendResult) => ({
    basePerS: b.closed.perS,
    sqlitePerS: s.closed.perS,
    ratio: ratio(s.closed.perS, b.closed.perS),
  });
  const rounds = sqlite ? [round(base, sqlite)] : [];
  for (let k = 2; sqlite && k <= ROUNDS; k++) {
    process.stdout.write(`round ${String(k)} of ${String(ROUNDS)}\n`);
    const b = await baseline();
    rounds.push(round(b, await platform('sqlite')));
  }
  let influx: BackendResult | undefined;
  if (!BACKENDS.has('influxdb')) {
    process.stdout.write('influxdb: skipped (BENCH_BACKENDS)\n');
  } else if (influxdAvailable()) {
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

  process.stdout.write(`\n${header()}\n`);
  process.stdout.write(`${row('raw Aedes pub→sub (base)', base, base)}\n`);
  if (sqlite) process.stdout.write(`${row('riskfuse → SQLite', sqlite, base)}\n`);
  if (influx) process.stdout.write(`${row('riskfuse → InfluxDB', influx, base)}\n`);
  process.stdout.write(
    `closed-loop latency is mostly queueing (the load saturates the node); paced latency is service time.\n` +
      `CPU µs/reading: CPU of broker + ingest + store (the whole process less the device worker) per reading\n` +
      `at the paced rate; "of it main": on the main thread, the event loop broker and ingest share.\n` +
      `peak RSS ${Math.round(peakRss / 1048576)} MB (whole bench process incl. device worker)\n`,
  );

  if (rounds.length > 1) {
    for (const [i, r] of rounds.entries())
      process.stdout.write(
        `round ${String(i + 1)}: bare Aedes ${String(r.basePerS)}/s, riskfuse → SQLite ${String(r.sqlitePerS)}/s, ratio ${r.ratio.toFixed(3)}\n`,
      );
    process.stdout.write(
      `median over ${String(rounds.length)} rounds: ratio ${median(rounds.map((r) => r.ratio)).toFixed(3)}, SQLite ${String(median(rounds.map((r) => r.sqlitePerS)))}/s\n`,
    );
  }

  const backend = (prefix: string, r: BackendResult | undefined, perSKey: string) => ({
    [`${prefix}Connections`]: r?.connections ?? null,
    [perSKey]: r?.closed.perS ?? null,
    [`${prefix}Ratio`]: r ? ratio(r.closed.perS, base.closed.perS) : null,
    [`${prefix}P50Ms`]: r?.closed.p50Ms ?? null,
    [`${prefix}P99Ms`]: r?.closed.p99Ms ?? null,
    [`${prefix}PacedPerS`]: r?.paced.perS ?? null,
    [`${prefix}PacedP50Ms`]: r?.paced.p50Ms ?? null,
    [`${prefix}PacedP99Ms`]: r?.paced.p99Ms ?? null,
    [`${prefix}PacedCpuUsPerReading`]: r?.paced.cpuUsPerReading ?? null,
    [`${prefix}PacedMainThreadCpuUsPerReading`]: r?.paced.mainCpuUsPerReading ?? null,
    [`${prefix}Errors`]: r?.errors ?? null,
    [`${prefix}SessionWritesPerReading`]: r?.sessionWritesPerReading ?? null,
  });
  const figures = {
    bench: 'ingest',
    brokerPersistence: BROKER_PERSISTENCE,
    handoffMs: HANDOFF_MS === undefined ? 'default' : Number(HANDOFF_MS),
    devices: DEVICES,
    inflightPerDevice: INFLIGHT,
    windowMs: DURATION_MS,
    pacedRatePerS: RATE_PER_S,
    pacedOfferedPerS: base.paced.offeredPerS,
    baselineConnections: base.connections,
    baselinePerS: base.closed.perS,
    baselineP50Ms: base.closed.p50Ms,
    baselineP99Ms: base.closed.p99Ms,
    baselinePacedPerS: base.paced.perS,
    baselinePacedP50Ms: base.paced.p50Ms,
    baselinePacedP99Ms: base.paced.p99Ms,
    baselinePacedCpuUsPerMsg: base.paced.cpuUsPerReading,
    baselinePacedMainThreadCpuUsPerMsg: base.paced.mainCpuUsPerReading,
    baselineErrors: base.errors,
    ...backend('sqlite', sqlite, 'sqliteReadingsPerS'),
    ...backend('influx', influx, 'influxReadingsPerS'),
    rounds: rounds.length,
    roundRatios: rounds.map((r) => Number(r.ratio.toFixed(3))),
    sqliteRatioMedian: median(rounds.map((r) => r.ratio)),
    sqliteReadingsPerSMedian: median(rounds.map((r) => r.sqlitePerS)),
    baselinePerSMedian: median(rounds.map((r) => r.basePerS)),
    peakRssMb: Math.round(peakRss / 1048576),
  };
  process.stdout.write(`${JSON.stringify(figures)}\n`);
}

runBench(main);
