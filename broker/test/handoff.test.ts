import { mkdtempSync, rmSync } from 'node:fs';
import { once } from 'node:events';
import { connect as netConnect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Aedes } from 'aedes';
import Database from 'better-sqlite3';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import mqttPacket from 'mqtt-packet';
import { pino } from 'pino';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { createSqlitePersistence, type SqlitePersistence } from '../persistence-sqlite.js';
import { installPublishBeforeAck } from '../publish-before-ack.js';

/**
 * The hand-off window (broker/handoff.ts) with plain Aedes, the SQLite session store and publish-before-ack,
 * and real MQTT.js clients: a connected persistent session stands in for the ingest.
 */
const silent = pino({ level: 'silent' });
const dir = mkdtempSync(join(tmpdir(), 'riskfuse-handoff-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;

interface Running {
  readonly url: string;
  readonly path: string;
  readonly store: SqlitePersistence;
  close(): Promise<void>;
}

const running: Running[] = [];
const clients: MqttClient[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.endAsync(true)));
  await Promise.all(running.splice(0).map((r) => r.close()));
});

async function start(handoffMs: number): Promise<Running> {
  const path = join(dir, `broker-${String(++files)}.db`);
  const store = createSqlitePersistence({ path, log: silent, handoffMs });
  const aedes = new Aedes({ persistence: store });
  installPublishBeforeAck(aedes, silent);
  await aedes.listen();
  const server: Server = createServer((socket) => aedes.handle(socket));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const run: Running = {
    url: `mqtt://127.0.0.1:${String(port)}`,
    path,
    store,
    async close() {
      await new Promise<void>((resolve) => aedes.close(() => resolve()));
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await store.destroy();
    },
  };
  running.push(run);
  return run;
}

async function connect(url: string, clientId: string, options: IClientOptions = {}): Promise<MqttClient> {
  const client = await mqtt.connectAsync(url, {
    clientId,
    reconnectPeriod: 0,
    protocolVersion: 4,
    ...options,
  });
  clients.push(client);
  return client;
}

/** A persistent session over a bare socket: it acknowledges only what the test tells it to. */
interface RawSession {
  readonly socket: Socket;
  /** Payloads of the messages received, in arrival order. */
  readonly received: string[];
  /** Sends PUBACK for every message received and not yet acknowledged. */
  ackAll(): void;
}

/** A persistent session subscribed to telemetry that receives and never acknowledges: connected but stuck. */
async function stuckSession(url: string, clientId: string): Promise<Socket> {
  return (await rawSession(url, clientId)).socket;
}

