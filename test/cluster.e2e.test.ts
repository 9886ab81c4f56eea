import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { requireInfluxOrSkip } from './support/influxd.js';
import { postgresForTests } from './support/postgres.js';
import {
  HEARTBEAT_MS,
  LEASE_MS,
  PARTITIONS,
  startCluster,
  type Cluster,
  type Run,
} from './support/cluster.js';

/**
 * Faults in a broker cluster with real processes (test/support/cluster.ts): two brokers on Redis behind
 * HAProxy, two ingest workers splitting 8 partitions, PostgreSQL, influxd, devices publishing QoS 1
 * throughout. After each fault, the readings stored are exactly the readings devices were PUBACKed for: none
 * lost, none twice (the store's identity is device, ts, seq; the count of points is compared too).
 */
const pg = postgresForTests();
const DEVICES = 16;
const PUBLISH_INTERVAL_MS = 40;
/** Each test's own limit: the machine runs other suites too, and every step here waits on real processes. */
const TEST_TIMEOUT_MS = 120_000;

describe.skipIf(requireInfluxOrSkip() || !pg.available)('broker cluster under faults', () => {
  let cluster: Cluster;
  beforeAll(async () => {
    cluster = await startCluster('faults', { devices: DEVICES, redis: { appendfsync: 'always' } });
  }, 240_000);
  /** The run of the test in progress, stopped by afterEach if the test failed before settling it. */
  let current: Run | undefined;
  afterEach(async () => {
    await current?.stop();
    current = undefined;
  });
  afterAll(async () => {
    await cluster?.close();
  });

  /** Waits until `n` more readings are PUBACKed: devices are publishing (again) after a fault. */
  async function progress(run: Run, n: number, timeoutMs = 30_000): Promise<void> {
    const from = run.acked();
    const end = Date.now() + timeoutMs;
    while (run.acked() < from + n) {
      if (Date.now() > end)
        throw new Error(`only ${run.acked() - from} of ${n} readings PUBACKed in ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  async function settle(run: Run): Promise<void> {
    current = undefined;
    const acked = await run.stop();
    const count = await cluster.waitForStored(run.fromMs, acked.size, 30_000);
    const stored = await cluster.stored(run.fromMs);
    const kept = new Set(stored);
    const missing = [...acked].filter((k) => !kept.has(k));
    if (missing.length > 0) {
      // Where each reading PUBACKed but not stored waits: queued in Redis for an ingest session, or nowhere.
      const queued = await cluster.queued();
      const where = new Map<string, string[]>();
      for (const key of missing) {
        const place = queued.get(key) ?? 'nowhere';
        where.set(place, [...(where.get(place) ?? []), key]);
      }
      const detail = [...where].map(
        ([place, keys]) => `${keys.length} queued for ${place}: ${keys.join(' ')}`,
      );
      throw new Error(
        `${missing.length} of ${acked.size} PUBACKed readings not stored in 30 s (stored ${count}):\n${detail.join('\n')}`,
      );
    }
    expect(count).toBe(acked.size);
    expect(stored.length).toBe(acked.size);
    expect(new Set(stored)).toEqual(acked);
  }

  it(
    'when one broker is SIGKILLed, then its devices reconnect through HAProxy, every PUBACKed reading is stored once and presence stays online',
    async () => {
      const run = (current = cluster.publish(PUBLISH_INTERVAL_MS));
      await progress(run, DEVICES * 10);
      await cluster.brokers[0]?.kill('SIGKILL');
      // Devices and ingest partitions of the dead broker come back through the balancer, to the other one.
      await progress(run, DEVICES * 20);
      // Past the dead broker's will deadline (3 missed heartbeats, then one will pass every 4): its devices'
      // `offline` wills are dropped, since they are connected again, and presence stays `online`.
      await cluster.brokers[1]?.waitFor(/will of a dead broker dropped/, HEARTBEAT_MS * 20);
      await new Promise((r) => setTimeout(r, 2_000));
      const presence = await cluster.state.presence.getPresence(cluster.deviceIds);
      expect(presence.filter((p) => p.status !== 'online').map((p) => p.deviceId)).toEqual([]);
      await settle(run);
      await cluster.restartBroker(0);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'when one ingest worker is SIGKILLed, then the other takes all partitions within seconds and every PUBACKed reading is stored once',
    async () => {
      const run = (current = cluster.publish(PUBLISH_INTERVAL_MS));
      await progress(run, DEVICES * 10);
      const survivor = cluster.workers[1];
      if (survivor === undefined) throw new Error('no worker 1');
      const killedAt = Date.now();
      await cluster.workers[0]?.kill('SIGKILL');
      const all = Array.from({ length: PARTITIONS }, (_, k) => k).join(',');
      await survivor.waitFor(
        new RegExp(`"partitions":\\[${all}\\][^\\n]*ingest partitions assigned`),
        10_000,
      );
      expect(Date.now() - killedAt).toBeLessThan(LEASE_MS + 5_000);
      await progress(run, DEVICES * 10);
      await settle(run);
      await cluster.restartWorker(0);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'when Redis is SIGKILLed and restarted (appendfsync always), then publishing resumes and every PUBACKed reading is stored once',
    async () => {
      const run = (current = cluster.publish(PUBLISH_INTERVAL_MS));
      await progress(run, DEVICES * 10);
      await cluster.redis.kill();
      await new Promise((r) => setTimeout(r, 1_000));
      await cluster.redis.restart();
      await progress(run, DEVICES * 10);
      await settle(run);
    },
    TEST_TIMEOUT_MS,
  );
});
