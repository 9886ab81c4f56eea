/**
 * `npm run bench:broker-persistence` — the broker's session store: how many QoS 1 messages a second it
 * queues for one persistent subscriber (the ingest) with SQLite `synchronous=FULL` and `NORMAL`, against
 * the in-memory store (the baseline) in the same run. Prints a table and ends with one JSON line.
 *
 * 1. Store alone: `concurrency` enqueues kept open at once (as many publishes from many devices are in
 *    flight in the broker), each for one persistent subscriber; `deliver` adds what an online subscriber
 *    costs on top — the packet id set on delivery and the row deleted on its PUBACK.
 * 2. Through Aedes: real MQTT.js devices (in this process) publish QoS 1 to plain Aedes with the store
 *    and the publish-before-PUBACK gate; an online persistent subscriber acknowledges every message.
 *    Counted: messages received by the subscriber a second, and the event loop's busy time per message
 *    (`performance.eventLoopUtilization`: a commit's fsync counts when the commit runs on the loop).
 *
 * Environment: BENCH_DURATION_MS (window of each measurement, 3000), BENCH_DEVICES (20),
 * BENCH_INFLIGHT (in-flight publishes per device, 20).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Aedes } from 'aedes';
import mqtt from 'mqtt';
import { BrokerPersistence } from '../broker/persistence.js';
import type { AedesPersistence, StoredPacket } from '../broker/persistence-port.js';
import { createSqlitePersistence, type SqlitePersistence } from '../broker/persistence-sqlite.js';
import { installPublishBeforeAck } from '../broker/publish-before-ack.js';
import { silentLogger } from '../core/logger.js';
import { envInt } from './support.js';

const DURATION_MS = envInt('BENCH_DURATION_MS', 3000);
const DEVICES = envInt('BENCH_DEVICES', 20);
const INFLIGHT = envInt('BENCH_INFLIGHT', 20);

type Kind = 'memory' | 'FULL' | 'NORMAL';
const dir = mkdtempSync(join(tmpdir(), 'riskfuse-bench-broker-persistence-'));
let files = 0;

function open(kind: Kind): AedesPersistence {
  if (kind === 'memory') return new BrokerPersistence() as unknown as AedesPersistence;
  return createSqlitePersistence({
    path: join(dir, `${String(++files)}.db`),
    log: silentLogger,
    synchronous: kind,
  });
}

/** A reading as the stake simulators send it: about 200 bytes of JSON. */
const PAYLOAD = Buffer.from(
  JSON.stringify({
    ts: Date.now(),
    seq: 1,
    kind: 'stake',
    fields: { weightKg: 12_345.6, tiltDeg: 0.4, batteryPct: 87, rssiDbm: -71, tempC: 21.5, humidityPct: 48 },
  }).padEnd(200, ' '),
);

interface StoreFigures {
  readonly perS: number;
  readonly commitsPerS: number;
  readonly opsPerCommit: number;
}

async function storeRun(kind: Kind, concurrency: number, deliver: boolean): Promise<StoreFigures> {
  const store = open(kind);
  await store.setup({ id: 'bench' });
  const subscriber = { clientId: 'riskfuse-ingest' };
  const client = { id: subscriber.clientId };
  let counter = 0;
  let done = 0;
  const end = performance.now() + DURATION_MS;
  const started = performance.now();
  const slot = async (): Promise<void> => {
    while (performance.now() < end) {
      const brokerCounter = ++counter;
      const packet: StoredPacket = {
        cmd: 'publish',
        topic: 'rf/v1/stake-000001/telemetry',
        payload: PAYLOAD,
        qos: 1,
        retain: false,
        dup: false,
        brokerId: 'bench',
        brokerCounter,
      };
      await store.outgoingEnqueueCombi([subscriber], packet);
      if (deliver) {
        const messageId = (brokerCounter % 65_535) + 1;
        await store.outgoingUpdate(client, { ...packet, messageId });
        await store.outgoingClearMessageId(client, { cmd: 'puback', messageId });
      }
      done += 1;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, slot));
  const seconds = (performance.now() - started) / 1000;
  const stats = (store as Partial<SqlitePersistence>).stats;
  await store.destroy();
  return {
    perS: Math.round(done / seconds),
    commitsPerS: stats === undefined ? 0 : Math.round(stats.commits / seconds),
    opsPerCommit:
      stats === undefined || stats.commits === 0 ? 0 : Math.round(stats.operations / stats.commits),
  };
}

