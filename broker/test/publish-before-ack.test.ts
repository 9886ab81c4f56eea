import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Aedes } from 'aedes';
import Database from 'better-sqlite3';
import mqtt, { type MqttClient } from 'mqtt';
import { pino } from 'pino';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { createSqlitePersistence, type SqlitePersistence } from '../persistence-sqlite.js';
import { installPublishBeforeAck } from '../publish-before-ack.js';

/**
 * Plain Aedes (its default hooks admit everyone) with the SQLite session store on port 0 and real MQTT.js
 * clients: what the device is told (PUBACK) against what is in the file at that moment.
 */
const silent = pino({ level: 'silent' });
const dir = mkdtempSync(join(tmpdir(), 'riskfuse-publish-before-ack-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;

interface Running {
  readonly url: string;
  readonly path: string;
  close(): Promise<void>;
}

const running: Running[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((r) => r.close()));
});

async function start(options: { publishBeforeAck: boolean }): Promise<Running> {
  const path = join(dir, `broker-${String(++files)}.db`);
  const persistence: SqlitePersistence = createSqlitePersistence({ path, log: silent });
  const aedes = new Aedes({ persistence });
  if (options.publishBeforeAck) installPublishBeforeAck(aedes, silent);
  await aedes.listen();
  const server: Server = createServer((socket) => aedes.handle(socket));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const run: Running = {
    url: `mqtt://127.0.0.1:${String(port)}`,
    path,
    async close() {
      await new Promise<void>((resolve) => aedes.close(() => resolve()));
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await persistence.destroy();
    },
  };
  running.push(run);
  return run;
}

async function connect(url: string, clientId: string, clean = true): Promise<MqttClient> {
  const client = mqtt.connect(url, { clientId, clean, reconnectPeriod: 0, protocolVersion: 4 });
  await new Promise<void>((resolve, reject) => {
    client.once('connect', () => resolve());
    client.once('error', reject);
  });
  return client;
}

/**
 * An offline persistent session subscribed to telemetry, then `total` QoS 1 messages published at once,
 * every other one on a topic nobody subscribed to (nothing to store: it could be acknowledged at once).
 * Returns the packet ids in the order sent and in the order acknowledged, and for each PUBACK of a
 * telemetry message: how many telemetry messages had been sent up to it, and how many the file held then.
 */
async function burst(
  run: Running,
  total: number,
): Promise<{ sent: number[]; acked: number[]; storedAtAck: { needed: number; stored: number }[] }> {
  const subscriber = await connect(run.url, 'ingest', false);
  await subscriber.subscribeAsync('rf/v1/+/telemetry', { qos: 1 });
  await subscriber.endAsync();

  const db = new Database(run.path, { readonly: true });
  const count = db.prepare('SELECT count(*) AS n FROM outgoing');
  const device = await connect(run.url, 'stake-000001');
  const sent: number[] = [];
  /** packet id → number of telemetry messages sent up to and including it (undefined: not telemetry). */
  const telemetryOrdinal = new Map<number, number>();
  const acked: number[] = [];
  const storedAtAck: { needed: number; stored: number }[] = [];
  device.on('packetsend', (packet) => {
    if (packet.cmd !== 'publish' || packet.messageId === undefined) return;
    sent.push(packet.messageId);
    if (packet.topic.endsWith('/telemetry'))
      telemetryOrdinal.set(packet.messageId, telemetryOrdinal.size + 1);
  });
  device.on('packetreceive', (packet) => {
    if (packet.cmd !== 'puback' || packet.messageId === undefined) return;
    acked.push(packet.messageId);
    const needed = telemetryOrdinal.get(packet.messageId);
    if (needed !== undefined) storedAtAck.push({ needed, stored: (count.get() as { n: number }).n });
  });
  await Promise.all(
    Array.from({ length: total }, (_, i) =>
      device.publishAsync(
        i % 2 === 0 ? 'rf/v1/stake-000001/telemetry' : 'unwatched/topic',
        `reading-${String(i)}`,
        { qos: 1 },
      ),
    ),
  );
  await device.endAsync();
  db.close();
  return { sent, acked, storedAtAck };
}

describe('publish before PUBACK (QoS 1)', () => {
  it('when a device sends a burst of QoS 1 messages for an offline persistent session, then every PUBACK arrives after its message is committed to the session store, in the order the messages were sent', async () => {
    const run = await start({ publishBeforeAck: true });
    const total = 300;
    const { sent, acked, storedAtAck } = await burst(run, total);
    expect(acked).toHaveLength(total);
    expect(acked).toEqual(sent);
    expect(storedAtAck).toHaveLength(total / 2);
    expect(storedAtAck.filter(({ needed, stored }) => stored < needed)).toEqual([]);
  });

  it('when Aedes runs without it, then it acknowledges messages it has not stored yet (the Aedes behaviour this module exists for; if this fails, Aedes has changed and the module may go)', async () => {
    const run = await start({ publishBeforeAck: false });
    const total = 300;
    const { acked, storedAtAck } = await burst(run, total);
    expect(acked).toHaveLength(total);
    expect(storedAtAck.some(({ needed, stored }) => stored < needed)).toBe(true);
  });
});
