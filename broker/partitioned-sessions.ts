import type { Aedes } from 'aedes';
import { devicePartition, parsePartitionClientId, parseTopic } from '../core/contracts/index.js';
import type { AedesPersistence, MatchedSubscription } from './persistence-port.js';

/**
 * Ingest partitions in the broker (core/contracts/ingest-partitions.ts): a session whose client id names
 * partition k of n receives, of what its subscriptions match, only the messages of devices in partition k;
 * a topic without a device id goes to partition 0. Aedes has no shared subscriptions, and MQTT 5's
 * `$share/{group}/…` would put the choice of member in every publish and strand a dead member's queue; a
 * partition is an ordinary persistent session instead, so its backlog survives its worker and is replayed to
 * whichever worker connects it next.
 *
 * Two places decide who gets a QoS 1 copy, and both are filtered the same way:
 * - `persistence.subscriptionsByTopic`: the sessions a copy is queued for (stored before the PUBACK,
 *   publish-before-ack.ts), connected or not;
 * - Aedes' `authorizeForward`: the live delivery through the emitter to a connected session, and the
 *   retained messages sent on SUBSCRIBE.
 * broker/test/partitioned-sessions.test.ts pins both on one broker; test/cluster.e2e.test.ts across brokers.
 */
export function installPartitionedSessions(aedes: Aedes, persistence: AedesPersistence): void {
  const byTopic = persistence.subscriptionsByTopic.bind(persistence);
  persistence.subscriptionsByTopic = async (topic: string): Promise<MatchedSubscription[]> => {
    const subs = await byTopic(topic);
    return subs.some((s) => partitionOf(s.clientId) !== undefined)
      ? subs.filter((s) => receives(s.clientId, topic))
      : subs;
  };
  const forward = aedes.authorizeForward.bind(aedes);
  aedes.authorizeForward = (client, packet) =>
    receives(client.id, packet.topic) ? forward(client, packet) : null;
}

/** Parsed partition client ids; a broker sees a handful of them, and every other client id once. */
const parsed = new Map<string, ReturnType<typeof parsePartitionClientId>>();
const MAX_PARSED = 10_000;

function partitionOf(clientId: string): ReturnType<typeof parsePartitionClientId> {
  if (parsed.has(clientId)) return parsed.get(clientId);
  const p = parsePartitionClientId(clientId);
  if (parsed.size >= MAX_PARSED) parsed.clear();
  parsed.set(clientId, p);
  return p;
}

/** Whether the session `clientId` gets the messages published on `topic`. */
export function receives(clientId: string, topic: string): boolean {
  const p = partitionOf(clientId);
  if (p === undefined) return true;
  const deviceId = parseTopic(topic)?.deviceId;
  return deviceId === undefined ? p.partition === 0 : devicePartition(deviceId, p.partitions) === p.partition;
}
