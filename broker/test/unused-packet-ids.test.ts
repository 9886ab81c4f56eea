import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { statusTopic, telemetryTopic } from '../../core/contracts/index.js';
import { startRedis, type RedisServer } from '../../test/support/redis.js';
import { createSqlitePersistence } from '../persistence-sqlite.js';
import {
  DEVICE_A,
  deviceClient,
  provisionRegistry,
  rawIngestSession,
  rawPublishes,
  startBroker,
  startClusterBroker,
  type RawConnection,
  type Registry,
  type Running,
} from './support.js';

/**
 * broker/unused-packet-ids.ts on the riskfuse broker with each of its session stores: a persistent session that
 * reconnects with readings still in flight gets the devices' retained status messages again when it subscribes,
 * and no such message may take a packet id a queued reading still carries.
 */
const silent = pino({ level: 'silent' });
const SESSION = 'riskfuse-ingest';
const READINGS = 5;
let registry: Registry;
let dir: string;
let redis: RedisServer;
beforeAll(async () => {
  [registry, redis] = await Promise.all([provisionRegistry(), startRedis()]);
  dir = mkdtempSync(join(tmpdir(), 'riskfuse-packet-ids-'));
});
afterAll(async () => {
  await Promise.all([registry.close(), redis.stop()]);
  rmSync(dir, { recursive: true, force: true });
});

/**
 * The ingest's persistent session over a raw socket: it acknowledges only what the test says. `subscribe: 'acked'`
 * waits for the SUBACK: on Redis a message queued for the session between the store of a new subscription and its
 * live subscription reaches the session only at its next connect (first-subscribe-window.test.ts), and the first
 * connection here must receive every reading live.
 */
async function session(port: number, subscribe: boolean | 'acked' = true): Promise<RawConnection> {
  const c = await rawIngestSession(port, SESSION);
  if (subscribe !== false) subscribeTo(c);
  if (subscribe === 'acked') expect(await c.next(20_000, 'SUBACK')).toMatchObject({ cmd: 'suback' });
  return c;
}

function subscribeTo(c: RawConnection): void {
  c.send({
    cmd: 'subscribe',
    messageId: 1,
    subscriptions: [
      { topic: 'rf/v1/+/telemetry', qos: 1 },
      { topic: 'rf/v1/+/status', qos: 1 },
    ],
  });
}

async function closed(c: RawConnection): Promise<void> {
  c.socket.destroy();
  await c.closed;
}

/** A broker on one of the session stores `riskfuse broker` runs on; `close` stops it and its store. */
const stores: [string, () => Promise<Running & { close(): Promise<void> }>][] = [
  [
    'SQLite',
    async () => {
      const store = createSqlitePersistence({ path: join(dir, 'broker.db'), log: silent });
      const run = await startBroker(registry, {}, silent, registry.store.devices, store);
      return {
        ...run,
        async close() {
          await run.broker.close();
          await store.destroy();
        },
      };
    },
  ],
  ['Redis', () => startClusterBroker(registry, redis.url, 1_000, silent)],
  [
    'the in-memory store',
    async () => {
      const run = await startBroker(registry, {}, silent);
      return { ...run, close: () => run.broker.close() };
    },
  ],
];

describe.each(stores)('packet ids given to a persistent session that reconnects, on %s', (_name, start) => {
  it('when a retained status sent for the new subscription would take the packet id of a reading still queued from the last connection, then it gets another id, its PUBACK leaves the reading queued, and the next connection receives every reading', async () => {
    const run = await start();
    const { broker } = run;
    const port = run.ports.tcpPort;
    const device = await deviceClient(run, registry, DEVICE_A);
    try {
      // 1. The session receives a retained status and readings, and acknowledges nothing: all stay queued.
      const first = await session(port, 'acked');
      await device.publishAsync(statusTopic(DEVICE_A), 'online', { qos: 1, retain: true });
      for (let i = 0; i < READINGS; i++) {
        await device.publishAsync(telemetryTopic(DEVICE_A), JSON.stringify({ ts: Date.now(), seq: i + 1 }), {
          qos: 1,
        });
      }
      const sent = await rawPublishes(
        first,
        (got) => got.filter((p) => p.topic.endsWith('/telemetry')).length >= READINGS,
      );
      const readingIds = sent.filter((p) => p.topic.endsWith('/telemetry')).map((p) => p.messageId as number);
      expect(readingIds).toHaveLength(READINGS);
      await closed(first);

      // 2. It comes back. Its connection's packet counter starts where a queued reading's id is (Aedes starts it
      //    at random); the queue is replayed with the original ids, then the subscription brings the retained
      //    status, which the session acknowledges, and nothing else, before the connection drops again.
      const second = await session(port, false);
      const client = (broker.aedes as unknown as { clients: Record<string, { _nextId: number }> }).clients[
        SESSION
      ];
      if (client === undefined) throw new Error('the session is not registered');
      client._nextId = readingIds[2] as number;
      subscribeTo(second);
      const statusIds = new Set(sent.filter((p) => p.topic.endsWith('/status')).map((p) => p.messageId));
      // The replay (the queued statuses and readings, original ids), then the retained status for the subscription.
      const again = await rawPublishes(second, (got) => got.length >= sent.length + 1);
      const retained = again.find((p) => p.topic.endsWith('/status') && !statusIds.has(p.messageId));
      expect(retained).toBeDefined();
      expect(readingIds).not.toContain(retained?.messageId);
      second.send({ cmd: 'puback', messageId: retained?.messageId as number });
      await new Promise((resolve) => setTimeout(resolve, 200));
      await closed(second);

      // 3. Every reading is still queued and is delivered to the next connection.
      const third = await session(port);
      const replayed = await rawPublishes(
        third,
        (got) => got.filter((p) => p.topic.endsWith('/telemetry')).length >= READINGS,
      );
      const seqs = replayed
        .filter((p) => p.topic.endsWith('/telemetry'))
        .map((p) => (JSON.parse(String(p.payload)) as { seq: number }).seq);
      expect(new Set(seqs)).toEqual(new Set([1, 2, 3, 4, 5]));
      await closed(third);
    } finally {
      await device.endAsync(true);
      await run.close();
    }
  }, 30_000);
});
