import assert from 'node:assert';
import { createRequire } from 'node:module';
import type { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { BrokerPersistence, type OutgoingPacket } from '../persistence.js';

const require = createRequire(import.meta.url);

/** The contract every aedes-persistence backend runs against itself (node:test style). */
type AbstractSuite = (opts: {
  test: (name: string, fn: (t: unknown) => Promise<void>) => void;
  persistence: () => unknown;
  testAsync: boolean;
}) => void;
const abstractPersistence = require('aedes-persistence/abstract.js') as AbstractSuite;

interface OutgoingStore {
  outgoingEnqueue(sub: { clientId: string }, packet: object): Promise<void>;
  outgoingEnqueueCombi(subs: { clientId: string }[], packet: object): Promise<void>;
  outgoingUpdate(client: { id: string }, packet: OutgoingPacket): Promise<void>;
  outgoingClearMessageId(client: { id: string }, packet: OutgoingPacket): Promise<unknown>;
  outgoingStream(client: { id: string }): Readable;
}
const StockMemory = require('aedes-persistence/asyncPersistence.js') as new () => OutgoingStore;

describe('broker persistence: the aedes-persistence contract suite', () => {
  // node:test's context, as far as the suite uses it; t.plan counts are not checked here.
  const context = { plan: () => undefined, diagnostic: () => undefined, assert };
  abstractPersistence({
    test: (name, fn) => it(name, () => fn(context)),
    persistence: () => new BrokerPersistence(),
    testAsync: true,
  });
});

async function drain(stream: Readable): Promise<OutgoingPacket[]> {
  const out: OutgoingPacket[] = [];
  for await (const p of stream) out.push(p as OutgoingPacket);
  return out;
}

/** A small deterministic generator, so a failure can be replayed. */
function random(seed: number): () => number {
  let s = seed;
  return () => {
    s = (s * 1_103_515_245 + 12_345) % 2_147_483_648;
    return s / 2_147_483_648;
  };
}

const view = (p: OutgoingPacket | undefined): unknown =>
  p === undefined
    ? undefined
    : { brokerId: p.brokerId, brokerCounter: p.brokerCounter, messageId: p.messageId };

describe('broker persistence: outgoing queues', () => {
  it('when random enqueues, updates and clears are applied to ours and to the stock store, then every answer and every queue is the same', async () => {
    for (let seed = 1; seed <= 20; seed += 1) {
      const next = random(seed);
      const pick = (n: number): number => Math.floor(next() * n);
      const ours = new BrokerPersistence() as unknown as OutgoingStore;
      const stock = new StockMemory();
      const clients = [{ id: 'ingest' }, { id: 'risk' }];
      const brokers = ['broker-a', 'broker-b'];
      let counter = 0;
      // Small message id and counter ranges, so duplicates, collisions and misses all happen.
      for (let step = 0; step < 400; step += 1) {
        const client = clients[pick(clients.length)] as { id: string };
        const op = pick(10);
        let a: unknown;
        let b: unknown;
        if (op < 4) {
          const packet = {
            cmd: 'publish',
            topic: 't',
            payload: Buffer.from('x'),
            qos: 1,
            brokerId: brokers[pick(2)],
            brokerCounter: pick(3) === 0 ? pick(counter + 1) : ++counter,
          };
          const subs = pick(4) === 0 ? clients.map((c) => ({ clientId: c.id })) : [{ clientId: client.id }];
          await ours.outgoingEnqueueCombi(subs, packet);
          await stock.outgoingEnqueueCombi(subs, packet);
        } else if (op < 7) {
          const packet: OutgoingPacket = {
            brokerId: pick(5) === 0 ? undefined : brokers[pick(2)],
            brokerCounter: pick(counter + 1),
            messageId: pick(8) === 0 ? undefined : pick(12),
          };
          a = await ours.outgoingUpdate(client, { ...packet }).then(
            () => 'ok',
            (e: Error) => e.message,
          );
          b = await stock.outgoingUpdate(client, { ...packet }).then(
            () => 'ok',
            (e: Error) => e.message,
          );
        } else {
          // A PUBACK's packet id. Without one (a delivery Aedes did not send) the answer differs from the stock
          // store's by design: 'a clear without a packet id…' below.
          const packet = { messageId: pick(12) };
          a = view((await ours.outgoingClearMessageId(client, packet)) as OutgoingPacket | undefined);
          b = view((await stock.outgoingClearMessageId(client, packet)) as OutgoingPacket | undefined);
        }
        expect({ seed, step, answer: a }).toEqual({ seed, step, answer: b });
        for (const c of clients) {
          expect((await drain(ours.outgoingStream(c))).map(view)).toEqual(
            (await drain(stock.outgoingStream(c))).map(view),
          );
        }
      }
    }
  });

  it("when a clear without a packet id comes (Aedes did not send a delivery), then it removes no other message's copy, and of two unsent copies of its own message one: the stock store removed the first unsent one, a reading PUBACKed to its device and never delivered", async () => {
    const store = new BrokerPersistence() as unknown as OutgoingStore;
    const client = { id: 'ingest' };
    const m = (brokerCounter: number) => ({
      cmd: 'publish',
      topic: 't',
      payload: Buffer.from(String(brokerCounter)),
      qos: 1,
      brokerId: 'b',
      brokerCounter,
    });
    await store.outgoingEnqueue({ clientId: client.id }, m(1));
    expect(await store.outgoingClearMessageId(client, { brokerId: 'b', brokerCounter: 2 })).toBeUndefined();
    await store.outgoingEnqueueCombi([{ clientId: client.id }, { clientId: client.id }], m(3));
    expect(
      view(
        (await store.outgoingClearMessageId(client, { brokerId: 'b', brokerCounter: 3 })) as OutgoingPacket,
      ),
    ).toEqual({ brokerId: 'b', brokerCounter: 3, messageId: undefined });
    expect((await drain(store.outgoingStream(client))).map((p) => p.brokerCounter)).toEqual([1, 3]);
  });

  it('when 100,000 messages are queued for one client and acknowledged in order, then each is returned once and the queue ends empty', async () => {
    const store = new BrokerPersistence() as unknown as OutgoingStore;
    const client = { id: 'ingest' };
    const total = 100_000;
    for (let i = 1; i <= total; i += 1) {
      await store.outgoingEnqueue(
        { clientId: client.id },
        { cmd: 'publish', topic: 't', payload: Buffer.from('x'), qos: 1, brokerId: 'b', brokerCounter: i },
      );
    }
    // Delivery assigns message ids (wrapping at 65535), PUBACKs come back in order.
    for (let i = 1; i <= total; i += 1) {
      await store.outgoingUpdate(client, {
        brokerId: 'b',
        brokerCounter: i,
        messageId: ((i - 1) % 65_535) + 1,
      });
    }
    let cleared = 0;
    for (let i = 1; i <= total; i += 1) {
      const p = (await store.outgoingClearMessageId(client, { messageId: ((i - 1) % 65_535) + 1 })) as
        OutgoingPacket | undefined;
      if (p?.brokerCounter === i) cleared += 1;
    }
    expect(cleared).toBe(total);
    expect(await drain(store.outgoingStream(client))).toEqual([]);
  });
});
