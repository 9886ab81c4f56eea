import { createRequire } from 'node:module';
import { Readable } from 'node:stream';
import { deliverPastDedupe, droppedAsOutOfOrder, type DedupingClient } from './deliver-past-dedupe.js';

/**
 * The broker's session store: aedes-persistence's in-memory store, with its outgoing queues replaced.
 *
 * Aedes keeps every QoS 1/2 message for a persistent session (clean = false, such as the ingest's) in
 * that client's outgoing queue from the moment it is published until the client acknowledges it. The
 * stock queue is an array: each PUBACK `splice`s its packet out (O(queue length)), and each delivery
 * scans from the front for its packet. Under load the queue holds everything still waiting for delivery
 * too — tens of thousands of messages — and the splice alone took a quarter of the broker's CPU at
 * 10,000 msg/s in the ingest bench. Here the same queue keeps its order in an array with lazy removal and
 * finds packets through two indexes, so both operations cost O(1) however long the queue is.
 *
 * The answers are the stock store's, operation by operation (the persistence contract suite that every
 * aedes-persistence backend runs is run against this one in test/persistence.test.ts):
 * - `outgoingUpdate` changes the first queued packet, in queue order, that is the same message (same
 *   broker id and broker counter) or, from another broker, has the same message id; the message id is
 *   set on the former, the latter is replaced (a PUBREL replacing its PUBLISH). None: "no such packet".
 * - `outgoingClearMessageId` removes and returns the first queued packet with that message id.
 */

/** The fields of an Aedes packet this store looks at; everything else travels along untouched. */
export interface OutgoingPacket {
  brokerId?: string | undefined;
  brokerCounter?: number | undefined;
  messageId?: number | undefined;
}

interface Subscriber {
  readonly clientId: string;
}

interface ClientRef {
  readonly id: string;
}

const require = createRequire(import.meta.url);
const MemoryPersistence = require('aedes-persistence/asyncPersistence.js') as (new () => object) & {
  Packet: new (original: object) => OutgoingPacket;
};
/** aedes-packet: the copy the stock store queues (fresh message id, broker id and counter kept). */
const { Packet } = MemoryPersistence;

interface Slot {
  /** Position in the queue: later slots have larger numbers. */
  readonly order: number;
  packet: OutgoingPacket;
  removed: boolean;
}

/** Dead slots tolerated in the array before it is compacted (and only when they outnumber the live ones). */
const COMPACT_AFTER_DEAD_SLOTS = 1024;

function insertInOrder(bucket: Slot[], slot: Slot): void {
  let i = bucket.length;
  while (i > 0 && (bucket[i - 1] as Slot).order > slot.order) i -= 1;
  bucket.splice(i, 0, slot);
}

function removeFrom(bucket: Slot[] | undefined, slot: Slot): number {
  if (bucket === undefined) return 0;
  const i = bucket.indexOf(slot);
  if (i >= 0) bucket.splice(i, 1);
  return bucket.length;
}

/** One client's outgoing queue. */
class OutgoingQueue {
  private slots: Slot[] = [];
  private head = 0;
  private live = 0;
  private nextOrder = 0;
  /** brokerId → brokerCounter → live slots of that message, in queue order. */
  private readonly byMessage = new Map<string | undefined, Map<number | undefined, Slot[]>>();
  /** messageId → live slots carrying it, in queue order (slots without a message id are not indexed). */
  private readonly byMessageId = new Map<number, Slot[]>();

  get length(): number {
    return this.live;
  }

  enqueue(packet: OutgoingPacket): void {
    const slot: Slot = { order: this.nextOrder++, packet, removed: false };
    this.slots.push(slot);
    this.live += 1;
    this.index(slot);
  }

