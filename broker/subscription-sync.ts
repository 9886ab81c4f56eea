import type { Logger } from '../core/logger.js';

/**
 * A new subscription of a persistent session, on the Redis session store (the cluster), reaches the other brokers
 * a moment after it is stored: each keeps every session's subscriptions in memory and learns of a new one from
 * the broadcast `$SYS/sub/add` (aedes-persistence `broadcastPersistence.js`), and the store waits only for its
 * own broker to hear it back. A message published on another broker before that one has heard it is not queued
 * for the session (Aedes `enqueueOffline` asks that broker's `subscriptionsByTopic`), so a session that
 * subscribes and goes offline at once misses it for good. The Paho cross-broker scenarios hit it under load
 * (s3_1_2_4, s4_4 in one CI run).
 *
 * So every broker answers another broker's `$SYS/sub/add` with `$SYS/{its id}/sub/seen` once it has applied it
 * (the broadcast's handler updates the subscriptions in the same synchronous dispatch, before this one's answer
 * goes out), and the store of a new subscription waits until every other live broker (`aedes.brokers`, those
 * heard from within three heartbeats) has answered, or `timeoutMs`, before the SUBACK. Answers name the change by
 * its broker and message count, so an answer to an earlier change of the same client is not taken for this one.
 * Pinned by broker/test/subscription-sync.test.ts (a peer that applies the change 1.5 s late).
 */

const ADDED = '$SYS/sub/add';
const SEEN = '$SYS/+/sub/seen';
const seenTopic = (brokerId: string): string => `$SYS/${brokerId}/sub/seen`;

interface Change {
  readonly origin: string;
  readonly counter: number;
}

/** What this uses of an Aedes broker. */
export interface SyncBroker {
  readonly id: string;
  /** Brokers of the cluster by id (this one included): when each was last heard (Aedes, from heartbeats). */
  readonly brokers: Record<string, number>;
  readonly opts?: { readonly heartbeatInterval?: number };
  subscribe(topic: string, handler: (packet: SysPacket, done: () => void) => void, done: () => void): void;
  publish(packet: { topic: string; payload: Buffer }, done: (err?: Error) => void): void;
}

interface SysPacket {
  readonly topic: string;
  readonly payload: Buffer | string;
  readonly brokerId?: string;
  readonly brokerCounter?: number;
}

interface Waiter {
  readonly pending: Set<string>;
  readonly resolve: () => void;
}

const keyOf = (c: Change): string => `${c.origin}:${c.counter}`;

export class SubscriptionSync {
  readonly #broker: SyncBroker;
  readonly #timeoutMs: number;
  readonly #log: Logger;
  /** Per client and first filter: the count of this broker's latest `$SYS/sub/add` for it, as heard back. */
  readonly #latest = new Map<string, number>();
  readonly #waiters = new Map<string, Waiter>();
  /** Answers that came before their waiter (a fast peer): change → brokers that answered. */
  readonly #early = new Map<string, Set<string>>();

  private constructor(broker: SyncBroker, timeoutMs: number, log: Logger) {
    this.#broker = broker;
    this.#timeoutMs = timeoutMs;
    this.#log = log;
  }

  /** Subscribes the broker to the changes and answers; resolves once both subscriptions are in place. */
  static async install(broker: SyncBroker, timeoutMs: number, log: Logger): Promise<SubscriptionSync> {
    const sync = new SubscriptionSync(broker, timeoutMs, log);
    await Promise.all([
      new Promise<void>((resolve) => broker.subscribe(ADDED, (p, done) => sync.#onAdded(p, done), resolve)),
      new Promise<void>((resolve) => broker.subscribe(SEEN, (p, done) => sync.#onSeen(p, done), resolve)),
    ]);
    return sync;
  }

  /**
   * Resolves when every other live broker has applied this broker's latest broadcast of `clientId`'s
   * subscriptions starting with `firstTopic` (call it once the store has heard the broadcast back), or after
   * the timeout, with a warning naming the brokers that did not answer.
   */
  everyBrokerHas(clientId: string, firstTopic: string): Promise<void> {
    const latestKey = `${clientId}\u0000${firstTopic}`;
    const counter = this.#latest.get(latestKey);
    this.#latest.delete(latestKey);
    // Live: heard within three heartbeats, as Aedes judges a broker dead for its wills (aedes.js `_clearWills`).
    const since = Date.now() - 3 * (this.#broker.opts?.heartbeatInterval ?? 60_000);
    const peers = Object.entries(this.#broker.brokers)
      .filter(([id, heard]) => id !== this.#broker.id && heard >= since)
      .map(([id]) => id);
    if (counter === undefined || peers.length === 0) return Promise.resolve();
    const key = keyOf({ origin: this.#broker.id, counter });
    const answered = this.#early.get(key) ?? new Set<string>();
    this.#early.delete(key);
    const pending = new Set(peers.filter((id) => !answered.has(id)));
    if (pending.size === 0) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.#waiters.delete(key);
        this.#log.warn(
          { clientId, topic: firstTopic, brokers: [...pending] },
          'new subscription not confirmed by every broker of the cluster in time; acknowledged anyway',
        );
        resolve();
      }, this.#timeoutMs);
      timer.unref();
      this.#waiters.set(key, {
        pending,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      });
    });
  }

  #onAdded(packet: SysPacket, done: () => void): void {
    const origin = packet.brokerId;
    const counter = Number(packet.brokerCounter);
    if (origin === undefined || !Number.isFinite(counter)) return done();
    if (origin === this.#broker.id) {
      const change = parse(packet.payload);
      const first = change?.subs[0]?.topic;
      if (change !== undefined && first !== undefined) {
        this.#latest.set(`${change.clientId}\u0000${first}`, counter);
        if (this.#latest.size > 10_000) this.#latest.delete(this.#latest.keys().next().value as string);
      }
      return done();
    }
    const answer: Change = { origin, counter };
    this.#broker.publish(
      { topic: seenTopic(this.#broker.id), payload: Buffer.from(JSON.stringify(answer)) },
      (err) => {
        if (err)
          this.#log.warn({ err: err.message, origin }, 'subscription change not confirmed to its broker');
      },
    );
    done();
  }

  #onSeen(packet: SysPacket, done: () => void): void {
    const from = packet.topic.split('/')[1] ?? '';
    let change: Change | undefined;
    try {
      change = JSON.parse(String(packet.payload)) as Change;
    } catch {
      return done();
    }
    if (change.origin !== this.#broker.id || from === this.#broker.id) return done();
    const key = keyOf(change);
    const waiter = this.#waiters.get(key);
    if (waiter === undefined) {
      // Answered before this broker started waiting; kept briefly, for `everyBrokerHas`.
      const set = this.#early.get(key) ?? new Set<string>();
      set.add(from);
      this.#early.set(key, set);
      if (this.#early.size > 10_000) this.#early.delete(this.#early.keys().next().value as string);
      return done();
    }
    waiter.pending.delete(from);
    if (waiter.pending.size === 0) {
      this.#waiters.delete(key);
      waiter.resolve();
    }
    done();
  }
}

function parse(payload: Buffer | string): { clientId: string; subs: { topic: string }[] } | undefined {
  try {
    const v = JSON.parse(String(payload)) as { clientId?: unknown; subs?: unknown };
    return typeof v.clientId === 'string' && Array.isArray(v.subs)
      ? { clientId: v.clientId, subs: v.subs as { topic: string }[] }
      : undefined;
  } catch {
    return undefined;
  }
}