async function aedesRun(
  kind: Kind,
): Promise<{ perS: number; commitsPerS: number; opsPerCommit: number; loopUsPerMsg: number }> {
  const store = open(kind);
  const aedes = new Aedes({ persistence: store });
  installPublishBeforeAck(aedes, silentLogger);
  await aedes.listen();
  const server = createServer((socket) => aedes.handle(socket));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `mqtt://127.0.0.1:${String((server.address() as AddressInfo).port)}`;
  const connect = (clientId: string, clean: boolean) =>
    mqtt.connectAsync(url, { clientId, clean, reconnectPeriod: 0, protocolVersion: 4 });

  const ingest = await connect('riskfuse-ingest', false);
  await ingest.subscribeAsync('rf/v1/+/telemetry', { qos: 1 });
  let received = 0;
  ingest.on('message', () => (received += 1));
  const devices = await Promise.all(
    Array.from({ length: DEVICES }, (_, i) => connect(`stake-${String(i).padStart(6, '0')}`, true)),
  );
  let running = true;
  const publishing = devices.flatMap((device, i) =>
    Array.from({ length: INFLIGHT }, async () => {
      while (running) await device.publishAsync(`rf/v1/stake-${String(i)}/telemetry`, PAYLOAD, { qos: 1 });
    }),
  );
  await new Promise((resolve) => setTimeout(resolve, 500)); // warm-up
  const from = received;
  const statsBefore = (store as Partial<SqlitePersistence>).stats;
  const loopBefore = performance.eventLoopUtilization();
  const started = performance.now();
  await new Promise((resolve) => setTimeout(resolve, DURATION_MS));
  const seconds = (performance.now() - started) / 1000;
  const perS = Math.round((received - from) / seconds);
  // Time the event loop (shared by Aedes, its clients and here the devices) was busy, per message: a commit
  // made on the loop counts with its fsync, one made on the store's writer thread does not.
  const loopBusyMs = performance.eventLoopUtilization(loopBefore).active;
  const loopUsPerMsg = received === from ? 0 : Math.round((loopBusyMs * 1000 * 10) / (received - from)) / 10;
  const statsAfter = (store as Partial<SqlitePersistence>).stats;
  const commits = (statsAfter?.commits ?? 0) - (statsBefore?.commits ?? 0);
  const operations = (statsAfter?.operations ?? 0) - (statsBefore?.operations ?? 0);
  running = false;
  await Promise.all(publishing);
  await Promise.all([...devices, ingest].map((c) => c.endAsync()));
  await new Promise<void>((resolve) => aedes.close(() => resolve()));
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await store.destroy();
  return {
    perS,
    commitsPerS: Math.round(commits / seconds),
    opsPerCommit: commits === 0 ? 0 : Math.round(operations / commits),
    loopUsPerMsg,
  };
}

const figures: Record<string, number> = {};
const kinds: Kind[] = ['memory', 'FULL', 'NORMAL'];

console.log(`store alone, one persistent subscriber, ${String(DURATION_MS)} ms each`);
console.log('store    concurrency  deliver  msgs/s     commits/s  ops/commit  ratio to memory');
for (const deliver of [false, true]) {
  for (const concurrency of [1, 100, 1000]) {
    let baseline = 0;
    for (const kind of kinds) {
      const r = await storeRun(kind, concurrency, deliver);
      if (kind === 'memory') baseline = r.perS;
      const key = `${deliver ? 'deliver' : 'enqueue'}C${String(concurrency)}${kind === 'memory' ? 'Memory' : kind === 'FULL' ? 'Full' : 'Normal'}PerS`;
      figures[key] = r.perS;
      console.log(
        `${kind.padEnd(8)} ${String(concurrency).padStart(11)}  ${String(deliver).padEnd(7)}  ${String(r.perS).padStart(9)}  ${String(r.commitsPerS).padStart(9)}  ${String(r.opsPerCommit).padStart(10)}  ${(r.perS / baseline).toFixed(2)}`,
      );
    }
  }
}

console.log(
  `\nthrough Aedes: ${String(DEVICES)} devices × ${String(INFLIGHT)} in flight, QoS 1, online persistent subscriber`,
);
let aedesBaseline = 0;
console.log('store    msgs/s     commits/s  ops/commit  ratio to memory  loop µs/msg');
for (const kind of kinds) {
  const r = await aedesRun(kind);
  if (kind === 'memory') aedesBaseline = r.perS;
  const name = kind === 'memory' ? 'Memory' : kind === 'FULL' ? 'Full' : 'Normal';
  figures[`aedes${name}PerS`] = r.perS;
  figures[`aedes${name}LoopUsPerMsg`] = r.loopUsPerMsg;
  console.log(
    `${kind.padEnd(8)} ${String(r.perS).padStart(9)}  ${String(r.commitsPerS).padStart(9)}  ${String(r.opsPerCommit).padStart(10)}  ${(r.perS / aedesBaseline).toFixed(2).padStart(15)}  ${String(r.loopUsPerMsg).padStart(11)}`,
  );
}
rmSync(dir, { recursive: true, force: true });

const ratio = (a: number | undefined, b: number | undefined): number =>
  a === undefined || b === undefined || b === 0 ? 0 : Number((a / b).toFixed(3));
console.log(
  JSON.stringify({
    bench: 'broker-persistence',
    ...figures,
    baselinePerS: figures.aedesMemoryPerS,
    ratioFull: ratio(figures.aedesFullPerS, figures.aedesMemoryPerS),
    ratioNormal: ratio(figures.aedesNormalPerS, figures.aedesMemoryPerS),
  }),
);