  /** The stock store's outgoingUpdate; false when no queued packet matches. */
  update(packet: OutgoingPacket): boolean {
    if (packet.messageId === undefined) return this.updateByScan(packet);
    const same = this.byMessage.get(packet.brokerId)?.get(packet.brokerCounter)?.[0];
    let other: Slot | undefined;
    for (const slot of this.byMessageId.get(packet.messageId) ?? []) {
      if (slot.packet.brokerId !== packet.brokerId) {
        other = slot;
        break;
      }
    }
    if (same !== undefined && (other === undefined || same.order < other.order)) {
      this.setMessageId(same, packet.messageId);
      return true;
    }
    if (other !== undefined) {
      this.replace(other, packet);
      return true;
    }
    return false;
  }

  /** Whether exactly one copy of this message is queued and not yet sent: a lone copy Aedes did not deliver. */
  holdsLoneUnsent(packet: OutgoingPacket): boolean {
    const copies = this.byMessage.get(packet.brokerId)?.get(packet.brokerCounter) ?? [];
    return copies.filter((s) => s.packet.messageId === undefined).length === 1;
  }

  hasMessageId(messageId: number): boolean {
    return (this.byMessageId.get(messageId)?.length ?? 0) > 0;
  }

  /**
   * The stock store's outgoingClearMessageId, but a clear without a packet id (a delivery Aedes did not send:
   * lib/client.js `dedupe`) removes only a second unsent copy of the same message, never another message's: the
   * stock store removed the first unsent copy, a reading its device had been PUBACKed for (as the SQLite store,
   * outgoing-queue.ts `clearUnsent`). A lone copy stays queued, and `BrokerPersistence.outgoingClearMessageId` delivers it again at once.
   */
  clear(packet: OutgoingPacket | undefined): OutgoingPacket | undefined {
    const messageId = packet?.messageId;
    let slot: Slot | undefined;
    if (messageId !== undefined) slot = this.byMessageId.get(messageId)?.[0];
    else if (packet === undefined) slot = this.firstLive((s) => s.packet.messageId === undefined);
    else {
      const unsent = (this.byMessage.get(packet.brokerId)?.get(packet.brokerCounter) ?? []).filter(
        (s) => s.packet.messageId === undefined,
      );
      slot = unsent.length >= 2 ? unsent[unsent.length - 1] : undefined;
    }
    if (slot === undefined) return undefined;
    this.unindex(slot);
    slot.removed = true;
    this.live -= 1;
    while (this.head < this.slots.length && (this.slots[this.head] as Slot).removed) this.head += 1;
    const dead = this.slots.length - this.live;
    if (dead > COMPACT_AFTER_DEAD_SLOTS && dead > this.live) {
      this.slots = this.slots.filter((s) => !s.removed);
      this.head = 0;
    }
    return slot.packet;
  }

  packets(): OutgoingPacket[] {
    const out: OutgoingPacket[] = [];
    for (let i = this.head; i < this.slots.length; i += 1) {
      const slot = this.slots[i] as Slot;
      if (!slot.removed) out.push(slot.packet);
    }
    return out;
  }

  /** The stock algorithm, for an update without a message id (Aedes always sends one). */
  private updateByScan(packet: OutgoingPacket): boolean {
    const slot = this.firstLive((s) =>
      s.packet.brokerId === packet.brokerId
        ? s.packet.brokerCounter === packet.brokerCounter
        : s.packet.messageId === packet.messageId,
    );
    if (slot === undefined) return false;
    if (slot.packet.brokerId === packet.brokerId) this.setMessageId(slot, packet.messageId);
    else this.replace(slot, packet);
    return true;
  }

  private firstLive(match: (slot: Slot) => boolean): Slot | undefined {
    for (let i = this.head; i < this.slots.length; i += 1) {
      const slot = this.slots[i] as Slot;
      if (!slot.removed && match(slot)) return slot;
    }
    return undefined;
  }

  private setMessageId(slot: Slot, messageId: number | undefined): void {
    this.unindexMessageId(slot);
    slot.packet.messageId = messageId;
    this.indexMessageId(slot);
  }

