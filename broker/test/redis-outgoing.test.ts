import type { MqttClient } from 'mqtt';
import { Redis } from 'ioredis';
import type { IPublishPacket } from 'mqtt-packet';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ALL_TELEMETRY, TOPIC_ROOT, telemetryTopic } from '../../core/contracts/index.js';
import { startRedis, type RedisServer } from '../../test/support/redis.js';
import {
  DEVICE_A,
  collect,
  connectClient,
  deviceClient,
  eventually,
  provisionRegistry,
  queuedOutOfOrder,
  rawIngestSession,
  SERVICE_TOKEN,
  sleep,
  startClusterBroker,
  type ClusterMember,
  type RawConnection,
  type Registry,
  type Running,
} from './support.js';

/**
 * The outgoing queues of the Redis session store (redis-outgoing.ts) on a real Redis: what a persistent session
 * acknowledges leaves Redis, and exactly what it has not acknowledged comes again on its next CONNECT.
 */
const SESSION = 'ingest';
const LIST = `outgoing:${SESSION}`;

describe('the Redis session store’s outgoing queue', () => {
  let redis: RedisServer;
  let registry: Registry;
  let db: Redis;
  const open: { close(): Promise<void> }[] = [];

  beforeAll(async () => {
    [redis, registry] = await Promise.all([startRedis(), provisionRegistry()]);
    db = new Redis(redis.url);
  }, 60_000);
  afterEach(async () => {
    for (const x of open.splice(0).reverse()) await x.close();
    await db.flushall();
  });
  afterAll(async () => {
    db?.disconnect();
    await redis?.stop();
    await registry?.close();
  });

  async function redisBroker(): Promise<ClusterMember> {
    const running = await startClusterBroker(registry, redis.url, 5_000);
    open.push(running);
    return running;
  }

  async function device(on: Running): Promise<MqttClient> {
    const client = await deviceClient(on, registry, DEVICE_A);
    open.push({ close: () => client.endAsync(true) });
    return client;
  }

  /** The ingest's kind of session, acknowledging only what the test says, in the order it says. */
  async function session(on: Running, topics: readonly string[], qos: 1 | 2 = 1): Promise<RawConnection> {
    const raw = await rawIngestSession(on.ports.tcpPort, SESSION, 30);
    open.push({
      close: () => {
        raw.socket.destroy();
        return raw.closed;
      },
    });
    raw.send({ cmd: 'subscribe', messageId: 1, subscriptions: topics.map((topic) => ({ topic, qos })) });
    return raw;
  }

  /** The PUBLISH packets that arrive within `ms` (a SUBACK in between is skipped). */
  async function publishes(raw: RawConnection, count: number, ms = 5_000): Promise<IPublishPacket[]> {
    const got: IPublishPacket[] = [];
    const deadline = Date.now() + ms;
    while (got.length < count && Date.now() < deadline) {
      const p = await raw.next(Math.max(1, deadline - Date.now())).catch(() => undefined);
      if (p === undefined) break;
      if (p.cmd === 'publish') got.push(p);
    }
    return got;
  }

  /** Every key a queued message leaves in Redis: the packet and its count of sessions still to acknowledge. */
  const packetKeys = (): Promise<string[]> => db.keys('packet:*');

  it('when a session acknowledges out of order and leaves one message unacknowledged, then Redis keeps that one only and the next CONNECT delivers exactly it', async () => {
    const broker = await redisBroker();
    const first = await session(broker, [ALL_TELEMETRY]);
    const dev = await device(broker);
    const readings = ['r0', 'r1', 'r2', 'r3', 'r4'];
    for (const r of readings) await dev.publishAsync(telemetryTopic(DEVICE_A), r, { qos: 1 });
    const delivered = await publishes(first, readings.length);
    expect(delivered.map((p) => p.payload.toString())).toEqual(readings);

    // Acknowledged last to first, all but r2.
    for (const p of [...delivered].reverse()) {
      if (p.payload.toString() !== 'r2') first.send({ cmd: 'puback', messageId: p.messageId as number });
    }
    for (const deadline = Date.now() + 5_000; (await db.llen(LIST)) > 1 && Date.now() < deadline;)
      await sleep(20);
    expect(await db.llen(LIST)).toBe(1);
    expect(await packetKeys()).toHaveLength(2);
    first.socket.destroy();
    await first.closed;

    const second = await session(broker, [ALL_TELEMETRY]);
    const again = await publishes(second, 2, 1_000);
    expect(again.map((p) => p.payload.toString())).toEqual(['r2']);
    second.send({ cmd: 'puback', messageId: again[0]?.messageId as number });
    for (const deadline = Date.now() + 5_000; (await db.llen(LIST)) > 0 && Date.now() < deadline;)
      await sleep(20);
    expect(await db.llen(LIST)).toBe(0);
    expect(await packetKeys()).toEqual([]);
  }, 30_000);

  it('when a session acknowledges one queued message twice, under two packet ids, then the message stays queued for another session that has not', async () => {
    // Two deliveries of one queued message to one session happen when its connect replays the queue (Aedes
    // `emptyQueue`, no dedupe) while the same message also arrives live. The second PUBACK must not count as
    // another session's: the message is shared, with a count of the sessions still owing a PUBACK.
    const broker = await redisBroker();
    const store = broker.backend.persistence;
    const packet = {
      cmd: 'publish',
      topic: telemetryTopic(DEVICE_A),
      payload: Buffer.from('r0'),
      qos: 1,
      retain: false,
      brokerId: 'broker-x',
      brokerCounter: 7,
    };
    await store.outgoingEnqueueCombi([{ clientId: 'a' }, { clientId: 'b' }], packet);
    await store.outgoingUpdate({ id: 'a' }, { ...packet, messageId: 11 });
    await store.outgoingUpdate({ id: 'a' }, { ...packet, messageId: 12 });
    expect(await store.outgoingClearMessageId({ id: 'a' }, { messageId: 11 })).toBeDefined();
    await store.outgoingClearMessageId({ id: 'a' }, { messageId: 12 });
    expect(await db.llen('outgoing:a')).toBe(0);
    const left: unknown[] = [];
    for await (const p of store.outgoingStream({ id: 'b' })) left.push(p);
    expect(left).toMatchObject([{ topic: packet.topic, brokerCounter: 7 }]);
    expect((left[0] as { payload: Buffer }).payload.toString()).toBe('r0');
  });

  it('when a queued message is dropped as out of order (a later count reached the session first), then it is sent again at once with its own count, and once both are acknowledged nothing of them stays in Redis', async () => {
    const broker = await redisBroker();
    const raw = await session(broker, [ALL_TELEMETRY]);
    expect(await raw.next(20_000, 'SUBACK')).toMatchObject({ cmd: 'suback' });
    const pair = await queuedOutOfOrder(broker.broker, SESSION);
    // The later count reaches the session first (its enqueue finished first): Aedes' `dedupe` drops the earlier,
    // which without the resend stays queued until the session's next CONNECT.
    pair.deliverLateFirst();
    const got = await publishes(raw, 2, 3_000);
    expect(got.map((p) => p.payload.toString())).toEqual(['late', 'early']);
    for (const p of got) raw.send({ cmd: 'puback', messageId: p.messageId as number });
    for (const deadline = Date.now() + 5_000; (await db.llen(LIST)) > 0 && Date.now() < deadline;)
      await sleep(20);
    expect(await db.llen(LIST)).toBe(0);
    expect(await packetKeys()).toEqual([]);
  });

  it('when a message matches two subscriptions of a session that acknowledges it, then nothing of it stays in Redis and it is not delivered again on the next CONNECT', async () => {
    const broker = await redisBroker();
    // Two filters matching every telemetry topic: Aedes delivers each message once per session.
    const overlapping = [ALL_TELEMETRY, `${TOPIC_ROOT}/#`];
    const first = await session(broker, overlapping);
    const dev = await device(broker);
    await dev.publishAsync(telemetryTopic(DEVICE_A), 'once', { qos: 1 });
    const delivered = await publishes(first, 2, 1_000);
    expect(delivered.map((p) => p.payload.toString())).toEqual(['once']);
    first.send({ cmd: 'puback', messageId: delivered[0]?.messageId as number });

    // Without one queue entry per session, the one PUBACK left either the message's keys (count still 1) or
    // a second entry in the list, delivered again below.
    for (const deadline = Date.now() + 5_000; (await packetKeys()).length > 0 && Date.now() < deadline;)
      await sleep(20);
    expect(await packetKeys()).toEqual([]);
    expect(await db.llen(LIST)).toBe(0);
    first.socket.destroy();
    await first.closed;

    const second = await session(broker, overlapping);
    expect(await publishes(second, 1, 1_000)).toEqual([]);
  }, 30_000);

  it('when a session completes a QoS 2 delivery (PUBREC, PUBREL, PUBCOMP), then nothing of it stays in Redis', async () => {
    const broker = await redisBroker();
    const raw = await session(broker, [ALL_TELEMETRY], 2);
    const dev = await device(broker);
    await dev.publishAsync(telemetryTopic(DEVICE_A), 'exactly once', { qos: 2 });
    const [delivered] = await publishes(raw, 1);
    expect(delivered).toMatchObject({ qos: 2 });
    const messageId = delivered?.messageId as number;
    raw.send({ cmd: 'pubrec', messageId });
    expect(await raw.next()).toMatchObject({ cmd: 'pubrel', messageId });
    raw.send({ cmd: 'pubcomp', messageId });

    // The released copy takes the packet's place in the list; the PUBCOMP must remove that entry.
    for (const deadline = Date.now() + 5_000; (await packetKeys()).length > 0 && Date.now() < deadline;)
      await sleep(20);
    expect(await packetKeys()).toEqual([]);
    expect(await db.keys(`${LIST}:*`)).toEqual([]);
    expect(await db.llen(LIST)).toBe(0);
  }, 30_000);

  it('when a session with a backlog reconnects, then it gets the whole queue in publish order', async () => {
    const broker = await redisBroker();
    const first = await session(broker, [ALL_TELEMETRY]);
    await sleep(100); // the SUBACK
    first.socket.destroy();
    await first.closed;
    const dev = await device(broker);
    // More than one replay read (500 packets at a time).
    const readings = Array.from({ length: 1_200 }, (_, i) => `r${i}`);
    await Promise.all(readings.map((r) => dev.publishAsync(telemetryTopic(DEVICE_A), r, { qos: 1 })));

    const subscriber = await connectClient(broker.url, {
      clientId: SESSION,
      username: 'svc:ingest',
      password: SERVICE_TOKEN,
      clean: false,
    });
    open.push({ close: () => subscriber.endAsync(true) });
    const inbox = collect(subscriber);
    await eventually(
      () => inbox.messages.length,
      (n) => n >= readings.length,
      15_000,
    );
    expect(inbox.messages.map((m) => m.payload)).toEqual(readings);
    for (const deadline = Date.now() + 5_000; (await db.llen(LIST)) > 0 && Date.now() < deadline;)
      await sleep(20);
    expect(await db.llen(LIST)).toBe(0);
  }, 30_000);
});
