/**
 * Hand-off: a QoS 1 copy queued for a connected persistent session (the ingest's) is written to the SQLite
 * session store only if that session has not acknowledged it within a window (MQTT_HANDOFF_MS).
 *
 * Why: [MQTT-4.3.2-2] has the broker send PUBACK "having accepted ownership of the Application Message".
 * The broker owns a message once it is on disk, or once the subscriber it was queued for has itself
 * acknowledged it — its PUBACK is that subscriber "accepting ownership" by the same rule, and the ingest
 * sends it only after the reading is committed to the telemetry store (ingest/mqtt-subscriber.ts). Writing
 * the copy to the session file and deleting it again a few milliseconds later, when the ingest's PUBACK
 * arrives, was the broker's largest cost beyond bare Aedes in `npm run bench:ingest`: its writer thread was
 * busy about a quarter of the time (as much as the telemetry store's), and serialising and posting the rows
 * took ~5 % of the event loop the broker and the ingest share.
 *
 * So the device's PUBACK (publish-before-ack.ts) waits for the message's `Claim`, which is settled when
 * every copy of the message is either acknowledged by its subscriber (nothing written) or, for a copy not
 * acknowledged within the window (subscriber slow, gone, or reconnecting), committed to the file as before.
 * A copy for a session that is not connected is written at once, and so are the waiting copies of a session
 * that disconnects. A crash before the PUBACK loses nothing the device was told was accepted: it sends the
 * message again, and the ingest stores each reading once.
 *
 * The price: a device's PUBACK follows the ingest's pace (its batch interval and commit, ~0.1–0.2 s) rather
 * than the session file's fsync, and Aedes reads a connection's next packets only once those before are
 * acknowledged — while the ingest lags, devices are slowed down (back-pressure) for up to the window, then
 * the file takes over.
 * Pinned by broker/test/handoff.test.ts.
 */

/** What a device's PUBACK waits for: every copy of its message owned by a subscriber or the file. */
export class Claim {
  readonly settled: Promise<void>;
  #open = 1;
  #resolve!: () => void;
  #reject!: (err: Error) => void;

  constructor() {
    this.settled = new Promise<void>((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
    // A failure is also seen by whoever awaits `settled`; never an unhandled rejection by itself.
    this.settled.catch(() => undefined);
  }

  /** One more copy to settle; call before `sealed()`. */
  add(): void {
    this.#open += 1;
  }

  /** One copy is owned (acknowledged, or committed). */
  done(): void {
    if (--this.#open === 0) this.#resolve();
  }

  /** Every copy has been added. */
  sealed(): void {
    this.done();
  }

  /** A copy could not be written: the PUBLISH fails, and the device sends it again. */
  failed(err: Error): void {
    this.#reject(err);
  }
}

interface Deferred<K, V> {
  readonly key: K;
  readonly value: V;
  readonly claim: Claim;
  readonly dueMs: number;
}

/**
 * Copies waiting for their subscriber's PUBACK, oldest first, by key (the queue slot); past due, `write`
 * commits the copy's value (what its row needs).
 */
export class HandoffWindow<K, V> {
  readonly #windowMs: number;
  readonly #write: (value: V) => Promise<void>;
  readonly #deferred = new Map<K, Deferred<K, V>>();
  #timer: NodeJS.Timeout | undefined;
  /** Until then copies are not deferred: a copy went unacknowledged for a whole window (the subscriber lags). */
  #lateUntilMs = 0;

  /** `write(value)` queues the copy's row and resolves once it is committed. */
  constructor(windowMs: number, write: (value: V) => Promise<void>) {
    this.#windowMs = windowMs;
    this.#write = write;
  }

  get size(): number {
    return this.#deferred.size;
  }

  /** The value of a copy still waiting, else undefined. */
  waiting(key: K): V | undefined {
    return this.#deferred.get(key)?.value;
  }

  /** False for a window after a copy went unacknowledged for a whole one (see `defer`). */
  accepts(): boolean {
    return performance.now() >= this.#lateUntilMs;
  }

  /**
   * Defers the copy, or returns false when the store should write it now: for a window after a copy was
   * written for want of its PUBACK, so that a lagging subscriber costs devices no more than the file's commit
   * (deferring would only delay the same write and slow the devices down).
   */
  defer(key: K, value: V, claim: Claim): boolean {
    const nowMs = performance.now();
    if (nowMs < this.#lateUntilMs) return false;
    claim.add();
    this.#deferred.set(key, { key, value, claim, dueMs: nowMs + this.#windowMs });
    // Checked a few times per window: a copy is written at most a quarter window late.
    this.#timer ??= setInterval(() => this.#sweep(performance.now()), Math.max(5, this.#windowMs / 4));
    this.#timer.unref();
    return true;
  }

  /** The subscriber acknowledged the copy: nothing to write. False when it was not waiting here. */
  acknowledged(key: K): boolean {
    const entry = this.#deferred.get(key);
    if (entry === undefined) return false;
    this.#deferred.delete(key);
    entry.claim.done();
    return true;
  }

  /** Writes every waiting copy now (the store is closing). */
  flushAll(): void {
    this.#sweep(Number.POSITIVE_INFINITY);
  }

  /** Writes now the waiting copies `which` selects (their subscriber disconnected: no PUBACK will come). */
  flushWhere(which: (value: V) => boolean): void {
    for (const entry of this.#deferred.values()) if (which(entry.value)) this.#flush(entry);
  }

  #sweep(nowMs: number): void {
    // Insertion order is due order: every copy waits the same window.
    for (const entry of this.#deferred.values()) {
      if (entry.dueMs > nowMs) break;
      this.#flush(entry);
      if (Number.isFinite(nowMs)) this.#lateUntilMs = nowMs + this.#windowMs;
    }
    // The timer stops at the first sweep that finds nothing waiting (not on every PUBACK that empties it).
    if (this.#deferred.size === 0 && this.#timer !== undefined) {
      clearInterval(this.#timer);
      this.#timer = undefined;
    }
  }

  #flush(entry: Deferred<K, V>): void {
    this.#deferred.delete(entry.key);
    this.#write(entry.value).then(
      () => entry.claim.done(),
      (err: unknown) => entry.claim.failed(err instanceof Error ? err : new Error(String(err))),
    );
  }
}
