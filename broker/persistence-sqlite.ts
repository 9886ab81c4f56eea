import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { Readable } from 'node:stream';
import Database from 'better-sqlite3';
import { RiskfuseError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type {
  AedesPersistence,
  BrokerRef,
  ClientRef,
  MatchedSubscription,
  StoredPacket,
  StoredSubscription,
  SubscriberRef,
} from './persistence-port.js';
import {
  decode,
  migrate,
  NO_INCOMING_ID,
  plain,
  STATEMENTS,
  unavailable,
  type StatementName,
} from './session-schema.js';
import { SessionWriter, type SessionWriterStats } from './session-writer.js';
import { Packet, SqliteOutgoing, type LoadedSlot } from './sqlite-outgoing.js';

/**
 * The broker's durable session store: Aedes' persistence on a SQLite file, so that a broker crash or
 * restart keeps what it has taken responsibility for — the QoS 1/2 messages queued for persistent sessions
 * (the ingest's), their subscriptions, retained messages (device presence), wills and inbound QoS 2 state.
 *
 * How it works:
 * - **Reads come from memory.** Everything is held in maps as in aedes-persistence's memory store (with
 *   qlobber for wildcard matching) and loaded from the file on open; the file is written through. The
 *   outgoing queues, with the hand-off of copies to connected sessions, are sqlite-outgoing.ts.
 * - **Written on a thread of its own, in group commits** (session-writer.ts). Writes are queued; one
 *   transaction at a time commits on the writer thread, and what is queued meanwhile goes in the next, so
 *   thousands of enqueues per second cost as many commits as the disk's fsync allows, and the event loop
 *   Aedes and the ingest share never waits for an fsync. (Committed on that loop, one per turn, the store
 *   held the all-in-one process to 0.42 × bare Aedes in `npm run bench:ingest`.)
 * - **Resolved means committed.** A write's promise resolves only after its transaction has committed
 *   on the writer thread (WAL, `synchronous` FULL by default): when Aedes goes on after `outgoingEnqueueCombi`,
 *   `storeRetained`, `addSubscriptions`, … the data is on disk. Two writes do not wait, because nothing
 *   that follows them needs them on disk: `outgoingUpdate` (the packet id a delivery was given) and
 *   `outgoingClearMessageId` (the PUBACK of a delivered message). Lost in a crash, the first means a
 *   redelivery gets a new packet id, the second a redelivery the subscriber has already acknowledged —
 *   QoS 1 allows both, and the ingest stores each reading once. They still go in the next commit.
 *   test/persistence-sqlite.test.ts ("durability and group commit") pins both halves: a resolved enqueue is
 *   in the file, and a PUBACK's delete follows with the next commit.
 *   (Aedes 1.2 itself sends a device's PUBACK before it publishes the message: publish-before-ack.ts
 *   moves the PUBACK after the commit.)
 * - **FULL by default.** With group commit, fsyncing every commit costs little over `NORMAL` (see
 *   `npm run bench:broker-persistence`), and it is what keeps an accepted reading through a power loss,
 *   as the ingest's stores do.
 * - **Answers are the stock store's**, operation by operation, including the order of queued packets
 *   (checked against it in test/persistence-sqlite.test.ts, with restarts in between).
 * - **State is removed when the protocol ends it**: an outgoing row on its PUBACK (or PUBCOMP), a retained
 *   message on an empty retained publish, subscriptions on UNSUBSCRIBE or a clean session, inbound QoS 2
 *   packets on PUBREL, a will once published or replaced. Deleted pages are reused; no VACUUM is needed.
 *
 * A failed commit (disk full, I/O error) rejects the writes waiting for it, is logged, and leaves memory
 * ahead of the file: the running broker carries on with what it holds, a restart has only what was
 * committed.
 *
 * Aedes' broker id is random per start and its message counter restarts at 0, which is what keeps queued
 * packets from before a restart (old broker id) apart from new ones: do not pin Aedes' `id` with this store.
 *
 * Pinned by broker/test/persistence-sqlite.test.ts (the aedes-persistence contract suite, the stock store's
 * answers across restarts, durability); the outgoing queues also by the tests sqlite-outgoing.ts names.
 */

export type SqliteSynchronous = 'FULL' | 'NORMAL';

export interface SqlitePersistenceOptions {
  /** The SQLite file; its folder is created if missing. */
  readonly path: string;
  readonly log: Logger;
  /**
   * `FULL` (default): every commit is fsynced — survives a power loss or kernel crash. `NORMAL`: the WAL is
   * fsynced only at checkpoints — survives a crash of the broker process, not of the machine.
   */
  readonly synchronous?: SqliteSynchronous;
  /**
   * MQTT_HANDOFF_MS (handoff.ts): a copy queued for a connected persistent session is written only if that
   * session has not acknowledged it within this time. 0 (default here): every copy is written at once.
   */
  readonly handoffMs?: number;
}

/** What the store has done since it was opened. */
export type SqlitePersistenceStats = SessionWriterStats;

export interface SqlitePersistence extends AedesPersistence {
  readonly broker: BrokerRef | undefined;
  readonly stats: SqlitePersistenceStats;
  /**
   * Settles once every copy of the message a client published with this packet is owned — committed, or
   * acknowledged by its subscriber (handoff.ts); undefined when none waits. Read by publish-before-ack.ts.
   */
  owned(packet: { payload?: unknown }): Promise<void> | undefined;
  /**
   * Hands off only to connected sessions `accept` admits (default: every connected persistent session). The
   * broker admits only the ingest service (app.ts): its PUBACK follows its own durable commit, so it can take
   * ownership; any other subscriber's PUBACK says nothing about storage, and one that is slow to acknowledge
   * would hold every device's PUBACK for up to the window (Paho's s4_4 redelivery scenario failed on that:
   * test/paho-interop.e2e.test.ts).
   */
  handOffOnlyTo(accept: (client: object) => boolean): void;
}

/** Opens (creating or migrating) the store at `path` and loads its state; pass it as Aedes' `persistence`. */
export function createSqlitePersistence(options: SqlitePersistenceOptions): SqlitePersistence {
  return new SqliteAedesPersistence(options);
}

const require = createRequire(import.meta.url);

interface QlobberSubStore {
  readonly subscriptionsCount: number;
  add(topic: string, sub: MatchedSubscription): void;
  remove(topic: string, sub: { clientId: string; topic: string }): void;
  match(topic: string): MatchedSubscription[];
}
interface QlobberTrueMatcher {
  add(pattern: string): void;
  test(topic: string): boolean;
}
type QlobberOptions = { wildcard_one: string; wildcard_some: string; separator: string };
const QlobberSub = require('qlobber/aedes/qlobber-sub') as new (options: QlobberOptions) => QlobberSubStore;
const { QlobberTrue } = require('qlobber') as {
  QlobberTrue: new (options: QlobberOptions) => QlobberTrueMatcher;
};

/** MQTT's topic syntax, as the stock store configures qlobber. */
const QLOBBER_OPTIONS: QlobberOptions = { wildcard_one: '+', wildcard_some: '#', separator: '/' };

/** What a subscription keeps per client (the topic is the key). */
type SubscriptionRecord = Omit<StoredSubscription, 'topic'>;

function* retainedMatching(retained: Map<string, StoredPacket>, pattern: string): Generator<StoredPacket> {
  const matcher = new QlobberTrue(QLOBBER_OPTIONS);
  matcher.add(pattern);
  for (const [topic, packet] of retained) {
    if (matcher.test(topic)) yield packet;
  }
}

class SqliteAedesPersistence implements SqlitePersistence {
  readonly #log: Logger;
  readonly #writer: SessionWriter<StatementName>;
  /** The outgoing queues of persistent sessions, and the copies handed off (sqlite-outgoing.ts). */
  readonly #outgoing: SqliteOutgoing;

  // The state, as aedes-persistence's memory store keeps it.
  readonly #retained = new Map<string, StoredPacket>();
  readonly #subscriptions = new Map<string, Map<string, SubscriptionRecord>>();
  readonly #trie = new QlobberSub(QLOBBER_OPTIONS);
  readonly #incoming = new Map<string, Map<number | undefined, StoredPacket>>();
  readonly #wills = new Map<string, StoredPacket>();
  #broker: BrokerRef | undefined;

  #destroyed: Promise<void> | undefined;

  constructor({ path, log, synchronous = 'FULL', handoffMs = 0 }: SqlitePersistenceOptions) {
    this.#log = log.child({ component: 'broker-persistence' });
    let db: Database.Database;
    try {
      if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
      db = new Database(path);
    } catch (err) {
      throw unavailable(path, err);
    }
    // Opened here to migrate and load; from then on only the writer thread writes, over its own connection.
    let queued: LoadedSlot[];
    try {
      db.pragma('journal_mode = WAL');
      migrate(db);
      queued = this.#load(db);
    } catch (err) {
      throw err instanceof RiskfuseError ? err : unavailable(path, err);
    } finally {
      db.close();
    }
    this.#writer = new SessionWriter({ path, synchronous, statements: STATEMENTS, log: this.#log });
    this.#outgoing = new SqliteOutgoing(this.#writer, handoffMs);
    for (const loaded of queued) this.#outgoing.restore(loaded);
    this.#log.info(
      {
        path,
        synchronous,
        handoffMs,
        retained: this.#retained.size,
        sessions: this.#subscriptions.size,
        queued: this.#outgoing.queuedCount(),
        wills: this.#wills.size,
      },
      'broker session store open',
    );
  }

  get broker(): BrokerRef | undefined {
    return this.#broker;
  }

  get stats(): SqlitePersistenceStats {
    return this.#writer.stats;
  }

  owned(packet: { payload?: unknown }): Promise<void> | undefined {
    return this.#outgoing.owned(packet);
  }

  // Aedes refuses a persistence whose setup is not an AsyncFunction; there is nothing to wait for here.
  // eslint-disable-next-line @typescript-eslint/require-await
  async setup(broker: BrokerRef): Promise<void> {
    this.#broker = broker;
    this.#outgoing.attach(broker);
  }

  // --- retained messages ---

  storeRetained(original: StoredPacket): Promise<void> {
    const packet = { ...original };
    const topic = String(packet.topic);
    if ((packet.payload?.length ?? 0) === 0) {
      this.#retained.delete(topic);
      return this.#writer.write('deleteRetained', topic);
    }
    this.#retained.set(topic, packet);
    return this.#writer.write('upsertRetained', topic, plain(packet));
  }

  createRetainedStream(pattern: string): Readable {
    return Readable.from([...retainedMatching(this.#retained, pattern)]);
  }

  createRetainedStreamCombi(patterns: readonly string[]): Readable {
    return Readable.from(patterns.flatMap((pattern) => [...retainedMatching(this.#retained, pattern)]));
  }

  // --- subscriptions of persistent sessions ---

  addSubscriptions(client: ClientRef, subs: readonly StoredSubscription[]): Promise<void> {
    let stored = this.#subscriptions.get(client.id);
    if (stored === undefined) {
      stored = new Map();
      this.#subscriptions.set(client.id, stored);
    }
    const written: Promise<void>[] = [];
    for (const sub of subs) {
      const record: SubscriptionRecord = { qos: sub.qos, rh: sub.rh, rap: sub.rap, nl: sub.nl };
      // As the stock store: the MQTT 5 Subscription Identifier is restored with the session, not matched.
      if (sub.subscriptionIdentifier !== undefined)
        record.subscriptionIdentifier = sub.subscriptionIdentifier;
      this.#retrie(client.id, sub.topic, stored.get(sub.topic), record);
      stored.set(sub.topic, record);
      written.push(this.#writer.write('upsertSubscription', client.id, sub.topic, plain(record)));
    }
    return Promise.all(written).then(() => undefined);
  }

  removeSubscriptions(client: ClientRef, topics: readonly string[]): Promise<void> {
    const stored = this.#subscriptions.get(client.id);
    if (stored === undefined) return Promise.resolve();
    const removed: string[] = [];
    for (const topic of topics) {
      const record = stored.get(topic);
      if (record === undefined) continue;
      this.#retrie(client.id, topic, record, undefined);
      stored.delete(topic);
      removed.push(topic);
    }
    if (stored.size === 0) this.#subscriptions.delete(client.id);
    if (removed.length === 0) return Promise.resolve();
    return Promise.all(
      removed.map((topic) => this.#writer.write('deleteSubscription', client.id, topic)),
    ).then(() => undefined);
  }

  subscriptionsByClient(client: ClientRef): Promise<StoredSubscription[]> {
    const stored = this.#subscriptions.get(client.id);
    const subs: StoredSubscription[] = [];
    for (const [topic, record] of stored ?? []) subs.push({ topic, ...record });
    return Promise.resolve(subs);
  }

  countOffline(): Promise<{ subsCount: number; clientsCount: number }> {
    return Promise.resolve({
      subsCount: this.#trie.subscriptionsCount,
      clientsCount: this.#subscriptions.size,
    });
  }

  subscriptionsByTopic(topic: string): Promise<MatchedSubscription[]> {
    return Promise.resolve(this.#trie.match(topic));
  }

  cleanSubscriptions(client: ClientRef): Promise<void> {
    const stored = this.#subscriptions.get(client.id);
    if (stored === undefined) return Promise.resolve();
    for (const [topic, record] of stored) this.#retrie(client.id, topic, record, undefined);
    this.#subscriptions.delete(client.id);
    return this.#writer.write('deleteSubscriptions', client.id);
  }

  getClientList(topic: string): Readable {
    const clients: string[] = [];
    for (const [clientId, stored] of this.#subscriptions) if (stored.has(topic)) clients.push(clientId);
    return Readable.from(clients);
  }

  /** Only QoS > 0 subscriptions are matched (messages are queued for them); QoS 0 ones are only restored. */
  #retrie(
    clientId: string,
    topic: string,
    before: SubscriptionRecord | undefined,
    after: SubscriptionRecord | undefined,
  ): void {
    if (after !== undefined && after.qos > 0) {
      this.#trie.add(topic, { clientId, topic, qos: after.qos, rh: after.rh, rap: after.rap, nl: after.nl });
    } else if (before !== undefined && before.qos > 0) {
      this.#trie.remove(topic, { clientId, topic });
    }
  }

  // --- outgoing queues of persistent sessions (sqlite-outgoing.ts) ---

  outgoingEnqueue(sub: SubscriberRef, packet: StoredPacket): Promise<void> {
    return this.outgoingEnqueueCombi([sub], packet);
  }

  outgoingEnqueueCombi(subs: readonly SubscriberRef[], original: StoredPacket): Promise<void> {
    return this.#outgoing.enqueue(subs, original);
  }

  handOffOnlyTo(accept: (client: object) => boolean): void {
    this.#outgoing.handOffOnlyTo(accept);
  }

  outgoingUpdate(client: ClientRef, packet: StoredPacket): Promise<void> {
    return this.#outgoing.update(client, packet);
  }

  outgoingClearMessageId(
    client: ClientRef,
    packet: StoredPacket | number,
  ): Promise<StoredPacket | undefined> {
    return this.#outgoing.clearMessageId(client, packet);
  }

  outgoingIdInUse(clientId: string, messageId: number): boolean {
    return this.#outgoing.idInUse(clientId, messageId);
  }

  outgoingStream(client: ClientRef): Readable {
    return this.#outgoing.stream(client);
  }

  // --- inbound QoS 2 ---

  incomingStorePacket(client: ClientRef, original: StoredPacket): Promise<void> {
    const packet = new Packet(original);
    packet.messageId = original.messageId;
    let stored = this.#incoming.get(client.id);
    if (stored === undefined) {
      stored = new Map();
      this.#incoming.set(client.id, stored);
    }
    stored.set(packet.messageId, packet);
    const messageId = packet.messageId ?? NO_INCOMING_ID;
    return this.#writer.write('upsertIncoming', client.id, messageId, plain(packet));
  }

  incomingGetPacket(client: ClientRef, packet: StoredPacket): Promise<StoredPacket> {
    const stored = this.#incoming.get(client.id)?.get(packet.messageId);
    return stored === undefined ? Promise.reject(new Error('no such packet')) : Promise.resolve(stored);
  }

  incomingDelPacket(client: ClientRef, packet: StoredPacket): Promise<void> {
    const stored = this.#incoming.get(client.id);
    if (stored?.delete(packet.messageId) !== true) return Promise.reject(new Error('no such packet'));
    if (stored.size === 0) this.#incoming.delete(client.id);
    const messageId = packet.messageId ?? NO_INCOMING_ID;
    return this.#writer.write('deleteIncoming', client.id, messageId);
  }

  cleanIncoming(client: ClientRef): Promise<void> {
    if (!this.#incoming.delete(client.id)) return Promise.resolve();
    return this.#writer.write('deleteIncomingOf', client.id);
  }

  // --- wills ---

  putWill(client: ClientRef, packet: StoredPacket): Promise<void> {
    packet.brokerId = this.#broker?.id;
    packet.clientId = client.id;
    this.#wills.set(client.id, packet);
    return this.#writer.write('upsertWill', client.id, plain(packet));
  }

  getWill(client: ClientRef): Promise<StoredPacket | undefined> {
    return Promise.resolve(this.#wills.get(client.id));
  }

  delWill(client: ClientRef): Promise<StoredPacket | undefined> {
    const will = this.#wills.get(client.id);
    if (will === undefined) return Promise.resolve(undefined);
    this.#wills.delete(client.id);
    return this.#writer.write('deleteWill', client.id).then(() => will);
  }

  streamWill(brokers: Readonly<Record<string, unknown>> = {}): Readable {
    const wills = [...this.#wills.values()].filter(
      (will) => will.brokerId === undefined || !brokers[will.brokerId],
    );
    return Readable.from(wills);
  }

  // --- lifecycle ---

  /** Commits what is queued, then closes the file. Later writes are refused. */
  destroy(): Promise<void> {
    // Copies still waiting for their subscriber are written before the file closes.
    if (this.#destroyed === undefined) this.#outgoing.flushAll();
    this.#destroyed ??= this.#writer.close().then(() => {
      this.#log.info({ ...this.#writer.stats }, 'broker session store closed');
    });
    return this.#destroyed;
  }

  // --- open ---

  /** Fills the maps from the file; returns the queued copies, in seq order, for the outgoing queues. */
  #load(db: Database.Database): LoadedSlot[] {
    const queued: LoadedSlot[] = [];
    for (const row of db.prepare('SELECT topic, packet FROM retained ORDER BY rowid').iterate() as Iterable<{
      topic: string;
      packet: Buffer;
    }>) {
      this.#retained.set(row.topic, decode(row.packet));
    }
    for (const row of db
      .prepare('SELECT client_id, topic, subscription FROM subscriptions ORDER BY rowid')
      .iterate() as Iterable<{ client_id: string; topic: string; subscription: Buffer }>) {
      let stored = this.#subscriptions.get(row.client_id);
      if (stored === undefined) {
        stored = new Map();
        this.#subscriptions.set(row.client_id, stored);
      }
      const record = decode<SubscriptionRecord>(row.subscription);
      this.#retrie(row.client_id, row.topic, undefined, record);
      stored.set(row.topic, record);
    }
    for (const row of db
      .prepare('SELECT seq, client_id, message_id, packet FROM outgoing ORDER BY seq')
      .iterate() as Iterable<{ seq: number; client_id: string; message_id: number | null; packet: Buffer }>) {
      const packet = decode<StoredPacket>(row.packet);
      if (row.message_id !== null) packet.messageId = row.message_id;
      else if ('messageId' in packet) packet.messageId = undefined;
      queued.push({ clientId: row.client_id, slot: { seq: row.seq, packet } });
    }
    for (const row of db.prepare('SELECT client_id, message_id, packet FROM incoming').iterate() as Iterable<{
      client_id: string;
      message_id: number;
      packet: Buffer;
    }>) {
      let stored = this.#incoming.get(row.client_id);
      if (stored === undefined) {
        stored = new Map();
        this.#incoming.set(row.client_id, stored);
      }
      stored.set(row.message_id === NO_INCOMING_ID ? undefined : row.message_id, decode(row.packet));
    }
    for (const row of db.prepare('SELECT client_id, packet FROM wills').iterate() as Iterable<{
      client_id: string;
      packet: Buffer;
    }>) {
      this.#wills.set(row.client_id, decode(row.packet));
    }
    return queued;
  }
}
