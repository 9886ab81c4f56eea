import { createRequire } from 'node:module';
import type { Redis } from 'ioredis';
import { deliverPastDedupe, droppedAsOutOfOrder, type DedupingClient } from './deliver-past-dedupe.js';
import type { StoredPacket } from './persistence-port.js';

/**
 * The outgoing queues of aedes-persistence-redis 12 (asyncPersistence.js), same keys and values, with the
 * per-message work that grew with the queue taken out. A persistent session's queue is the Redis list
 * `outgoing:<client id>` of packet keys (`packet:<broker id>:<counter>`, the message, shared by every session
 * it was queued for, with a count of the sessions still owing a PUBACK in `…:offlineCount`).
 *
 * - A PUBACK ran `LREM <list> 0 <packet key>` (count 0: every occurrence, so Redis reads the whole list) then GET,
 *   DECR and DEL, four round trips: O(backlog) per acknowledged message. With the ingest's queue at 90,000 copies
 *   an LREM took 1.7 ms of Redis' single thread (measured), which caps every broker of the cluster at ~580
 *   acknowledgements a second whatever else Redis has to do: at 100,000 devices (1,667 readings/s offered) the
 *   queue drained at ~300/s and publish → stored p99 reached 67 s (`npm run bench:connections`). Here one script
 *   does the four steps atomically in one round trip, and removes the first occurrence only (`LREM … 1`): the
 *   ingest acknowledges in delivery order, so that is the list's head, read in O(1). `npm run bench:drain`
 *   measures it (drain rate of a 30,000-message backlog against a 3,000 one, and against SQLite sessions).
 * - A message matching two of a session's subscriptions was queued twice for it (one RPUSH per subscription,
 *   the count at 2) while Aedes delivers it once per session (lib/client.js `dedupe`): the one PUBACK removed
 *   both entries (LREM count 0) and the count stayed at 1, so the message stayed in Redis for ever; with count 1
 *   the second entry would stay queued and come again at the next CONNECT. Here a message is queued once per
 *   session. broker/test/redis-outgoing.test.ts pins it on a real Redis.
 * - The queue replayed on CONNECT was read one GET per message, one round trip each, while Aedes waits for each
 *   before the next (lib/handlers/connect.js `emptyQueue`); here MGET reads it 500 at a time.
 *
 * The delivery record (session + packet id → packet key, in this broker's memory: an ack reaches the broker that
 * delivered) is kept as the upstream store keeps it (hashlru, 100,000 entries).
 */

/** aedes-persistence-redis' own dependencies, resolved from where it is installed. */
const upstream = createRequire(
  createRequire(import.meta.url).resolve('aedes-persistence-redis/package.json'),
);
const msgpack = upstream('msgpack-lite') as { encode(v: unknown): Buffer; decode(b: Buffer): StoredPacket };
const HLRU = upstream('hashlru') as (max: number) => {
  get(k: string): string | undefined;
  has(k: string): boolean;
  set(k: string, v: string): void;
  remove(k: string): void;
};

/** Keys exactly as aedes-persistence-redis 12 writes them (its asyncPersistence.js), so both read the same data. */
const outgoingKey = (clientId: string): string => `outgoing:${encodeURIComponent(clientId)}`;
const outgoingIdKey = (clientId: string, messageId: unknown): string =>
  `outgoing-id:${encodeURIComponent(clientId)}:${String(messageId)}`;
const packetKey = (brokerId: unknown, counter: unknown): string =>
  `packet:${String(brokerId)}:${String(counter)}`;
const countKey = (brokerId: unknown, counter: unknown): string =>
  `${packetKey(brokerId, counter)}:offlineCount`;
const outgoingByBrokerKey = (clientId: string, brokerId: unknown, counter: unknown): string =>
  `${outgoingKey(clientId)}:${String(brokerId)}:${String(counter)}`;

/**
 * KEYS: the session's list, the key its delivery was recorded under (the packet key for QoS 1; for QoS 2 once
 * released, the session's own copy, which took the packet key's place in the list), the packet key, the count
 * key. Returns the packet as delivered, nil when it is gone. The list entry removed is the recorded key: the
 * library removed the packet key, no longer in the list after a PUBREL (a scan of the whole list for nothing),
 * and left the copy's entry behind. A QoS 1 acknowledgement that finds no entry of its session left changes no count:
 * a session can be sent one queued message twice (its connect replays the queue while the message also arrives
 * live, and Aedes' `emptyQueue` skips `dedupe`), and the second PUBACK used to count as another session's, so a
 * message shared with a second session was deleted before that one had it (broker/test/redis-outgoing.test.ts,
 * "acknowledges one queued message twice").
 */
const CLEAR_SCRIPT = `
local packet = redis.call('GET', KEYS[2])
local removed = redis.call('LREM', KEYS[1], 1, KEYS[2])
if not packet then return false end
if removed == 0 and KEYS[2] == KEYS[3] then return packet end
if KEYS[2] ~= KEYS[3] then redis.call('DEL', KEYS[2]) end
if redis.call('DECR', KEYS[4]) <= 0 then redis.call('DEL', KEYS[3], KEYS[4]) end
return packet`;

