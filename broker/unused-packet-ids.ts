import type { Aedes, Client } from 'aedes';

/** A session store that can say whether a packet id is taken by a message queued for a client. */
export interface PacketIdsInUse {
  outgoingIdInUse(clientId: string, messageId: number): boolean;
}

export const tracksPacketIds = (persistence: object): persistence is PacketIdsInUse =>
  typeof (persistence as Partial<PacketIdsInUse>).outgoingIdInUse === 'function';

/** Packet ids are 1–65535 [MQTT-2.3.1-1]. */
const MAX_PACKET_ID = 65_535;

/**
 * A packet id Aedes gives out to a persistent session is one no message queued for that session still carries.
 *
 * MQTT 3.1.1 § 2.3.1: a server sending a QoS 1 or 2 PUBLISH "MUST assign it a currently unused Packet
 * Identifier" [MQTT-2.3.1-2], and it resends unacknowledged messages with their original ids on reconnect
 * [MQTT-4.4.0-1]. Aedes 1.2 does the second (lib/qos-packet.js keeps a stored packet's `messageId`) but not the
 * first: each connection counts from a random start (lib/client.js `_nextId`) without looking at the ids its
 * session's queue still holds from the connection before. A message delivered without being queued — a retained
 * message sent for a SUBSCRIBE — can then take the id of a queued reading, and its PUBACK clears that reading
 * (the store clears the first queued packet with the acknowledged id, as aedes-persistence does): the reading was
 * never delivered on this connection, it is gone from the queue, and Aedes' replay then fails on it ("no such
 * packet") and closes the connection.
 *
 * That is how `npm run bench:drain` (SQLite sessions, ingest paused past its keep-alive) lost 200 of 50,000
 * PUBACKed readings in 4 of 13 runs: on reconnect the ingest subscribes again, the broker sends the 200
 * devices' retained `status` messages, and one run of consecutive ids among them cleared 200 consecutive queued
 * readings (ten per device of twenty devices) that still had those ids from the connection the broker had
 * dropped.
 *
 * So each client's `_nextId` becomes an accessor that steps past ids in use for its session, as its store says
 * (SQLite and in-memory: the queue's id index; Redis: the ids this broker handed out and has not seen acknowledged,
 * redis-outgoing.ts). Live deliveries to a persistent session are queued before Aedes numbers them, but without an
 * id until then, so they never block themselves. Clean sessions keep no queue and are left alone. Pinned by
 * broker/test/unused-packet-ids.test.ts on the SQLite and in-memory stores (each fails without this: the reading
 * is not redelivered); the same case on Redis failed without it and passed with it, but is not in the suite: its
 * first connection sometimes missed a live reading before the packet ids come into play.
 */
export function installUnusedPacketIds(aedes: Aedes, ids: PacketIdsInUse): void {
  const target = aedes as unknown as {
    preConnect: (client: Client, packet: { clean?: boolean }, done: (...a: unknown[]) => void) => void;
  };
  const preConnect = target.preConnect.bind(aedes);
  target.preConnect = (client, packet, done) => {
    if (packet.clean === false) stepPastUsedIds(client, ids);
    preConnect(client, packet, done);
  };
}

function stepPastUsedIds(client: Client, ids: PacketIdsInUse): void {
  const c = client as unknown as { _nextId: number; id: string };
  let next = c._nextId;
  Object.defineProperty(c, '_nextId', {
    configurable: true,
    enumerable: true,
    get(): number {
      // Bounded: with all 65,535 ids queued, the next one is reused, as Aedes always did.
      for (let i = 0; i < MAX_PACKET_ID && ids.outgoingIdInUse(c.id, next); i++) {
        next = next >= MAX_PACKET_ID ? 1 : next + 1;
      }
      return next;
    },
    set(value: number) {
      next = value;
    },
  });
}
