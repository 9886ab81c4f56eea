import { pino } from 'pino';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { telemetryTopic } from '../../core/contracts/index.js';
import { startRedis, type RedisServer } from '../../test/support/redis.js';
import {
  DEVICE_A,
  deviceClient,
  eventually,
  provisionRegistry,
  rawIngestSession,
  rawPublishes,
  startClusterBroker,
  type ClusterMember,
  type Registry,
} from './support.js';

/**
 * broker/subscription-sync.ts: the SUBACK of a persistent session's new subscription waits until every other
 * broker of the cluster has applied it, so a message published on another broker right after the SUBACK is
 * queued for the session even if it went offline at once. Here the other broker applies the change 1.5 s late
 * (its emitter holds `$SYS/sub/add`), as a loaded machine did in CI.
 */
const silent = pino({ level: 'silent' });
const SESSION = 'sync-session';
const LATE_MS = 1_500;
let registry: Registry;
let redis: RedisServer;
const brokers: ClusterMember[] = [];
beforeAll(async () => {
  [registry, redis] = await Promise.all([provisionRegistry(), startRedis()]);
  for (let i = 0; i < 2; i++) brokers.push(await startClusterBroker(registry, redis.url, 500, silent));
});
afterAll(async () => {
  for (const b of brokers) await b.close();
  await Promise.all([registry.close(), redis.stop()]);
});

it('when a session subscribes on one broker and goes offline at once, then a reading published on another broker that applies the subscription late is still queued for it', async () => {
  const [a, b] = brokers as [ClusterMember, ClusterMember];
  const idOf = (m: ClusterMember) => (m.broker.aedes as unknown as { id: string }).id;
  const heard = (m: ClusterMember) =>
    (m.broker.aedes as unknown as { brokers: Record<string, number> }).brokers;
  // Each broker has heard the other's heartbeat: the other is live, so its confirmation is awaited.
  await eventually(
    () => heard(a)[idOf(b)] !== undefined && heard(b)[idOf(a)] !== undefined,
    (ok) => ok,
    10_000,
  );

  const mqB = b.backend.mq as unknown as { _emit(msg: { topic: string }): void };
  const emit = mqB._emit.bind(mqB);
  mqB._emit = (msg) => {
    if (msg.topic === '$SYS/sub/add') setTimeout(() => emit(msg), LATE_MS);
    else emit(msg);
  };
  const device = await deviceClient(b, registry, DEVICE_A);
  try {
    const first = await rawIngestSession(a.ports.tcpPort, SESSION);
    const sentAt = Date.now();
    first.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'rf/v1/+/telemetry', qos: 1 }] });
    expect(await first.next(20_000, 'SUBACK')).toMatchObject({ cmd: 'suback' });
    const subackMs = Date.now() - sentAt;
    first.socket.destroy();
    await first.closed;
    await device.publishAsync(telemetryTopic(DEVICE_A), JSON.stringify({ ts: Date.now(), seq: 1 }), {
      qos: 1,
    });

    const second = await rawIngestSession(a.ports.tcpPort, SESSION);
    const got = await rawPublishes(second, (sofar) => sofar.length >= 1, 5_000);
    second.socket.destroy();
    await second.closed;
    expect(got.map((p) => (JSON.parse(String(p.payload)) as { seq: number }).seq)).toEqual([1]);
    // The SUBACK waited for the late broker (not for the 5 s timeout).
    expect(subackMs).toBeGreaterThanOrEqual(LATE_MS - 100);
    expect(subackMs).toBeLessThan(4_500);
  } finally {
    mqB._emit = emit;
    await device.endAsync(true);
  }
}, 60_000);