const REPLAY_CHUNK = 500;

interface Client {
  readonly id: string;
}

type ClearCommand = (list: string, recorded: string, pkt: string, count: string) => Promise<Buffer | null>;

export class RedisOutgoing {
  readonly #db: Redis;
  readonly #delivered = HLRU(100_000);
  readonly #clear: ClearCommand;

  constructor(db: Redis) {
    this.#db = db;
    db.defineCommand('riskfuseOutgoingClear', { numberOfKeys: 4, lua: CLEAR_SCRIPT });
    const commands = db as unknown as { riskfuseOutgoingClearBuffer: ClearCommand };
    this.#clear = commands.riskfuseOutgoingClearBuffer.bind(db);
  }

  /** One subscriber per session: Aedes delivers a message once per session however many subscriptions match. */
  static oncePerSession<S extends { readonly clientId: string }>(subs: readonly S[]): S[] {
    const seen = new Set<string>();
    return subs.filter((s) => !seen.has(s.clientId) && seen.add(s.clientId));
  }

  /** aedes-persistence-redis' outgoingUpdate: records the delivery (packet id) and stores the packet with it. */
  async update(client: Client, packet: StoredPacket): Promise<void> {
    const idKey = outgoingIdKey(client.id, packet.messageId);
    if (!('brokerId' in packet && 'messageId' in packet)) {
      const recorded = this.#delivered.get(idKey);
      if (recorded === undefined) throw new Error('unknown key');
      const tokens = recorded.split(':');
      packet.brokerId = tokens[tokens.length - 2];
      packet.brokerCounter = tokens[tokens.length - 1] as unknown as number;
    }
    const pkt = packetKey(packet.brokerId, packet.brokerCounter);
    if (packet.cmd && packet.cmd !== 'pubrel') {
      this.#delivered.set(idKey, pkt);
      if ((await this.#db.set(pkt, msgpack.encode(packet))) !== 'OK') throw new Error('no such packet');
      return;
    }
    // QoS 2 release: the session's entry now names its own copy (the PUBREL), at the end of the queue.
    const own = outgoingByBrokerKey(client.id, packet.brokerId, packet.brokerCounter);
    this.#delivered.set(idKey, own);
    const list = outgoingKey(client.id);
    if ((await this.#db.lrem(list, 1, pkt)) === 1) await this.#db.rpush(list, own);
    if ((await this.#db.set(own, msgpack.encode(packet))) !== 'OK') throw new Error('no such packet');
  }

  /** aedes-persistence-redis' outgoingClearMessageId, in one round trip: the packet acknowledged, if known. */
  async clear(client: Client, packet: StoredPacket): Promise<StoredPacket | undefined> {
    const idKey = outgoingIdKey(client.id, packet.messageId);
    const recorded = this.#delivered.get(idKey);
    this.#delivered.remove(idKey);
    if (recorded === undefined) return undefined;
    const tokens = recorded.split(':');
    const [brokerId, counter] = [tokens[tokens.length - 2], tokens[tokens.length - 1]];
    const buf = await this.#clear(
      outgoingKey(client.id),
      recorded,
      packetKey(brokerId, counter),
      countKey(brokerId, counter),
    );
    if (buf === null) return undefined;
    const acked = msgpack.decode(buf);
    acked.messageId = packet.messageId;
    return acked;
  }

  /**
   * A delivery Aedes dropped as out of order (deliver-past-dedupe.ts), sent again past `dedupe` if the session's
   * queue still holds it, instead of waiting for the session's next CONNECT. True if it was sent.
   */
  async sendDropped(client: DedupingClient, packet: StoredPacket): Promise<boolean> {
    if (!droppedAsOutOfOrder(client, packet)) return false;
    const queuedAt = await this.#db.lpos(
      outgoingKey(client.id),
      packetKey(packet.brokerId, packet.brokerCounter),
    );
    return queuedAt !== null && deliverPastDedupe(client, packet);
  }

  /**
   * Whether a packet this broker sent the client under this id is still unacknowledged. Ids given by another
   * broker of the cluster are not known here; a message that takes one of those is not queued (only queued
   * messages are numbered by `update`), so its PUBACK finds nothing to clear, and the queued one keeps its entry.
   */
  idInUse(clientId: string, messageId: number): boolean {
    return this.#delivered.has(outgoingIdKey(clientId, messageId));
  }

  /** The session's queue in order; entries whose packet is gone are dropped from the list. */
  async *stream(client: Client, max: number): AsyncGenerator<StoredPacket> {
    const list = outgoingKey(client.id);
    const keys = await this.#db.lrange(list, 0, max);
    for (let i = 0; i < keys.length; i += REPLAY_CHUNK) {
      const chunk = keys.slice(i, i + REPLAY_CHUNK);
      const values = await this.#db.mgetBuffer(...chunk);
      for (const [j, buf] of values.entries()) {
        if (buf === null) {
          void this.#db.lrem(list, 1, chunk[j] as string).catch(() => undefined);
          continue;
        }
        yield msgpack.decode(buf);
      }
    }
  }
}
