import type { Aedes, PublishPacket } from 'aedes';
import type { InternalPublish } from './aedes-hooks.js';

/**
 * Publishes a stored will under this broker's identity.
 *
 * Aedes names every message it publishes by the broker that published it and that broker's running count
 * (aedes-packet: `brokerId`, `brokerCounter`). Two things rely on that pair being one message of one broker:
 * - each client's duplicate filter keeps, per broker id, the highest count delivered to it and drops a
 *   message that is not above it (lib/client.js `dedupe`) — a high-water mark per publishing broker;
 * - the session stores key queued messages by it (aedes-persistence-redis
 *   `packet:{brokerId}:{brokerCounter}`; our in-memory and SQLite stores index them by it too:
 *   persistence.ts, outgoing-queue.ts).
 *
 * A will is the exception. The store keeps it with the id of the broker its client was connected to
 * (aedes-persistence `putWill`), and when another broker publishes it — the will pass (aedes.js
 * `_clearWills`) publishes the wills of every broker whose heartbeats stopped, or of this broker's previous
 * start — `new Packet(will, broker)` keeps that stored id and takes the publishing broker's count. The pair
 * then names a message the other broker never sent:
 * - every persistent session it reaches takes the publisher's count as the other broker's high-water mark. A
 *   broker counted out without having died (its heartbeats lost while Redis was away, or late under load)
 *   goes on publishing with a lower count, and all of it is dropped as a duplicate for that session: the
 *   copies stay queued but are not delivered until the session reconnects. After the Redis restart of
 *   test/cluster.e2e.test.ts, a broker published the other's wills this way and the mark of two ingest
 *   partitions for the other broker went from 259 to 2937;
 * - the will is queued under the other broker's key for that count, overwriting the message the other broker
 *   queued under it if that one is still waiting, and the reading it held is gone.
 *
 * So a packet that comes to `publish` carrying another broker's id — only a stored will does; a device's
 * PUBLISH and Aedes' own messages carry none, and this broker's own wills carry its id and no count — is
 * published as a copy without the id and count, which Aedes then gives this broker's. The will itself is left
 * as it is: Aedes deletes it afterwards by the stored id (`delWill`), and the gates before this one
 * (cluster-clients.ts `installStaleWillGate`, aedes-hooks.ts `installDropGate`) recognise it by identity.
 * Install before them, so that it runs last. broker/test/will-identity.test.ts pins both effects with two
 * brokers on a real Redis.
 */
export function installWillIdentity(aedes: Aedes): void {
  const target = aedes as unknown as { publish: InternalPublish };
  const publish = target.publish.bind(aedes);
  target.publish = (packet, client, done) => {
    const from = (packet as StoredPacket).brokerId;
    if (from === undefined || from === null || from === aedes.id) {
      publish(packet, client, done);
      return;
    }
    const { brokerId: _id, brokerCounter: _counter, ...message } = packet as StoredPacket;
    publish(message, client, done);
  };
}

type StoredPacket = PublishPacket & { brokerId?: unknown; brokerCounter?: unknown };
