import type { StoredPacket } from './persistence-port.js';

/**
 * The QoS 1/2 packets queued for one client in the SQLite session store (persistence-sqlite.ts), answering as
 * aedes-persistence's memory store does with its array, but in O(1) per operation.
 *
 * Every message the broker delivers to a persistent session passes through here three times (enqueue, the
 * packet id Aedes gives it, the PUBACK that clears it), on the event loop Aedes and the ingest share, and these
 * operations were the store's largest share of that loop in `npm run bench:ingest` (CPU profile). So a key's
 * only slot is kept as itself (no Set and bucket per message id and per message), a Set only once a second
 * slot shares the key (a packet id given out again; every slot not yet given one), and a slot remembers its
 * message key instead of building it again on removal. Answers, including queue order, are checked against
 * the stock store by broker/test/persistence-sqlite.test.ts (with restarts in between) and the shared-key
 * paths by broker/test/outgoing-queue.test.ts.
 */
export interface Slot {
  /** The row's key in `outgoing`; later packets have larger numbers. */
  readonly seq: number;
  packet: StoredPacket;
  /** messageKey(packet) as of indexing (the broker id and counter of a slot's packet change only by replacement). */
  key?: string;
}

/** Two or more slots of one key: a Set (insertion order is seq order, delete is O(1)) and its largest seq. */
interface Bucket {
  slots: Set<Slot>;
  lastSeq: number;
}

/**
 * Key → the slots carrying it, in queue (seq) order: the slot itself while it is the only one, else a Bucket
 * (every slot not yet given a packet id shares the key `undefined`: thousands of them under load).
 */
class OrderedIndex<K> {
  readonly #entries = new Map<K, Slot | Bucket>();

  /** Every slot of `key`, in queue order. */
  *all(key: K): Generator<Slot> {
    const entry = this.#entries.get(key);
    if (entry === undefined) return;
    if (!('slots' in entry)) yield entry;
    else yield* entry.slots;
  }

  first(key: K): Slot | undefined {
    const entry = this.#entries.get(key);
    if (entry === undefined || !('slots' in entry)) return entry;
    return entry.slots.values().next().value;
  }

  /** The first slot of `key`, in queue order, whose packet another broker sent. */
  firstNotFrom(key: K, brokerId: unknown): Slot | undefined {
    const entry = this.#entries.get(key);
    if (entry === undefined) return undefined;
    if (!('slots' in entry)) return entry.packet.brokerId !== brokerId ? entry : undefined;
    for (const slot of entry.slots) if (slot.packet.brokerId !== brokerId) return slot;
    return undefined;
  }

  add(key: K, slot: Slot): void {
    const entry = this.#entries.get(key);
    if (entry === undefined) {
      this.#entries.set(key, slot);
    } else if (!('slots' in entry)) {
      const [a, b] = entry.seq < slot.seq ? [entry, slot] : [slot, entry];
      this.#entries.set(key, { slots: new Set([a, b]), lastSeq: b.seq });
    } else if (slot.seq > entry.lastSeq) {
      entry.slots.add(slot);
      entry.lastSeq = slot.seq;
    } else {
      // An earlier packet newly carrying this key (a packet id given out again): rare, so re-sort.
      entry.slots = new Set([...entry.slots, slot].sort((x, y) => x.seq - y.seq));
    }
  }

  remove(key: K, slot: Slot): void {
    const entry = this.#entries.get(key);
    if (entry === slot) {
      this.#entries.delete(key);
    } else if (
      entry !== undefined &&
      'slots' in entry &&
      entry.slots.delete(slot) &&
      entry.slots.size === 0
    ) {
      this.#entries.delete(key);
    }
  }
}

/** Same message: same broker id and counter (the types too, as the stock store compares them). */
const messageKey = (packet: StoredPacket): string =>
  `${typeof packet.brokerId}:${String(packet.brokerId)}/${typeof packet.brokerCounter}:${String(packet.brokerCounter)}`;

export type OutgoingChange =
  { readonly kind: 'messageId'; readonly slot: Slot } | { readonly kind: 'replaced'; readonly slot: Slot };

