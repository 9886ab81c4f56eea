import { pino } from 'pino';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { telemetryTopic } from '../../core/contracts/index.js';
import { startRedis, type RedisServer } from '../../test/support/redis.js';
import {
  DEVICE_A,
  deviceClient,
  provisionRegistry,
  rawIngestSession,
  rawPublishes,
  startClusterBroker,
  type RawConnection,
  type Registry,
} from './support.js';

/**
 * A new subscription of a persistent session on the Redis session store (the cluster). Aedes stores it first
 * (lib/handlers/subscribe.js `storeSubscriptions`) and subscribes the broker to its topic after
 * (`addSubs`: mqemitter-redis PSUBSCRIBE, one Redis round trip). A message published in between is queued for the
 * session, since the store already lists it, but this broker does not yet hear it on Redis pub/sub, so it is not
 * delivered live: the session gets it at its next connect, from its queue (Aedes `emptyQueue`). A reconnect does
 * not open the window: Aedes restores a session's subscriptions before it replays the queue
 * (lib/handlers/connect.js `restoreSubs`, then `emptyQueue`), so a message is either replayed or heard live.
 *
 * This is what made broker/test/unused-packet-ids.test.ts's Redis case miss a reading on its first connection in
 * about 1 run in 6 under load (its device published before the SUBACK). Here the window is held open: the store
 * of the subscription waits until a device's reading has been acknowledged. The guarantee pinned is the one the
 * broker gives: the reading is queued, not lost, and the session gets it at its next connect at the latest.
 */
const silent = pino({ level: 'silent' });
const SESSION = 'riskfuse-ingest';
let registry: Registry;
let redis: RedisServer;
beforeAll(async () => {
  [registry, redis] = await Promise.all([provisionRegistry(), startRedis()]);
});
afterAll(async () => {
  await Promise.all([registry.close(), redis.stop()]);
});

const seqOf = (p: { payload: Buffer | string }): number =>
  (JSON.parse(String(p.payload)) as { seq: number }).seq;

/** The sequence numbers of the readings received until reading 1 is among them, or `ms` pass in silence. */
async function seqsReceived(c: RawConnection, ms: number): Promise<number[]> {
  const got = await rawPublishes(c, (sofar) => sofar.some((p) => seqOf(p) === 1), ms);
  return got.map(seqOf);
}

/** The sequence numbers of readings received before the SUBACK, once it has come (within 20 s). */
async function untilSuback(c: RawConnection): Promise<number[]> {
  const seqs: number[] = [];
  for (;;) {
    const p = await c.next(20_000, 'SUBACK');
    if (p === undefined) throw new Error('the connection closed before the SUBACK');
    if (p.cmd === 'suback') return seqs;
    if (p.cmd === 'publish') seqs.push(seqOf(p));
  }
}

it('when a reading is queued for a session between the store of its new subscription and its live subscription, then it is not lost: the session gets it at its next connect at the latest', async () => {
  const run = await startClusterBroker(registry, redis.url, 1_000, silent);
  const device = await deviceClient(run, registry, DEVICE_A);
  try {
    const store = run.backend.persistence as unknown as {
      addSubscriptions: (...args: unknown[]) => Promise<void>;
    };
    const addSubscriptions = store.addSubscriptions.bind(store);
    let held = false;
    store.addSubscriptions = async (...args: unknown[]) => {
      await addSubscriptions(...args);
      if (held) return;
      held = true;
      // Stored, not yet heard live: the device's PUBACK says the reading is queued for the session.
      await device.publishAsync(telemetryTopic(DEVICE_A), JSON.stringify({ ts: Date.now(), seq: 1 }), {
        qos: 1,
      });
    };
    const first = await rawIngestSession(run.ports.tcpPort, SESSION);
    first.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'rf/v1/+/telemetry', qos: 1 }] });
    // The SUBACK follows the store of the subscription, so the window was held open by then. Waiting for it, not
    // for a fixed time: one CI run under load had not stored the subscription 2 s after the SUBSCRIBE.
    const early = await untilSuback(first);
    expect(held).toBe(true);
    const live = [...early, ...(await seqsReceived(first, 2_000))];
    first.socket.destroy();
    await first.closed;

    const second = await rawIngestSession(run.ports.tcpPort, SESSION);
    const replayed = live.includes(1) ? [] : await seqsReceived(second, 10_000);
    second.socket.destroy();
    await second.closed;
    // Observed here: live [], replayed [1]. Either way the reading reaches the session once it is queued.
    expect([...live, ...replayed]).toContain(1);
  } finally {
    await device.endAsync(true);
    await run.close();
  }
}, 30_000);
