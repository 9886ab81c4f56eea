import { createRequire } from 'node:module';
import { Readable } from 'node:stream';
import type { MQEmitter } from 'mqemitter';
import { Redis } from 'ioredis';
import { errorMessage } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { DedupingClient } from './deliver-past-dedupe.js';
import { hardenMq } from './mq.js';
import type { AedesPersistence, StoredPacket } from './persistence-port.js';
import { RedisOutgoing } from './redis-outgoing.js';
import { SubscriptionSync, type SyncBroker } from './subscription-sync.js';

const require = createRequire(import.meta.url);

/**
 * aedes-persistence-redis 12's promise API (the one Aedes 1.x calls; the package's main export wraps it in
 * callbacks for Aedes 0.x). npm's peer range in aedes 1.2 still names v11, which is built on the callback
 * aedes-persistence 10: package.json overrides it.
 */
const AsyncRedisPersistence = require('aedes-persistence-redis/asyncPersistence.js') as new (opts: {
  conn: Redis;
  maxSessionDelivery: number;
}) => StreamsAsIterables;

interface RedisPersistenceOptions {
  conn: Redis;
  maxSessionDelivery: number;
  log: Logger;
}

/** Where v12 differs from the port: its streams are async generators. */
type StreamsAsIterables = Omit<AedesPersistence, StreamMethod> & {
  [M in StreamMethod]: (...args: Parameters<AedesPersistence[M]>) => AsyncIterable<unknown>;
};
type StreamMethod =
  'createRetainedStream' | 'createRetainedStreamCombi' | 'outgoingStream' | 'streamWill' | 'getClientList';

/**
 * aedes-persistence-redis 12 returns async generators where Aedes 1.2 pipes Node streams (`stream.pipe is
 * not a function` on the first SUBSCRIBE, lib/handlers/subscribe.js); aedes-persistence 11's own store wraps
 * its generators in `Readable.from`, and so does this. Exercised through brokers on a real Redis by
 * test/cluster.e2e.test.ts, broker/test/will-identity.test.ts and (the outgoing queues)
 * broker/test/redis-outgoing.test.ts; aedes-persistence's own contract suite runs against the SQLite store
 * (broker/test/persistence-sqlite.test.ts), not yet against this one.
 */
class RedisPersistence extends AsyncRedisPersistence {
  /** Per client: the subscription change in flight (see `serialised`). */
  readonly #changing = new Map<string, Promise<void>>();
  /** The outgoing queues without per-message work that grows with the queue (redis-outgoing.ts). */
  readonly #outgoing: RedisOutgoing;
  readonly #maxSessionDelivery: number;
  readonly #log: Logger;
  #sync: SubscriptionSync | undefined;

  constructor(opts: RedisPersistenceOptions) {
    super(opts);
    this.#outgoing = new RedisOutgoing(opts.conn);
    this.#maxSessionDelivery = opts.maxSessionDelivery;
    this.#log = opts.log;
  }

  /**
   * Aedes 1.2 stores a SUBSCRIBE's subscriptions once per topic filter, concurrently, each time with the whole
   * list (lib/handlers/subscribe.js `storeSubscriptions`). The store then waits for its own broadcast of the
   * change, keyed by client and first filter (aedes-persistence `broadcastPersistence.js`): the second call
   * replaces the first one's waiter, which never resolves, and a SUBSCRIBE with two filters never gets its
   * SUBACK — the ingest's (`rf/v1/+/telemetry`, `rf/v1/+/status`). One change per client at a time avoids it.
   * test/cluster.e2e.test.ts pins it: its ingest partitions subscribe to both filters through this store.
   */
  #serialised(clientId: string, change: () => Promise<void>): Promise<void> {
    const previous = this.#changing.get(clientId) ?? Promise.resolve();
    const next = previous.then(change, change);
    this.#changing.set(clientId, next);
    const forget = (): void => {
      if (this.#changing.get(clientId) === next) this.#changing.delete(clientId);
    };
    next.then(forget, forget);
    return next;
  }