/**
 * One client's queue:
 * - `update` changes the first packet, in queue order, that is the same message (same broker id and
 *   counter: its packet id is set) or comes from another broker with the same packet id (it is replaced,
 *   as a PUBREL replaces its PUBLISH);
 * - `clear` removes the first packet with that packet id.
 */
export class OutgoingQueue {
  /** seq → slot; a Map iterates in insertion order, which is seq order. */
  readonly #slots = new Map<number, Slot>();
  readonly #byMessageId = new OrderedIndex<number | undefined>();
  readonly #byMessage = new OrderedIndex<string>();

  get size(): number {
    return this.#slots.size;
  }

  enqueue(slot: Slot): void {
    this.#slots.set(slot.seq, slot);
    this.#index(slot);
  }

  update(packet: StoredPacket): OutgoingChange | undefined {
    const same = this.#byMessage.first(messageKey(packet));
    const other = this.#byMessageId.firstNotFrom(packet.messageId, packet.brokerId);
    if (same !== undefined && (other === undefined || same.seq < other.seq)) {
      this.#byMessageId.remove(same.packet.messageId, same);
      same.packet.messageId = packet.messageId;
      this.#byMessageId.add(same.packet.messageId, same);
      return { kind: 'messageId', slot: same };
    }
    if (other !== undefined) {
      this.#unindex(other);
      other.packet = packet;
      this.#index(other);
      return { kind: 'replaced', slot: other };
    }
    return undefined;
  }

  clear(messageId: number | undefined): Slot | undefined {
    const slot = this.#byMessageId.first(messageId);
    if (slot === undefined) return undefined;
    this.#unindex(slot);
    this.#slots.delete(slot.seq);
    return slot;
  }

  /**
   * Aedes' clear for a delivery it did not send (lib/client.js `deliverQoS`: deduplicated or not authorised; the
   * packet carries no packet id): removes a second copy of the same message not yet sent (two overlapping
   * subscriptions queued two), never another message's copy — as `clear(undefined)` would, the stock store's
   * answer: a partition session's copy of its own device, or, when Aedes took a message for a duplicate because
   * a later one reached the session first, a reading the session never got. A lone copy stays queued and is
   * sent when the session next connects. Pinned by broker/test/outgoing-queue.test.ts.
   */
  clearUnsent(packet: StoredPacket): Slot | undefined {
    const { unsent, count } = this.#unsentCopies(packet);
    if (unsent === undefined || count < 2) return undefined;
    this.#unindex(unsent);
    this.#slots.delete(unsent.seq);
    return unsent;
  }

  /** The one copy of `packet`'s message not yet sent, when it is the only one (the copy `clearUnsent` keeps). */
  loneUnsent(packet: StoredPacket): Slot | undefined {
    const { unsent, count } = this.#unsentCopies(packet);
    return count === 1 ? unsent : undefined;
  }

  /** The copies of `packet`'s message not yet given a packet id: how many, and the last in queue order. */
  #unsentCopies(packet: StoredPacket): { unsent: Slot | undefined; count: number } {
    let unsent: Slot | undefined;
    let count = 0;
    for (const slot of this.#byMessage.all(messageKey(packet))) {
      if (slot.packet.messageId !== undefined) continue;
      unsent = slot;
      count += 1;
    }
    return { unsent, count };
  }

  /** Gives a queued packet another broker id and count (another message key); its place in the queue stays. */
  renumber(slot: Slot, brokerId: string, brokerCounter: number): void {
    this.#unindex(slot);
    slot.packet.brokerId = brokerId;
    slot.packet.brokerCounter = brokerCounter;
    this.#index(slot);
  }

  /** Whether a queued packet carries this packet id (broker/unused-packet-ids.ts). */
  hasMessageId(messageId: number): boolean {
    return this.#byMessageId.first(messageId) !== undefined;
  }

  packets(): StoredPacket[] {
    return Array.from(this.#slots.values(), (slot) => slot.packet);
  }

  #index(slot: Slot): void {
    const key = messageKey(slot.packet);
    slot.key = key;
    this.#byMessage.add(key, slot);
    this.#byMessageId.add(slot.packet.messageId, slot);
  }

  #unindex(slot: Slot): void {
    this.#byMessage.remove(slot.key ?? messageKey(slot.packet), slot);
    this.#byMessageId.remove(slot.packet.messageId, slot);
  }
}
