import type { MqttClient } from 'mqtt';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  ALL_STATUS,
  ALL_TELEMETRY,
  STATUS_OFFLINE,
  statusTopic,
  telemetryTopic,
} from '../../core/contracts/index.js';
import { startRedis, type RedisServer } from '../../test/support/redis.js';
import {
  DEVICE_A,
  SERVICE_TOKEN,
  collect,
  connectClient,
  deviceClient,
  eventually,
  provisionRegistry,
  startClusterBroker,
  type ClusterMember,
  type Registry,
  type Running,
} from './support.js';

/**
 * Two brokers sharing a real Redis, as in a cluster (redis-backend.ts). Broker A heartbeats once a minute, so
 * to broker B, which runs its will pass every 400 ms, A has missed its heartbeats — as both brokers look to
 * each other after Redis was away for three heartbeats — while A goes on serving its devices. B then
 * publishes the wills A holds. will-identity.ts: those must go out under B's identity.
 */
const SUBSCRIBER = 'ingest';

interface ClusterBroker extends ClusterMember {
  /** Aedes' count of the messages this broker has published (the `brokerCounter` of the last one). */
  counter(): number;
  /** Stores a will for `deviceId` under this broker's id, as when that device connected here. */
  holdWill(deviceId: string): Promise<void>;
}

describe('a will another broker publishes', () => {
  let redis: RedisServer;
  let registry: Registry;
  const open: (ClusterBroker | MqttClient)[] = [];

  beforeAll(async () => {
    [redis, registry] = await Promise.all([startRedis(), provisionRegistry()]);
  }, 60_000);
  afterEach(async () => {
    for (const x of open.splice(0).reverse()) {
      if ('endAsync' in x) await x.endAsync(true);
      else await x.close();
    }
    const db = new Redis(redis.url);
    await db.flushall();
    db.disconnect();
  });
  afterAll(async () => {
    await redis?.stop();
    await registry?.close();
  });

  async function clusterBroker(heartbeatIntervalMs: number): Promise<ClusterBroker> {
    const member = await startClusterBroker(registry, redis.url, heartbeatIntervalMs);
    const aedes = member.broker.aedes as unknown as { counter: number };
    const b: ClusterBroker = {
      ...member,
      counter: () => aedes.counter,
      holdWill: (deviceId) =>
        member.backend.persistence.putWill(
          { id: deviceId },
          {
            cmd: 'publish',
            topic: statusTopic(deviceId),
            payload: Buffer.from(STATUS_OFFLINE),
            qos: 1,
            retain: true,
          },
        ),
    };
    open.push(b);
    return b;
  }

  /** The ingest's kind of session: persistent, QoS 1 on every device's telemetry and status. */
  async function subscriber(on: Running): Promise<{ client: MqttClient; inbox: ReturnType<typeof collect> }> {
    const client = await connectClient(on.url, {
      clientId: SUBSCRIBER,
      username: 'svc:ingest',
      password: SERVICE_TOKEN,
      clean: false,
    });
    open.push(client);
    const inbox = collect(client);
    await client.subscribeAsync([ALL_TELEMETRY, ALL_STATUS], { qos: 1 });
    return { client, inbox };
  }

  /** Publishes QoS 0 messages nobody subscribed to through `broker` until its count reaches `count`. */
  async function countUpTo(broker: ClusterBroker, count: number): Promise<void> {
    while (broker.counter() < count) {
      await new Promise<void>((resolve, reject) =>
        broker.broker.aedes.publish(
          {
            cmd: 'publish',
            topic: 'riskfuse-test/count',
            payload: Buffer.alloc(0),
            qos: 0,
            retain: false,
            dup: false,
          },
          (err) => (err ? reject(err) : resolve()),
        ),
      );
    }
  }

  it('when a broker with the higher count publishes a will of the other, then the other broker’s later messages still reach a connected persistent session', async () => {
    const a = await clusterBroker(60_000);
    const b = await clusterBroker(100);
    const { inbox } = await subscriber(b);
    const device = await deviceClient(a, registry, DEVICE_A);
    open.push(device);
    await countUpTo(b, a.counter() + 1_000);

    const deadDevice = 'stake-000777';
    await a.holdWill(deadDevice);
    const will = await inbox.next((m) => m.topic === statusTopic(deadDevice), 5_000);
    expect(will.payload).toBe(STATUS_OFFLINE);

    // B's count is now A's mark in the session's duplicate filter unless the will went out as B's.
    expect(a.counter()).toBeLessThan(b.counter());
    await device.publishAsync(telemetryTopic(DEVICE_A), 'after the will', { qos: 1 });
    const reading = await inbox.next((m) => m.topic === telemetryTopic(DEVICE_A), 5_000);
    expect(reading.payload).toBe('after the will');
  }, 30_000);

  it('when wills of a broker are published by another while that broker’s messages wait in a session’s queue, then every waiting message is delivered on reconnect', async () => {
    const a = await clusterBroker(60_000);
    const b = await clusterBroker(100);
    const first = await subscriber(b);
    await first.client.endAsync();
    const device = await deviceClient(a, registry, DEVICE_A);
    open.push(device);

    // A's next 200 counts go to readings queued for the offline session…
    await countUpTo(a, b.counter() + 1_000);
    const from = a.counter();
    const readings = Array.from({ length: 200 }, (_, i) => `reading ${i}`);
    await Promise.all(readings.map((r) => device.publishAsync(telemetryTopic(DEVICE_A), r, { qos: 1 })));
    // …and B's count is brought into their range before B publishes 50 of A's wills in a row.
    await countUpTo(b, from + 20);
    const wills = Array.from({ length: 50 }, (_, i) => `stake-0009${String(i).padStart(2, '0')}`);
    for (const id of wills) await a.holdWill(id);
    // B's will pass publishes them and then deletes them from the store.
    const db = new Redis(redis.url);
    try {
      for (const deadline = Date.now() + 5_000; (await db.llen('will')) > 0 && Date.now() < deadline;) {
        await new Promise((r) => setTimeout(r, 50));
      }
      expect(await db.llen('will')).toBe(0);
    } finally {
      db.disconnect();
    }

    const { inbox } = await subscriber(b);
    await eventually(
      () => inbox.messages.filter((m) => m.topic === telemetryTopic(DEVICE_A)).length,
      (n) => n >= readings.length,
      5_000,
    ).catch(() => undefined);
    const received = new Set(
      inbox.messages.filter((m) => m.topic === telemetryTopic(DEVICE_A)).map((m) => m.payload),
    );
    expect(readings.filter((r) => !received.has(r))).toEqual([]);
  }, 30_000);
});
