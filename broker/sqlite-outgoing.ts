import { createRequire } from 'node:module';
import { Readable } from 'node:stream';
import type { Claim } from './handoff.js';
import { OutgoingQueue, type Slot } from './outgoing-queue.js';
import type { BrokerRef, ClientRef, StoredPacket, SubscriberRef } from './persistence-port.js';
import { plain, type StatementName } from './session-schema.js';
import { SessionHandoff } from './session-handoff.js';
import type { SessionWriter } from './session-writer.js';

/**
 * The outgoing queues of the SQLite session store (persistence-sqlite.ts): the QoS 1/2 copies queued for each
 * persistent session, one OutgoingQueue per client in memory and one `outgoing` row per copy in the file, written
 * through the store's writer (session-writer.ts) — at once, or only if the session has not acknowledged the copy
 * within the hand-off window (session-handoff.ts). The store loads the rows on open and hands them over
 * (`restore`); Aedes' `outgoing…` calls reach here through the store, which answers them as the stock store does.
 *
 * Pinned by broker/test/persistence-sqlite.test.ts (the same answers as the stock store across restarts; a
 * resolved enqueue is in the file, a PUBACK's delete follows with the next commit), broker/test/handoff.test.ts
 * (enqueues resolve in order; a lone unsent copy is sent again), broker/test/outgoing-queue.test.ts (a client's
 * queue) and broker/test/unused-packet-ids.test.ts (no packet id a queued reading still carries is given out).
 */

const require = createRequire(import.meta.url);

interface AedesPacketConstructor {
  /** aedes-packet: copies a packet, keeping broker id and counter, clearing the packet id of QoS > 0. */
  new (original: object, broker?: BrokerRef): StoredPacket;
}
export const { Packet } = require('aedes-persistence/asyncPersistence.js') as {
  Packet: AedesPacketConstructor;
};

/** What `#sendAgain` uses of an Aedes client (lib/client.js). */
interface LiveClient {
  readonly closed: boolean;
  deliverQoS(packet: StoredPacket, done: () => void): void;
}

/** A copy read from the file on open: its session and its slot. */
export interface LoadedSlot {
  readonly clientId: string;
  readonly slot: Slot;
}

export class SqliteOutgoing {
  readonly #writer: SessionWriter<StatementName>;
  /** Copies that wait for their subscriber's PUBACK instead of the file (session-handoff.ts); none if 0 ms. */
  readonly #handoff: SessionHandoff | undefined;
  readonly #outgoing = new Map<string, OutgoingQueue>();
  #nextSeq = 1;
  /** Settles when the latest enqueue waiting for a commit has resolved (or failed); see `#inOrder`. */
  #committing: Promise<void> | undefined;
  #broker: BrokerRef | undefined;

  /** `handoffMs`: SqlitePersistenceOptions.handoffMs (0: every copy is written at once). */
  constructor(writer: SessionWriter<StatementName>, handoffMs: number) {
    this.#writer = writer;
    this.#handoff =
      handoffMs > 0
        ? new SessionHandoff(handoffMs, ({ slot, clientId, row }) =>
            this.#writer.write('insertOutgoing', slot.seq, clientId, slot.packet.messageId ?? null, row),
          )
        : undefined;
  }

  /** Queues a copy read from the file on open (in seq order); later copies are numbered after it. */
  restore({ clientId, slot }: LoadedSlot): void {
    this.#queue(clientId).enqueue(slot);
    this.#nextSeq = slot.seq + 1;
  }

  /** SqlitePersistence.setup: Aedes' broker, for the hand-off and for `#sendAgain`. */
  attach(broker: BrokerRef): void {
    this.#broker = broker;
    this.#handoff?.attach(broker, (clientId) => this.#outgoing.has(clientId));
  }

  /** SqlitePersistence.owned (session-handoff.ts). */
  owned(packet: { payload?: unknown }): Promise<void> | undefined {
    return this.#handoff?.owned(packet);
  }

  /** Writes every copy still waiting for its subscriber (the store is closing). */
  flushAll(): void {
    this.#handoff?.flushAll();
  }

  enqueue(subs: readonly SubscriberRef[], original: StoredPacket): Promise<void> {
    return this.#inOrder(this.#enqueue(subs, original));
  }

  /**
   * Resolves no earlier than every enqueue before it: Aedes delivers messages in the order their enqueues
   * resolve, and a client drops a delivery whose message count is not above the highest it has been delivered
   * (lib/client.js `dedupe`, meant for overlapping subscriptions), then clears the first queued copy without a
   * packet id (the copy it did not send). A handed-off copy resolves at once, a written one at its commit; when
   * a handed-off copy overtook one still being committed — the session back from a disconnect, or at the end of
   * a window in which it lagged (handoff.ts) — the earlier message never reached the session and its queued copy
   * was removed, after its device had been PUBACKed: readings lost in `npm run bench:drain` (ingest paused past
   * its keep-alive). An enqueue waits only while an earlier one is being committed; in steady hand-off none is.
   * Pinned by broker/test/handoff.test.ts ("an earlier message still waits for its commit").
   */
  #inOrder(enqueued: Promise<void> | undefined): Promise<void> {
    const before = this.#committing;
    let after: Promise<void>;
    if (before === undefined) {
      if (enqueued === undefined) return Promise.resolve();
      after = enqueued;
    } else if (enqueued === undefined) {
      after = before;
    } else {
      // Chained even though commits resolve in order: a handed-off copy waiting for an earlier commit of the same
      // group resolves a few microtasks after it, so after later commits of that group too.
      enqueued.catch(() => undefined); // refused at once (store closing): not unhandled while it waits its turn
      after = before.then(() => enqueued);
    }
    const settled = after.then(
      () => undefined,
      () => undefined,
    );
    this.#committing = settled;
    void settled.then(() => {
      if (this.#committing === settled) this.#committing = undefined;
    });
    return after;
  }