  // @ts-expect-error -- the base type (built with Omit) declares its methods as properties
  override addSubscriptions(
    client: { readonly id: string },
    subs: Parameters<AedesPersistence['addSubscriptions']>[1],
  ): Promise<void> {
    return this.#serialised(client.id, async () => {
      await super.addSubscriptions(client, subs);
      // Before the SUBACK, every other broker of the cluster has it too (subscription-sync.ts).
      const first = subs[0]?.topic;
      if (first !== undefined) await this.#sync?.everyBrokerHas(client.id, first);
    });
  }

  // @ts-expect-error -- as above
  override async setup(broker: SyncBroker): Promise<void> {
    await super.setup(broker);
    this.#sync = await SubscriptionSync.install(broker, SUBSCRIPTION_SYNC_TIMEOUT_MS, this.#log);
  }

  // @ts-expect-error -- as above
  override removeSubscriptions(client: { readonly id: string }, topics: readonly string[]): Promise<void> {
    return this.#serialised(client.id, () => super.removeSubscriptions(client, topics));
  }

  // @ts-expect-error -- the base type (built with Omit) declares its methods as properties
  override outgoingEnqueueCombi(
    subs: Parameters<AedesPersistence['outgoingEnqueueCombi']>[0],
    packet: StoredPacket,
  ): Promise<void> {
    return super.outgoingEnqueueCombi(RedisOutgoing.oncePerSession(subs), packet);
  }

  // @ts-expect-error -- as above
  override outgoingUpdate(client: { readonly id: string }, packet: StoredPacket): Promise<void> {
    return this.#outgoing.update(client, packet);
  }

  // @ts-expect-error -- as above
  override outgoingClearMessageId(
    client: DedupingClient,
    packet: StoredPacket,
  ): Promise<StoredPacket | undefined> {
    if (packet.messageId === undefined) {
      // A delivery Aedes did not send (lib/client.js `dedupe`): nothing to clear; sent again if still queued.
      this.#outgoing.sendDropped(client, packet).then(
        (sent) => {
          if (sent)
            this.#log.debug({ clientId: client.id }, 'queued message dropped as out of order, sent again');
        },
        (err: unknown) =>
          this.#log.warn(
            { err: errorMessage(err), clientId: client.id },
            'queued message dropped as out of order not sent again; it waits for the next connect',
          ),
      );
      return Promise.resolve(undefined);
    }
    return this.#outgoing.clear(client, packet);
  }

  /** A packet id this broker gave to a message still queued for the client (broker/unused-packet-ids.ts). */
  outgoingIdInUse(clientId: string, messageId: number): boolean {
    return this.#outgoing.idInUse(clientId, messageId);
  }

  // @ts-expect-error -- the port's Readable in place of the base class's async iterable, by design
  override createRetainedStream(pattern: string): Readable {
    return Readable.from(super.createRetainedStream(pattern));
  }
  // @ts-expect-error -- as above
  override createRetainedStreamCombi(patterns: readonly string[]): Readable {
    return Readable.from(super.createRetainedStreamCombi(patterns));
  }
  // @ts-expect-error -- as above
  override outgoingStream(client: { readonly id: string }): Readable {
    return Readable.from(this.#outgoing.stream(client, this.#maxSessionDelivery));
  }
  // @ts-expect-error -- as above
  override streamWill(brokers?: Readonly<Record<string, unknown>>): Readable {
    return Readable.from(super.streamWill(brokers));
  }
  // @ts-expect-error -- as above
  override getClientList(topic: string): Readable {
    return Readable.from(super.getClientList(topic));
  }
}

/** mqemitter-redis 7: mqemitter's local delivery, with every emit going through Redis PUBLISH. */
const MQEmitterRedis = require('mqemitter-redis') as new (opts: {
  connectionString: string;
  concurrency: number;
  matchEmptyLevels: boolean;
}) => MQEmitter & {
  readonly state: NodeJS.EventEmitter;
  readonly subConn: Redis;
  readonly pubConn: Redis;
};

/**
 * How many queued messages a persistent session gets on CONNECT. The store's default is 1,000: an ingest
 * partition reconnecting after its worker died with more queued would get the first thousand and the rest only
 * at its next reconnect — stored, but held back indefinitely. The list is read key by key, so this bounds
 * only the size of one LRANGE reply.
 */
export const MAX_SESSION_DELIVERY = 10_000_000;

/** How long a new subscription's SUBACK waits for the other brokers to confirm it (subscription-sync.ts). */
export const SUBSCRIPTION_SYNC_TIMEOUT_MS = 5_000;

export interface RedisBackend {
  readonly persistence: AedesPersistence;
  readonly mq: MQEmitter;
  /** Calls `listener` each time the emitter's subscription connection is back after a loss (not the first time). */
  readonly onEmitterResumed: (listener: () => void) => void;
}

/**
 * The broker's cluster backend: sessions, subscriptions, retained messages, wills and queued QoS 1 messages in
 * Redis (aedes-persistence-redis), and every published message through Redis pub/sub (mqemitter-redis), so
 * that brokers sharing one Redis are one broker to the devices. `persistence.destroy()` closes the store's
 * connection; Aedes' `close()` closes the emitter's two.
 *
 * ioredis queues commands while Redis is away and retries each up to 20 reconnects (its default) before
 * failing it; a publish whose copy cannot be queued fails, and publish-before-ack.ts then closes the device's
 * connection without PUBACK, so the device sends it again.
 */
export function openRedisBackend(url: string, concurrency: number, log: Logger): RedisBackend {
  const conn = new Redis(url, { lazyConnect: false });
  conn.on('error', (err: Error) => log.warn({ err: errorMessage(err) }, 'Redis (session store) error'));
  const persistence = new RedisPersistence({
    conn,
    maxSessionDelivery: MAX_SESSION_DELIVERY,
    log,
  });
  // matchEmptyLevels as Aedes sets it for its own default emitter [MQTT-4.7.1-3].
  const mq = hardenMq(new MQEmitterRedis({ connectionString: url, concurrency, matchEmptyLevels: true }));
  // Unhandled, an 'error' on this emitter would throw and end the process at the first lost connection.
  mq.state.on('error', (err: Error) => log.warn({ err: errorMessage(err) }, 'Redis (message emitter) error'));
  // mqemitter-redis' close() calls quit() on both connections without a handler; a quit that finds its
  // connection already closed rejects ("Connection is closed"), and unhandled that would end the process at
  // shutdown. Seen in broker/test/redis-outgoing.test.ts's teardown (3 of 4 runs), where a device's close left
  // publishes in flight as the broker closed.
  for (const c of [mq.subConn, mq.pubConn]) {
    const conn = c as unknown as { quit: () => Promise<'OK'> };
    const quit = conn.quit.bind(c);
    conn.quit = () => {
      const done = quit();
      done.catch((err: unknown) => log.debug({ err: errorMessage(err) }, 'Redis (message emitter) quit'));
      return done;
    };
  }
  let connects = 0;
  const resumed = new Set<() => void>();
  // ioredis re-subscribes before 'ready' on a reconnect; anything published meanwhile was not delivered.
  mq.subConn.on('ready', () => {
    connects += 1;
    if (connects > 1) for (const listener of resumed) listener();
  });
  return { persistence, mq, onEmitterResumed: (listener) => resumed.add(listener) };
}