async function rawSession(
  url: string,
  clientId: string,
  topics: readonly string[] = ['rf/v1/+/telemetry'],
): Promise<RawSession> {
  const socket = netConnect(Number(new URL(url).port), '127.0.0.1');
  const parser = mqttPacket.parser({ protocolVersion: 4 });
  socket.on('data', (chunk: Buffer) => parser.parse(chunk));
  await once(socket, 'connect');
  const received: string[] = [];
  let unacked: number[] = [];
  const subscribed = new Promise<void>((resolve) =>
    parser.on('packet', (packet) => {
      if (packet.cmd === 'suback') resolve();
      if (packet.cmd === 'publish') {
        received.push(String(packet.payload));
        if (packet.messageId !== undefined) unacked.push(packet.messageId);
      }
    }),
  );
  socket.write(
    mqttPacket.generate({
      cmd: 'connect',
      protocolId: 'MQTT',
      protocolVersion: 4,
      clientId,
      clean: false,
      keepalive: 0,
    }),
  );
  socket.write(
    mqttPacket.generate({
      cmd: 'subscribe',
      messageId: 1,
      subscriptions: topics.map((topic) => ({ topic, qos: 1 as const })),
    }),
  );
  await subscribed;
  return {
    socket,
    received,
    ackAll() {
      for (const messageId of unacked) socket.write(mqttPacket.generate({ cmd: 'puback', messageId }));
      unacked = [];
    },
  };
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const TOPIC = 'rf/v1/stake-000001/telemetry';

describe('hand-off of queued copies to a connected persistent session', () => {
  it('when the connected session acknowledges every message within the window, then none is written to the session file, and each device PUBACK arrives only after the session acknowledged that message', async () => {
    const run = await start(5000);
    /** Events in the order they happened: `sub:<payload>` (session PUBACK sent), `dev:<payload>` (device PUBACK). */
    const events: string[] = [];
    const subscriber = await connect(run.url, 'ingest', { clean: false });
    const payloadOf = new Map<number, string>();
    subscriber.on('packetreceive', (packet) => {
      if (packet.cmd === 'publish' && packet.messageId !== undefined)
        payloadOf.set(packet.messageId, packet.payload.toString());
    });
    subscriber.on('packetsend', (packet) => {
      if (packet.cmd === 'puback' && packet.messageId !== undefined)
        events.push(`sub:${String(payloadOf.get(packet.messageId))}`);
    });
    await subscriber.subscribeAsync('rf/v1/+/telemetry', { qos: 1 });
    await sleep(100);
    const writesBefore = run.store.stats.operations;

    const device = await connect(run.url, 'stake-000001');
    const sent = new Map<number, string>();
    device.on('packetsend', (packet) => {
      if (packet.cmd === 'publish' && packet.messageId !== undefined)
        sent.set(packet.messageId, packet.payload.toString());
    });
    device.on('packetreceive', (packet) => {
      if (packet.cmd === 'puback' && packet.messageId !== undefined)
        events.push(`dev:${String(sent.get(packet.messageId))}`);
    });
    const total = 200;
    await Promise.all(
      Array.from({ length: total }, (_, i) => device.publishAsync(TOPIC, `reading-${String(i)}`, { qos: 1 })),
    );
    await sleep(200);

    expect(events.filter((e) => e.startsWith('dev:'))).toHaveLength(total);
    for (let i = 0; i < total; i += 1) {
      const acked = events.indexOf(`sub:reading-${String(i)}`);
      expect(acked, `session PUBACK of reading-${String(i)}`).toBeGreaterThanOrEqual(0);
      expect(events.indexOf(`dev:reading-${String(i)}`)).toBeGreaterThan(acked);
    }
    // Committed writes since the burst: none (no insert, no message id, no delete).
    expect(run.store.stats.operations).toBe(writesBefore);
  });

  it('when the connected session does not acknowledge within the window, then each message is committed to the session file before its device PUBACK, later ones are committed without waiting (the session lags), and a new broker on the file delivers them', async () => {
    const windowMs = 1500;
    const run = await start(windowMs);
    const stuck = await stuckSession(run.url, 'ingest');

    const db = new Database(run.path, { readonly: true });
    const count = db.prepare('SELECT count(*) AS n FROM outgoing');
    const device = await connect(run.url, 'stake-000001');
    const total = 50;
    const storedAtAck: number[] = [];
    const startedMs = Date.now();
    device.on('packetreceive', (packet) => {
      if (packet.cmd === 'puback') storedAtAck.push((count.get() as { n: number }).n);
    });
    await Promise.all(
      Array.from({ length: total }, (_, i) => device.publishAsync(TOPIC, `reading-${String(i)}`, { qos: 1 })),
    );
    expect(Date.now() - startedMs).toBeGreaterThanOrEqual(windowMs);
    expect(storedAtAck).toHaveLength(total);
    storedAtAck.forEach((stored, i) => expect(stored, `rows at PUBACK ${String(i + 1)}`).toBeGreaterThan(i));

    // The session lags: the next message is not deferred, so its PUBACK follows the commit, not the window.
    const lateStartedMs = Date.now();
    await device.publishAsync(TOPIC, `reading-${String(total)}`, { qos: 1 });
    expect(Date.now() - lateStartedMs).toBeLessThan(windowMs);
    expect(storedAtAck.at(-1)).toBe(total + 1);
    db.close();

    // The session never acknowledged them: a broker opened on the file has all of them for it.
    stuck.destroy();
    const path = run.path;
    await running.splice(running.indexOf(run), 1)[0]?.close();
    const reopened = createSqlitePersistence({ path, log: silent });
    const queued = await new Promise<unknown[]>((resolve, reject) => {
      const out: unknown[] = [];
      reopened
        .outgoingStream({ id: 'ingest' })
        .on('data', (p: unknown) => out.push(p))
        .on('end', () => resolve(out))
        .on('error', reject);
    });
    await reopened.destroy();
    expect(queued.map((p) => String((p as { payload: Buffer }).payload))).toEqual(
      Array.from({ length: total + 1 }, (_, i) => `reading-${String(i)}`),
    );
  });

  it('when the connected session disconnects while messages wait for its PUBACK, then they are committed at once and the device is acknowledged, not after the window', async () => {
    const run = await start(60_000);
    const stuck = await stuckSession(run.url, 'ingest');
    const device = await connect(run.url, 'stake-000001');
    let pubacks = 0;
    device.on('packetreceive', (packet) => {
      if (packet.cmd === 'puback') pubacks += 1;
    });
    const total = 20;
    const published = Promise.all(
      Array.from({ length: total }, (_, i) => device.publishAsync(TOPIC, `reading-${String(i)}`, { qos: 1 })),
    );
    await sleep(300);
    expect(pubacks).toBe(0);
    stuck.destroy();
    await published;
    const db = new Database(run.path, { readonly: true });
    expect((db.prepare('SELECT count(*) AS n FROM outgoing').get() as { n: number }).n).toBe(total);
    db.close();
  });

  it('when a copy is handed off while an earlier message still waits for its commit, then the session gets both: Aedes drops a delivery whose message count is not above the highest it has delivered to that session (lib/client.js `dedupe`), and then removes the first queued copy without a packet id', async () => {
    const windowMs = 400;
    const run = await start(windowMs);
    const ingest = await rawSession(run.url, 'ingest');
    const deviceA = await connect(run.url, 'stake-000001');
    const deviceB = await connect(run.url, 'stake-000002');

    // m0 goes unacknowledged for a whole window: committed, and for the next window copies are committed at once.
    await deviceA.publishAsync(TOPIC, 'm0', { qos: 1 });
    // The session file's write lock, held by the test: a commit waits for it (better-sqlite3's busy timeout, 5 s).
    const lock = new Database(run.path);
    lock.exec('BEGIN IMMEDIATE');
    const a = deviceA.publishAsync(TOPIC, 'a', { qos: 1 });
    // Past that window: b is handed off (not committed) while a still waits for its commit.
    await sleep(windowMs * 2);
    const b = deviceB.publishAsync('rf/v1/stake-000002/telemetry', 'b', { qos: 1 });
    await sleep(200);
    lock.exec('COMMIT');
    lock.close();
    await Promise.all([a, b]);
    await sleep(200);

    // The session acknowledges what it got and comes back: what is still queued for it is replayed.
    ingest.ackAll();
    await sleep(200);
    ingest.socket.destroy();
    const back = await rawSession(run.url, 'ingest');
    await sleep(300);
    back.ackAll();
    back.socket.destroy();
    // Every message a device was acknowledged for reached the session, live or replayed.
    expect(new Set([...ingest.received, ...back.received])).toEqual(new Set(['m0', 'a', 'b']));
    // Live delivery follows the publish order.
    expect(ingest.received).toEqual(['m0', 'a', 'b']);
  });

  it('when a retained status is still being committed while a later reading goes out, then the connected session still gets the status live: Aedes drops it as out of count order (lib/client.js `dedupe`), and the store sends it again under a new count instead of keeping it for the next connect', async () => {
    const run = await start(400);
    const ingest = await rawSession(run.url, 'ingest', ['rf/v1/+/telemetry', 'rf/v1/+/status']);
    const deviceA = await connect(run.url, 'stake-000001');
    const deviceB = await connect(run.url, 'stake-000002');
    const lock = new Database(run.path);
    lock.exec('BEGIN IMMEDIATE');
    // The retained status waits for its commit (Aedes stores a retained message before it delivers it) ...
    const status = deviceA.publishAsync('rf/v1/stake-000001/status', 'offline', { qos: 1, retain: true });
    await sleep(100);
    // ... while a later reading is handed off and delivered at once.
    const b = deviceB.publishAsync('rf/v1/stake-000002/telemetry', 'b', { qos: 1 });
    await sleep(200);
    lock.exec('COMMIT');
    lock.close();
    await sleep(300);
    expect(ingest.received).toEqual(['b', 'offline']);
    // Acknowledged, nothing of it is left to replay.
    ingest.ackAll();
    await Promise.all([status, b]);
    await sleep(200);
    ingest.socket.destroy();
    // Back, subscribing to readings only (a new status subscription would bring the retained status again): the
    // session's queue is empty, nothing is replayed.
    const back = await rawSession(run.url, 'ingest');
    await sleep(300);
    back.socket.destroy();
    expect(back.received).toEqual([]);
  });
});
