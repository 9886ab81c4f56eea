import { pino } from 'pino';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ALL_TELEMETRY } from '../../core/contracts/index.js';
import {
  provisionRegistry,
  queuedOutOfOrder,
  rawIngestSession,
  rawPublishes,
  startBroker,
  type Registry,
} from './support.js';

/**
 * broker/deliver-past-dedupe.ts on the in-memory session store (`MQTT_PERSISTENCE=memory`): a queued message
 * Aedes drops as out of order for a connected session is delivered again at once, not at the session's next
 * connect. The Redis store's case is in redis-outgoing.test.ts; the SQLite store renumbers instead (handoff.test.ts).
 */
const silent = pino({ level: 'silent' });
const SESSION = 'riskfuse-ingest';
let registry: Registry;
beforeAll(async () => {
  registry = await provisionRegistry();
});
afterAll(async () => {
  await registry.close();
});

it('when a queued message is dropped as out of order on the in-memory store, then it is delivered at once, and once both are acknowledged the next connect replays nothing', async () => {
  const run = await startBroker(registry, {}, silent);
  try {
    const raw = await rawIngestSession(run.ports.tcpPort, SESSION);
    raw.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: ALL_TELEMETRY, qos: 1 }] });
    expect(await raw.next(20_000, 'SUBACK')).toMatchObject({ cmd: 'suback' });
    const pair = await queuedOutOfOrder(run.broker, SESSION);
    // The later count reaches the session first: Aedes' `dedupe` drops the earlier.
    pair.deliverLateFirst();
    const got = await rawPublishes(raw, (sofar) => sofar.length >= 2, 3_000);
    expect(got.map((p) => String(p.payload))).toEqual(['late', 'early']);
    for (const p of got) raw.send({ cmd: 'puback', messageId: p.messageId as number });
    await new Promise((resolve) => setTimeout(resolve, 200));
    raw.socket.destroy();
    await raw.closed;

    const again = await rawIngestSession(run.ports.tcpPort, SESSION);
    expect(await rawPublishes(again, () => false, 1_000)).toEqual([]);
    again.socket.destroy();
    await again.closed;
  } finally {
    await run.broker.close();
  }
}, 30_000);
