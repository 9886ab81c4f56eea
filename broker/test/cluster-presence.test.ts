import type { MqttClient } from 'mqtt';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ALL_STATUS, STATUS_OFFLINE, STATUS_ONLINE, statusTopic } from '../../core/contracts/index.js';
import { startRedis, type RedisServer } from '../../test/support/redis.js';
import {
  DEVICE_A,
  DEVICE_B,
  SERVICE_TOKEN,
  collect,
  connectClient,
  deviceClient,
  provisionRegistry,
  sleep,
  startClusterBroker,
  type ClusterMember,
  type Registry,
  type Running,
} from './support.js';

/**
 * Presence across a Redis outage, two brokers sharing a real Redis (redis-backend.ts) with 200 ms heartbeats.
 * While Redis is away no heartbeat gets through, so to each broker every broker — itself included — looks
 * dead. broker-liveness.ts: a broker that has not heard itself for a while judges nobody until it has heard
 * itself again for 3 heartbeats, so the live devices of both keep their retained `online`.
 */
const HEARTBEAT_MS = 200;

describe('presence in a cluster across a Redis outage', () => {
  let redis: RedisServer;
  let registry: Registry;
  const open: (ClusterMember | MqttClient)[] = [];

  beforeAll(async () => {
    [redis, registry] = await Promise.all([startRedis(), provisionRegistry()]);
  }, 60_000);
  afterEach(async () => {
    for (const x of open.splice(0).reverse()) {
      if ('endAsync' in x) await x.endAsync(true);
      else await x.close();
    }
  });
  afterAll(async () => {
    await redis?.stop();
    await registry?.close();
  });

  async function clusterBroker(): Promise<ClusterMember> {
    const b = await startClusterBroker(registry, redis.url, HEARTBEAT_MS);
    open.push(b);
    return b;
  }

  /** A device as the simulators connect one: a retained `offline` will, then a retained `online`. */
  async function device(on: Running, deviceId: string): Promise<MqttClient> {
    const client = await deviceClient(on, registry, deviceId, {
      will: { topic: statusTopic(deviceId), payload: Buffer.from(STATUS_OFFLINE), qos: 1, retain: true },
    });
    open.push(client);
    await client.publishAsync(statusTopic(deviceId), STATUS_ONLINE, { qos: 1, retain: true });
    return client;
  }

  async function observer(on: Running): Promise<ReturnType<typeof collect>> {
    const client = await connectClient(on.url, {
      clientId: `observer-${Math.random().toString(16).slice(2, 8)}`,
      username: 'svc:api',
      password: SERVICE_TOKEN,
    });
    open.push(client);
    const inbox = collect(client);
    await client.subscribeAsync(ALL_STATUS, { qos: 1 });
    return inbox;
  }

  /** Retries `attempt` (a connect refused while the broker's store is away) until it succeeds. */
  async function retrying<T>(attempt: () => Promise<T>, ms: number): Promise<T> {
    const deadline = Date.now() + ms;
    for (;;) {
      try {
        return await attempt();
      } catch (err) {
        if (Date.now() > deadline) throw err;
        await sleep(100);
      }
    }
  }

  it('when Redis is away for several heartbeats and comes back, then no broker publishes an `offline` will for a device still connected to it or to the other', async () => {
    const a = await clusterBroker();
    const b = await clusterBroker();
    await device(a, DEVICE_A);
    await device(b, DEVICE_B);
    const watching = await observer(b);
    for (const id of [DEVICE_A, DEVICE_B]) {
      await watching.next((m) => m.topic === statusTopic(id) && m.payload === STATUS_ONLINE);
    }
    // Each broker's will pass (every 4 heartbeats) has run with the other alive: nothing published yet.
    await sleep(HEARTBEAT_MS * 6);
    expect(watching.messages.filter((m) => m.payload === STATUS_OFFLINE)).toEqual([]);

    await redis.kill();
    await sleep(HEARTBEAT_MS * 8);
    await redis.restart();
    // Both brokers hear their heartbeats again, and run several will passes after that.
    const inbox = await retrying(() => observer(b), 10_000);
    await sleep(HEARTBEAT_MS * 16);

    for (const id of [DEVICE_A, DEVICE_B]) {
      const retained = await inbox.next((m) => m.topic === statusTopic(id) && m.retain);
      expect({ id, status: retained.payload }).toEqual({ id, status: STATUS_ONLINE });
    }
    expect(watching.messages.filter((m) => m.payload === STATUS_OFFLINE).map((m) => m.topic)).toEqual([]);
  }, 60_000);
});
