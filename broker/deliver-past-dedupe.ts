/**
 * Aedes delivers a message to a session only if its count is above the highest it has delivered to that session
 * from the same broker (lib/client.js `dedupe`, meant for a message matching two of a session's subscriptions).
 * A message whose enqueue finished after a later one's reaches the session after it and is dropped: Aedes then
 * calls the store's `outgoingClearMessageId` without a packet id, and a persistent session's queued copy stays
 * queued until the session's next CONNECT, whose replay skips `dedupe` (lib/handlers/connect.js `emptyQueue`).
 * For the ingest, which stays connected, that can be days.
 *
 * The SQLite store sends such a copy again under a new count (sqlite-outgoing.ts `#sendAgain`). A store whose
 * renumbering takes round trips cannot: newer messages reach the session meanwhile and the renumbered copy is
 * dropped again. So the copy is delivered as the connect replay delivers it, past `dedupe`, with its own count:
 * the session's mark for that broker is lowered below it for the one synchronous call that checks it, and put
 * back. Sent because it matches an established subscription, with RETAIN 0 [MQTT-3.3.1-9]; Aedes records the
 * packet id of a non-retained delivery only (lib/client.js `deliverQoS`), so only then does the PUBACK clear it.
 * Pinned by broker/test/redis-outgoing.test.ts ("dropped as out of order").
 */

/** What this reads of a queued packet: Aedes' publishing broker and its count (aedes-packet). */
export interface CountedPacket {
  readonly brokerId?: string | undefined;
  readonly brokerCounter?: number | undefined;
}

/** What this uses of an Aedes client (lib/client.js). */
export interface DedupingClient {
  readonly id: string;
  readonly closed?: boolean;
  /** Per publishing broker id: the highest count delivered to this session. */
  readonly duplicates?: Record<string, number>;
  deliverQoS?(packet: object, done: () => void): void;
}

/**
 * Whether Aedes dropped this delivery as older than one the connected session already got from the same broker
 * (not a second copy of the message it let through last, which is what `dedupe` is for).
 */
export function droppedAsOutOfOrder(client: DedupingClient, packet: CountedPacket): boolean {
  const brokerId = packet.brokerId;
  const counter = Number(packet.brokerCounter);
  if (typeof brokerId !== 'string' || !Number.isFinite(counter)) return false;
  if (client.closed === true || typeof client.deliverQoS !== 'function') return false;
  const high = client.duplicates?.[brokerId];
  return high !== undefined && counter < high;
}

/** Delivers `packet` to the connected session past `dedupe` (see above); false if the session is gone. */
export function deliverPastDedupe(client: DedupingClient, packet: CountedPacket): boolean {
  const brokerId = packet.brokerId;
  const marks = client.duplicates;
  if (typeof brokerId !== 'string' || marks === undefined) return false;
  if (client.closed === true || typeof client.deliverQoS !== 'function') return false;
  const counter = Number(packet.brokerCounter);
  const high = marks[brokerId] ?? 0;
  marks[brokerId] = counter - 1;
  try {
    client.deliverQoS({ ...packet, retain: false }, () => undefined);
  } finally {
    marks[brokerId] = Math.max(high, marks[brokerId] ?? 0);
  }
  return true;
}
