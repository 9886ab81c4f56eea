import assert from 'node:assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import Database from 'better-sqlite3';
import { pino } from 'pino';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { AedesPersistence, StoredPacket, StoredSubscription } from '../persistence-port.js';
import {
  createSqlitePersistence,
  type SqlitePersistence,
  type SqliteSynchronous,
} from '../persistence-sqlite.js';

const require = createRequire(import.meta.url);
const silent = pino({ level: 'silent' });

/** The contract every aedes-persistence backend runs against itself (node:test style). */
type AbstractSuite = (opts: {
  test: (name: string, fn: (t: unknown) => Promise<void>) => void;
  persistence: () => unknown;
  testAsync: boolean;
}) => void;
const abstractPersistence = require('aedes-persistence/abstract.js') as AbstractSuite;
const StockMemory = require('aedes-persistence/asyncPersistence.js') as new () => AedesPersistence;

const dir = mkdtempSync(join(tmpdir(), 'riskfuse-broker-persistence-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let files = 0;
/** A fresh database file per call. */
const freshPath = (): string => join(dir, `broker-${String(++files)}.db`);

/** Stores opened by a test, destroyed after it (a second destroy is harmless). */
const opened: SqlitePersistence[] = [];
afterEach(async () => {
  await Promise.all(opened.splice(0).map((store) => store.destroy()));
});

async function open(
  path: string,
  broker = { id: 'broker-a' },
  synchronous: SqliteSynchronous = 'FULL',
): Promise<SqlitePersistence> {
  const store = createSqlitePersistence({ path, log: silent, synchronous });
  opened.push(store);
  await store.setup(broker);
  return store;
}

async function drain<T>(stream: Readable): Promise<T[]> {
  const out: T[] = [];
  for await (const item of stream) out.push(item as T);
  return out;
}

/** Reads the file over a connection of its own: what is committed, whatever the store holds in memory. */
function committed<T>(path: string, sql: string): T[] {
  const db = new Database(path, { readonly: true });
  try {
    return db.prepare(sql).all() as T[];
  } finally {
    db.close();
  }
}

const publish = (topic: string, payload: string, extra: Partial<StoredPacket> = {}): StoredPacket => ({
  cmd: 'publish',
  topic,
  payload: Buffer.from(payload),
  qos: 1,
  retain: false,
  dup: false,
  ...extra,
});

describe('broker SQLite persistence: the aedes-persistence contract suite', () => {
  // node:test's context, as far as the suite uses it; t.plan counts are not checked here.
  const context = { plan: () => undefined, diagnostic: () => undefined, assert };
  abstractPersistence({
    test: (name, fn) => it(name, () => fn(context)),
    persistence: () => createSqlitePersistence({ path: freshPath(), log: silent }),
    testAsync: true,
  });
});

/** A small deterministic generator, so a failure can be replayed. */
function random(seed: number): () => number {
  let s = seed;
  return () => {
    s = (s * 1_103_515_245 + 12_345) % 2_147_483_648;
    return s / 2_147_483_648;
  };
}

const view = (p: StoredPacket | undefined): unknown =>
  p === undefined
    ? undefined
    : {
        cmd: p.cmd,
        brokerId: p.brokerId,
        brokerCounter: p.brokerCounter,
        messageId: p.messageId,
        payload: p.payload === undefined ? undefined : String(p.payload),
      };

const bySubscriber = (
  a: { clientId: string; topic: string },
  b: { clientId: string; topic: string },
): number => `${a.clientId} ${a.topic}`.localeCompare(`${b.clientId} ${b.topic}`);

describe('broker SQLite persistence: same answers as the stock store, across restarts', () => {
  it('when random operations are applied to it and to the stock in-memory store, and it is reopened from its file now and then, then every answer and all state are the same', async () => {
    const clients = [{ id: 'ingest' }, { id: 'risk' }, { id: 'audit' }];
    const filters = ['rf/v1/+/telemetry', 'rf/v1/#', 'rf/v1/a/status', '+/+/+/status', 'other'];
    const topics = ['rf/v1/a/telemetry', 'rf/v1/a/status', 'rf/v1/b/status', 'other'];
    const brokers = ['broker-a', 'broker-b'];
    for (let seed = 1; seed <= 12; seed += 1) {
      const next = random(seed);
      const pick = (n: number): number => Math.floor(next() * n);
      const path = freshPath();
      // What is compared here is answers, not durability (the tests below): no fsync per step.
      let ours: AedesPersistence = await open(path, undefined, 'NORMAL');
      const stock = new StockMemory();
      await stock.setup({ id: 'broker-a' });
      let counter = 0;
      for (let step = 0; step < 300; step += 1) {
        const client = clients[pick(clients.length)] as { id: string };
        const op = pick(20);
        let a: unknown;
        let b: unknown;
        if (op < 6) {
          const packet = publish('t', `m${String(step)}`, {
            qos: 1 + pick(2),
            brokerId: brokers[pick(2)],
            brokerCounter: pick(3) === 0 ? pick(counter + 1) : ++counter,
          });
          const subs = clients.filter(() => pick(2) === 0).map((c) => ({ clientId: c.id }));
          await ours.outgoingEnqueueCombi(subs, packet);
          await stock.outgoingEnqueueCombi(subs, packet);
        } else if (op < 10) {
          const packet: StoredPacket =
            pick(6) === 0
              ? { cmd: 'pubrel', messageId: pick(12) }
              : {
                  cmd: 'publish',
                  brokerId: pick(5) === 0 ? undefined : brokers[pick(2)],
                  brokerCounter: pick(counter + 1),
                  messageId: pick(8) === 0 ? undefined : pick(12),
                };
          const settle = (p: Promise<void>): Promise<string> =>
            p.then(
              () => 'ok',
              (e: Error) => e.message,
            );
          a = await settle(ours.outgoingUpdate(client, { ...packet }));
          b = await settle(stock.outgoingUpdate(client, { ...packet }));
        } else if (op < 13) {
          // A PUBACK's packet id. Without one (a delivery Aedes did not send) the answer differs from the stock
          // store's by design: 'a clear without a packet id removes…' below.
          const packet = { messageId: pick(12) };
          a = view(await ours.outgoingClearMessageId(client, packet));
          b = view(await stock.outgoingClearMessageId(client, packet));
        } else if (op < 15) {
          const subs: StoredSubscription[] = Array.from({ length: 1 + pick(2) }, () => ({
            topic: filters[pick(filters.length)] as string,
            qos: pick(3),
            rh: 0,
            rap: pick(2) === 0,
            nl: false,
          }));
          await ours.addSubscriptions(client, subs);
          await stock.addSubscriptions(client, subs);
        } else if (op < 16) {
          const gone = [filters[pick(filters.length)] as string];
          await ours.removeSubscriptions(client, gone);
          await stock.removeSubscriptions(client, gone);
        } else if (op < 17) {
          await ours.cleanSubscriptions(client);
          await stock.cleanSubscriptions(client);
        } else if (op < 19) {
          const packet = publish(
            topics[pick(topics.length)] as string,
            pick(3) === 0 ? '' : `r${String(step)}`,
            {
              retain: true,
            },
          );
          await ours.storeRetained(packet);
          await stock.storeRetained(packet);
        } else {
          await ours.destroy();
          ours = await open(path, undefined, 'NORMAL');
        }
        const where = { seed, step };
        expect({ ...where, answer: a }).toEqual({ ...where, answer: b });
        for (const c of clients) {
          expect({ ...where, queue: (await drain<StoredPacket>(ours.outgoingStream(c))).map(view) }).toEqual({
            ...where,
            queue: (await drain<StoredPacket>(stock.outgoingStream(c))).map(view),
          });
          expect({ ...where, subs: await ours.subscriptionsByClient(c) }).toEqual({
            ...where,
            subs: await stock.subscriptionsByClient(c),
          });
        }
        for (const topic of topics) {
          // Which subscriptions match is the contract; their order follows the trie's insertion order.
          expect({ ...where, matched: (await ours.subscriptionsByTopic(topic)).sort(bySubscriber) }).toEqual({
            ...where,
            matched: (await stock.subscriptionsByTopic(topic)).sort(bySubscriber),
          });
        }
        expect({ ...where, count: await ours.countOffline() }).toEqual({
          ...where,
          count: await stock.countOffline(),
        });
        expect({
          ...where,
          retained: (await drain<StoredPacket>(ours.createRetainedStream('#'))).map(view),
        }).toEqual({
          ...where,
          retained: (await drain<StoredPacket>(stock.createRetainedStream('#'))).map(view),
        });
      }
      await ours.destroy();
    }
  });
});

describe('broker SQLite persistence: durability and group commit', () => {
  it('when 2,000 messages are enqueued in one turn of the event loop, then they are committed in one transaction, and each promise resolves only once its row is in the file', async () => {
    const path = freshPath();
    const store = await open(path);
    const before = store.stats.commits;
    const total = 2_000;
    const enqueued = Array.from({ length: total }, (_, i) =>
      store.outgoingEnqueueCombi(
        [{ clientId: 'ingest' }],
        publish('rf/v1/a/telemetry', `m${String(i)}`, { brokerId: 'b', brokerCounter: i + 1 }),
      ),
    );
    // Nothing is committed before the turn ends.
    expect(committed<{ n: number }>(path, 'SELECT count(*) AS n FROM outgoing')).toEqual([{ n: 0 }]);
    const seenAtFirstResolve = new Promise<number>((resolve) => {
      void (enqueued[0] as Promise<void>).then(() =>
        resolve(committed<{ n: number }>(path, 'SELECT count(*) AS n FROM outgoing')[0]?.n ?? -1),
      );
    });
    await Promise.all(enqueued);
    expect(await seenAtFirstResolve).toBe(total);
    expect(store.stats.commits - before).toBe(1);
  });

  it('when a commit has to wait (another connection holds the write lock), then the event loop keeps running meanwhile, and everything written during it goes in one next commit', async () => {
    const path = freshPath();
    const store = await open(path);
    await store.storeRetained(publish('warm-up', 'x', { retain: true }));
    const before = store.stats.commits;
    const lock = new Database(path);
    lock.exec('BEGIN IMMEDIATE');
    let resolvedFirst = false;
    const first = store
      .outgoingEnqueue({ clientId: 'ingest' }, publish('t', 'first', { brokerId: 'b', brokerCounter: 1 }))
      .then(() => (resolvedFirst = true));
    // Turns of the event loop while that commit waits: on the event loop it would block them all (and
    // fail with SQLITE_BUSY, since the lock could not be released).
    const later: Promise<void>[] = [];
    for (let i = 2; i <= 50; i += 1) {
      await new Promise((resolve) => setTimeout(resolve, 2));
      later.push(
        store.outgoingEnqueue(
          { clientId: 'ingest' },
          publish('t', `m${String(i)}`, { brokerId: 'b', brokerCounter: i }),
        ),
      );
    }
    expect(resolvedFirst).toBe(false);
    lock.exec('COMMIT');
    lock.close();
    await first;
    await Promise.all(later);
    expect(committed<{ n: number }>(path, 'SELECT count(*) AS n FROM outgoing')).toEqual([{ n: 50 }]);
    expect(store.stats.commits - before).toBe(2);
  });

  it('when a message is acknowledged (PUBACK), then its row is deleted from the file in the next commit', async () => {
    const path = freshPath();
    const store = await open(path);
    const client = { id: 'ingest' };
    for (let i = 1; i <= 3; i += 1) {
      await store.outgoingEnqueue(
        { clientId: client.id },
        publish('t', `m${String(i)}`, { brokerId: 'b', brokerCounter: i }),
      );
      await store.outgoingUpdate(client, { brokerId: 'b', brokerCounter: i, messageId: 100 + i });
    }
    const acked = await store.outgoingClearMessageId(client, { cmd: 'puback', messageId: 102 });
    expect(view(acked)).toMatchObject({ brokerCounter: 2, messageId: 102, payload: 'm2' });
    // Nobody waits for the delete (nor for the packet ids): a write queued after it is committed with it or later.
    await store.storeRetained(publish('probe', '', { retain: true }));
    expect(committed(path, 'SELECT message_id FROM outgoing ORDER BY seq')).toEqual([
      { message_id: 101 },
      { message_id: 103 },
    ]);
  });

  it("when a clear without a packet id removes (Aedes did not send a delivery), then it removes no other message's copy: the stock store removed the first unsent one, a reading PUBACKed to its device and never delivered", async () => {
    const path = freshPath();
    const store = await open(path);
    const client = { id: 'ingest' };
    // m1 is queued and being delivered (Aedes gives it its packet id on the next turn).
    await store.outgoingEnqueue(
      { clientId: client.id },
      publish('t', 'm1', { brokerId: 'b', brokerCounter: 1 }),
    );
    // Meanwhile Aedes does not send m2 to this session (deduplicated, or another partition's device).
    expect(
      await store.outgoingClearMessageId(client, publish('t', 'm2', { brokerId: 'b', brokerCounter: 2 })),
    ).toBeUndefined();
    await store.outgoingUpdate(client, { brokerId: 'b', brokerCounter: 1, messageId: 7 });
    await store.storeRetained(publish('probe', '', { retain: true }));
    expect(committed(path, 'SELECT message_id FROM outgoing ORDER BY seq')).toEqual([{ message_id: 7 }]);
  });

  it('when the store is reopened, then subscriptions (wildcards matched), retained messages, queued messages with their packet ids, inbound QoS 2 packets and wills are back', async () => {
    const path = freshPath();
    const first = await open(path, { id: 'broker-old' });
    const ingest = { id: 'riskfuse-ingest' };
    await first.addSubscriptions(ingest, [
      { topic: 'rf/v1/+/telemetry', qos: 1, rh: 0, rap: false, nl: false },
      { topic: 'rf/v1/+/status', qos: 0, rh: 0, rap: false, nl: false },
    ]);
    await first.storeRetained(publish('rf/v1/stake-1/status', 'online', { retain: true }));
    await first.storeRetained(publish('rf/v1/stake-2/status', 'online', { retain: true }));
    await first.storeRetained(publish('rf/v1/stake-2/status', '', { retain: true }));
    await first.outgoingEnqueueCombi(
      [{ clientId: ingest.id }],
      publish('rf/v1/stake-1/telemetry', '{"a":1}', { brokerId: 'broker-old', brokerCounter: 7 }),
    );
    await first.outgoingEnqueueCombi(
      [{ clientId: ingest.id }],
      publish('rf/v1/stake-1/telemetry', '{"a":2}', { brokerId: 'broker-old', brokerCounter: 8 }),
    );
    await first.outgoingUpdate(ingest, { brokerId: 'broker-old', brokerCounter: 7, messageId: 41 });
    await first.incomingStorePacket(
      { id: 'stake-1' },
      publish('rf/v1/stake-1/telemetry', 'q2', { qos: 2, messageId: 9 }),
    );
    await first.putWill({ id: 'stake-1' }, publish('rf/v1/stake-1/status', 'offline', { retain: true }));
    await first.destroy();

    const second = await open(path, { id: 'broker-new' });
    expect(await second.subscriptionsByTopic('rf/v1/stake-9/telemetry')).toEqual([
      { clientId: ingest.id, topic: 'rf/v1/+/telemetry', qos: 1, rh: 0, rap: false, nl: false },
    ]);
    expect(await second.subscriptionsByTopic('rf/v1/stake-9/status')).toEqual([]);
    expect((await second.subscriptionsByClient(ingest)).map((s) => s.topic)).toEqual([
      'rf/v1/+/telemetry',
      'rf/v1/+/status',
    ]);
    expect(await second.countOffline()).toEqual({ subsCount: 1, clientsCount: 1 });
    const retained = await drain<StoredPacket>(second.createRetainedStreamCombi(['rf/v1/+/status']));
    expect(retained.map((p) => [p.topic, String(p.payload)])).toEqual([['rf/v1/stake-1/status', 'online']]);
    const queued = await drain<StoredPacket>(second.outgoingStream(ingest));
    expect(queued.map(view)).toEqual([
      { cmd: 'publish', brokerId: 'broker-old', brokerCounter: 7, messageId: 41, payload: '{"a":1}' },
      { cmd: 'publish', brokerId: 'broker-old', brokerCounter: 8, messageId: undefined, payload: '{"a":2}' },
    ]);
    expect(Buffer.isBuffer(queued[0]?.payload)).toBe(true);
    expect(String((await second.incomingGetPacket({ id: 'stake-1' }, { messageId: 9 })).payload)).toBe('q2');
    // A will stamped by the old broker is one of a dead broker's: Aedes publishes it unless the device is back.
    const wills = await drain<StoredPacket>(second.streamWill({ 'broker-new': Date.now() }));
    expect(wills.map((w) => [w.clientId, w.brokerId, String(w.payload)])).toEqual([
      ['stake-1', 'broker-old', 'offline'],
    ]);
  });

  it('when a commit fails, then the writes waiting for it are rejected with a retryable store error and counted, and later writes go on', async () => {
    const path = freshPath();
    const store = await open(path);
    // A real SQLite failure inside the transaction: a trigger refusing one topic.
    const db = new Database(path);
    db.exec(
      `CREATE TRIGGER refuse BEFORE INSERT ON retained WHEN NEW.topic = 'refused' BEGIN SELECT RAISE(ABORT, 'disk says no'); END`,
    );
    db.close();
    const refused = store.storeRetained(publish('refused', 'x', { retain: true }));
    const sameTurn = store.storeRetained(publish('fine-1', 'x', { retain: true }));
    await expect(refused).rejects.toMatchObject({ code: 'STORE_UNAVAILABLE', retryable: true });
    await expect(sameTurn).rejects.toMatchObject({ code: 'STORE_UNAVAILABLE' });
    expect(store.stats).toMatchObject({ failedCommits: 1, operationsLost: 2 });
    await store.storeRetained(publish('fine-2', 'x', { retain: true }));
    expect(committed(path, 'SELECT topic FROM retained')).toEqual([{ topic: 'fine-2' }]);
  });

  it('when the store is destroyed, then queued writes are committed first and later writes are refused', async () => {
    const path = freshPath();
    const store = await open(path);
    const write = store.storeRetained(publish('rf/v1/a/status', 'online', { retain: true }));
    await store.destroy();
    await write;
    expect(committed(path, 'SELECT topic FROM retained')).toEqual([{ topic: 'rf/v1/a/status' }]);
    await expect(
      store.storeRetained(publish('rf/v1/b/status', 'online', { retain: true })),
    ).rejects.toMatchObject({
      code: 'SHUTTING_DOWN',
    });
  });

  it('when the file has a newer schema than this build, then opening fails with MIGRATION_FAILED', () => {
    const path = freshPath();
    const db = new Database(path);
    db.pragma('user_version = 99');
    db.close();
    expect(() => createSqlitePersistence({ path, log: silent })).toThrow(
      expect.objectContaining({ code: 'MIGRATION_FAILED' }) as Error,
    );
  });

  it('when the file cannot be opened, then opening fails with STORE_UNAVAILABLE naming it', () => {
    const path = join(dir, 'not-a-folder');
    new Database(path).close();
    expect(() => createSqlitePersistence({ path: join(path, 'broker.db'), log: silent })).toThrow(
      expect.objectContaining({
        code: 'STORE_UNAVAILABLE',
        message: expect.stringContaining(path) as string,
      }) as Error,
    );
  });
});