  private replace(slot: Slot, packet: OutgoingPacket): void {
    this.unindex(slot);
    slot.packet = packet;
    this.index(slot);
  }

  private index(slot: Slot): void {
    const { brokerId, brokerCounter } = slot.packet;
    let counters = this.byMessage.get(brokerId);
    if (counters === undefined) {
      counters = new Map();
      this.byMessage.set(brokerId, counters);
    }
    const bucket = counters.get(brokerCounter);
    if (bucket === undefined) counters.set(brokerCounter, [slot]);
    else insertInOrder(bucket, slot);
    this.indexMessageId(slot);
  }

  private unindex(slot: Slot): void {
    const { brokerId, brokerCounter } = slot.packet;
    const counters = this.byMessage.get(brokerId);
    if (removeFrom(counters?.get(brokerCounter), slot) === 0) {
      counters?.delete(brokerCounter);
      if (counters?.size === 0) this.byMessage.delete(brokerId);
    }
    this.unindexMessageId(slot);
  }

  private indexMessageId(slot: Slot): void {
    const { messageId } = slot.packet;
    if (messageId === undefined) return;
    const bucket = this.byMessageId.get(messageId);
    if (bucket === undefined) this.byMessageId.set(messageId, [slot]);
    else insertInOrder(bucket, slot);
  }

  private unindexMessageId(slot: Slot): void {
    const { messageId } = slot.packet;
    if (messageId === undefined) return;
    if (removeFrom(this.byMessageId.get(messageId), slot) === 0) this.byMessageId.delete(messageId);
  }
}

/** Pass as Aedes' `persistence` option. Everything but the outgoing queues is the stock in-memory store. */
export class BrokerPersistence extends MemoryPersistence {
  readonly #outgoing = new Map<string, OutgoingQueue>();

  outgoingEnqueue(sub: Subscriber, packet: object): Promise<void> {
    this.#enqueue(sub.clientId, packet);
    return Promise.resolve();
  }

  outgoingEnqueueCombi(subs: readonly Subscriber[], packet: object): Promise<void> {
    for (const sub of subs) this.#enqueue(sub.clientId, packet);
    return Promise.resolve();
  }

  outgoingUpdate(client: ClientRef, packet: OutgoingPacket): Promise<void> {
    return this.#outgoing.get(client.id)?.update(packet)
      ? Promise.resolve()
      : Promise.reject(new Error('no such packet'));
  }

  outgoingClearMessageId(client: ClientRef, packet: OutgoingPacket): Promise<OutgoingPacket | undefined> {
    const queue = this.#outgoing.get(client.id);
    // The contract suite passes a bare number here; like the stock store, that is "no message id" of no message.
    const cleared = queue?.clear(typeof packet === 'object' ? packet : undefined);
    if (queue?.length === 0) this.#outgoing.delete(client.id);
    // A lone copy Aedes dropped as out of order: delivered again now (deliver-past-dedupe.ts), not at the next connect.
    const live = client as DedupingClient;
    if (
      cleared === undefined &&
      typeof packet === 'object' &&
      packet.messageId === undefined &&
      queue?.holdsLoneUnsent(packet) === true &&
      droppedAsOutOfOrder(live, packet)
    ) {
      setImmediate(() => {
        if (queue.holdsLoneUnsent(packet)) deliverPastDedupe(live, packet);
      });
    }
    return Promise.resolve(cleared);
  }

  outgoingIdInUse(clientId: string, messageId: number): boolean {
    return this.#outgoing.get(clientId)?.hasMessageId(messageId) ?? false;
  }

  outgoingStream(client: ClientRef): Readable {
    return Readable.from(this.#outgoing.get(client.id)?.packets() ?? []);
  }

  #enqueue(clientId: string, packet: object): void {
    let queue = this.#outgoing.get(clientId);
    if (queue === undefined) {
      queue = new OutgoingQueue();
      this.#outgoing.set(clientId, queue);
    }
    queue.enqueue(new Packet(packet));
  }
}