  /** Queues the copies; the commit of those written now, or undefined when none is (all handed off). */
  #enqueue(subs: readonly SubscriberRef[], original: StoredPacket): Promise<void> | undefined {
    if (subs.length === 0) return undefined;
    let row: object | undefined;
    let committed: Promise<void> | undefined;
    let claim: Claim | undefined;
    for (const sub of subs) {
      const packet = new Packet(original);
      // aedes-packet copies data fields only; one copy of the row for every subscriber of the message.
      row ??= { ...packet };
      const slot: Slot = { seq: this.#nextSeq++, packet };
      this.#queue(sub.clientId).enqueue(slot);
      // A deferred copy resolves now, so that Aedes goes on to deliver it; the device's PUBACK waits for the claim.
      const deferred = this.#handoff?.defer(claim, { slot, clientId: sub.clientId, row });
      if (deferred !== undefined) {
        claim = deferred;
        continue;
      }
      // All in the same batch: one promise.
      committed = this.#writer.write('insertOutgoing', slot.seq, sub.clientId, null, row);
    }
    if (claim !== undefined) {
      this.#handoff?.seal(original.payload as object, claim, committed);
      return undefined;
    }
    return committed;
  }

  handOffOnlyTo(accept: (client: object) => boolean): void {
    this.#handoff?.only(accept);
  }

  update(client: ClientRef, packet: StoredPacket): Promise<void> {
    const change = this.#outgoing.get(client.id)?.update(packet);
    if (change === undefined) return Promise.reject(new Error('no such packet'));
    const { seq } = change.slot;
    const messageId = change.slot.packet.messageId ?? null;
    const handedOff = this.#handoff?.waiting(change.slot);
    if (handedOff !== undefined) {
      // Not in the file: if it is written after all, it is written as it is then.
      if (change.kind === 'replaced') handedOff.row = plain(packet);
      return Promise.resolve();
    }
    if (change.kind === 'messageId') {
      this.#writer.writeBehind('setOutgoingMessageId', messageId, seq);
    } else {
      this.#writer.writeBehind('replaceOutgoing', messageId, plain(packet), seq);
    }
    return Promise.resolve();
  }

  clearMessageId(client: ClientRef, packet: StoredPacket | number): Promise<StoredPacket | undefined> {
    const queue = this.#outgoing.get(client.id);
    // No packet id: a delivery Aedes did not send (outgoing-queue.ts `clearUnsent`). The contract suite passes a
    // bare number; like the stock store, that is "no packet id" of no message.
    const slot =
      typeof packet !== 'object'
        ? queue?.clear(undefined)
        : packet.messageId === undefined
          ? queue?.clearUnsent(packet)
          : queue?.clear(packet.messageId);
    if (queue?.size === 0) this.#outgoing.delete(client.id);
    if (slot === undefined) {
      if (typeof packet === 'object' && packet.messageId === undefined)
        this.#sendAgain(client, queue, packet);
      return Promise.resolve(undefined);
    }
    // Acknowledged within the hand-off window: never written, nothing to delete.
    if (this.#handoff?.acknowledged(slot) !== true) this.#writer.writeBehind('deleteOutgoing', slot.seq);
    return Promise.resolve(slot.packet);
  }

  /**
   * A lone copy Aedes did not send because an earlier-counted message reached the session after a later one
   * (`clearUnsent`): sent again now, under a new count, so that Aedes' `dedupe` lets it through, instead of
   * waiting for the session's next connect. That happens to a retained message (a device's `offline` status):
   * Aedes commits it to the retained store before delivering it, and readings published during the commit go
   * first. Pinned by broker/test/handoff.test.ts ("a retained status is still being committed").
   */
  #sendAgain(client: ClientRef, queue: OutgoingQueue | undefined, packet: StoredPacket): void {
    const slot = queue?.loneUnsent(packet);
    const broker = this.#broker as { id: string; counter?: number } | undefined;
    const live = client as Partial<LiveClient>;
    if (slot === undefined || broker === undefined || typeof broker.counter !== 'number') return;
    if (typeof live.deliverQoS !== 'function' || live.closed === true) return;
    broker.counter += 1;
    queue?.renumber(slot, broker.id, broker.counter);
    // Sent because it matches an established subscription: RETAIN 0 [MQTT-3.3.1-9]. Aedes also records the packet
    // id of a non-retained delivery only (lib/client.js `deliverQoS`), so only then does the PUBACK clear it.
    slot.packet.retain = false;
    setImmediate(() => {
      if (live.closed !== true) live.deliverQoS?.(slot.packet, () => undefined);
    });
  }

  idInUse(clientId: string, messageId: number): boolean {
    return this.#outgoing.get(clientId)?.hasMessageId(messageId) ?? false;
  }

  stream(client: ClientRef): Readable {
    return Readable.from(this.#outgoing.get(client.id)?.packets() ?? []);
  }

  /** How many copies are queued, for every session. */
  queuedCount(): number {
    let count = 0;
    for (const queue of this.#outgoing.values()) count += queue.size;
    return count;
  }

  #queue(clientId: string): OutgoingQueue {
    let queue = this.#outgoing.get(clientId);
    if (queue === undefined) {
      queue = new OutgoingQueue();
      this.#outgoing.set(clientId, queue);
    }
    return queue;
  }
}
