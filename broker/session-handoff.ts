import type { EventEmitter } from 'node:events';
import { Claim, HandoffWindow } from './handoff.js';
import type { Slot } from './outgoing-queue.js';
import type { BrokerRef, ClientRef } from './persistence-port.js';

/**
 * The hand-off (handoff.ts) wired into the SQLite session store (persistence-sqlite.ts): which queued copies
 * may wait for their subscriber's PUBACK instead of the file, the claim each device's PUBACK waits for
 * (publish-before-ack.ts reads it through `owned`), and the copies written after all — past the window, when
 * their session disconnects, when the store closes. Pinned by broker/test/handoff.test.ts and
 * test/paho-interop.e2e.test.ts (s4_4: only the ingest's session takes copies over).
 */

/** A copy waiting for its subscriber's PUBACK: what its `outgoing` row needs if it is written after all. */
export interface HandedOff {
  readonly slot: Slot;
  readonly clientId: string;
  row: object;
}

/**
 * Whether a message's copies may wait for their subscribers: its claim is found by its payload object, so only
 * a non-empty Buffer (one per PUBLISH parsed; an empty one might be a shared constant) qualifies.
 */
const handsOff = (payload: unknown): payload is Buffer => Buffer.isBuffer(payload) && payload.length > 0;

/** Aedes' map of connected clients (Aedes 1.2 `broker.clients`), read to defer only copies for live sessions. */
type BrokerClients = { readonly clients?: Readonly<Record<string, object>> };

export class SessionHandoff {
  readonly #window: HandoffWindow<Slot, HandedOff>;
  /**
   * The claim of each message with a copy handed off, by its payload: the one object the client's PUBLISH
   * packet, Aedes' copy of it (aedes-packet keeps `payload` by reference) and the queued copies share.
   */
  readonly #claims = new WeakMap<object, Claim>();
  #accept: (client: object) => boolean = () => true;
  #broker: BrokerClients | undefined;

  /** `write(copy)` queues the copy's `outgoing` row and resolves once it is committed. */
  constructor(windowMs: number, write: (copy: HandedOff) => Promise<void>) {
    this.#window = new HandoffWindow(windowMs, write);
  }

  /** Hands off only to connected sessions `accept` admits (SqlitePersistence.handOffOnlyTo). */
  only(accept: (client: object) => boolean): void {
    this.#accept = accept;
  }

  /**
   * Aedes' broker: its connected clients, and their disconnects — a session that disconnects will not
   * acknowledge what it was sent, so its waiting copies are written now (`queued` says whether it has any).
   */
  attach(broker: BrokerRef, queued: (clientId: string) => boolean): void {
    this.#broker = broker as BrokerClients;
    if (typeof (broker as Partial<EventEmitter>).on !== 'function') return;
    (broker as unknown as EventEmitter).on('clientDisconnect', (client: ClientRef) => {
      if (queued(client.id)) this.#window.flushWhere((copy) => copy.clientId === client.id);
    });
  }

  /**
   * Defers the copy when its session may take it over; returns the message's claim (made by the first copy
   * deferred), or undefined when the copy must be written now.
   */
  defer(claim: Claim | undefined, copy: HandedOff): Claim | undefined {
    if (!this.#window.accepts() || !this.#connected(copy.clientId) || !handsOff(copy.slot.packet.payload)) {
      return undefined;
    }
    const pending = claim ?? new Claim();
    return this.#window.defer(copy.slot, copy, pending) ? pending : undefined;
  }

  /** Every copy of the message is in: its PUBACK waits for the claim, and for `committed` (copies written now). */
  seal(payload: object, claim: Claim, committed: Promise<void> | undefined): void {
    if (committed !== undefined) {
      claim.add();
      committed.then(
        () => claim.done(),
        (err: unknown) => claim.failed(err instanceof Error ? err : new Error(String(err))),
      );
    }
    claim.sealed();
    this.#claims.set(payload, claim);
  }

  /** SqlitePersistence.owned: the claim of the message this packet carries, if one waits. */
  owned(packet: { payload?: unknown }): Promise<void> | undefined {
    const { payload } = packet;
    return typeof payload === 'object' && payload !== null ? this.#claims.get(payload)?.settled : undefined;
  }

  /** The copy of a slot still waiting for its PUBACK, else undefined. */
  waiting(slot: Slot): HandedOff | undefined {
    return this.#window.waiting(slot);
  }

  /** The subscriber acknowledged the slot's copy: true when it was waiting here (nothing to write or delete). */
  acknowledged(slot: Slot): boolean {
    return this.#window.acknowledged(slot);
  }

  /** Writes every waiting copy now (the store is closing). */
  flushAll(): void {
    this.#window.flushAll();
  }

  /** The session is connected and may take ownership of its copies. */
  #connected(clientId: string): boolean {
    const client = this.#broker?.clients?.[clientId];
    return client !== undefined && this.#accept(client);
  }
}
