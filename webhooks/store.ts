import { randomBytes } from 'node:crypto';
import type { StoredEvent } from '../core/storage/event-outbox.js';
import type { SqliteStateStore } from '../core/storage/sqlite-state-store.js';
import { webhookBody } from './signing.js';
import {
  ALL_EVENTS,
  type AttemptOutcome,
  type DeliveryAttempt,
  type DeliveryJob,
  type DeliveryOrigin,
  type DeliveryStatus,
  type NewSubscription,
  type SubscriptionPatch,
  type WebhookDelivery,
  type WebhookSubscription,
} from './types.js';

type Row = Record<string, unknown>;
const s = (v: unknown): string => String(v);
const n = (v: unknown): number => Number(v);

const toSubscription = (r: Row, nowMs: number): WebhookSubscription => ({
  id: s(r.id),
  url: s(r.url),
  eventTypes: JSON.parse(s(r.event_types)) as string[],
  ...(r.description == null ? {} : { description: s(r.description) }),
  enabled: n(r.enabled) === 1,
  ...(r.disabled_reason == null ? {} : { disabledReason: s(r.disabled_reason) }),
  createdAt: n(r.created_at),
  updatedAt: n(r.updated_at),
  ...(r.previous_secret_until == null || n(r.previous_secret_until) <= nowMs
    ? {}
    : { previousSecretExpiresAt: n(r.previous_secret_until) }),
});

const toAttempt = (r: Row): DeliveryAttempt => ({
  attempt: n(r.attempt),
  startedAt: n(r.started_at),
  durationMs: n(r.duration_ms),
  ...(r.status_code == null ? {} : { statusCode: n(r.status_code) }),
  outcome: s(r.outcome) as AttemptOutcome,
  ...(r.error == null ? {} : { error: s(r.error) }),
  ...(r.next_attempt_at == null ? {} : { nextAttemptAt: n(r.next_attempt_at) }),
});

export function matches(eventTypes: readonly string[], type: string): boolean {
  return eventTypes.includes(ALL_EVENTS) || eventTypes.includes(type);
}

/**
 * Webhook subscriptions, deliveries and attempts on the state store's SQLite file (migration 6). Every method
 * is synchronous and joins the caller's transaction (`state.transaction`), so the API writes the audit entry
 * with the change, and the dispatcher advances its outbox position with the deliveries it creates.
 */
export class WebhookStore {
  constructor(
    readonly state: SqliteStateStore,
    private readonly now: () => number = Date.now,
  ) {}

  private get db() {
    return this.state.db;
  }

  private toDelivery(r: Row, withLog = true): WebhookDelivery {
    const id = n(r.id);
    return {
      id,
      subscriptionId: s(r.subscription_id),
      eventId: s(r.event_id),
      eventType: s(r.event_type),
      occurredAt: n(r.occurred_at),
      origin: s(r.origin) as DeliveryOrigin,
      ...(r.replay_of == null ? {} : { replayOf: n(r.replay_of) }),
      status: s(r.status) as DeliveryStatus,
      attempts: n(r.attempts),
      ...(r.next_attempt_at == null ? {} : { nextAttemptAt: n(r.next_attempt_at) }),
      createdAt: n(r.created_at),
      ...(r.finished_at == null ? {} : { finishedAt: n(r.finished_at) }),
      ...(r.last_status_code == null ? {} : { lastStatusCode: n(r.last_status_code) }),
      ...(r.last_error == null ? {} : { lastError: s(r.last_error) }),
      attemptLog: withLog
        ? (
            this.db
              .prepare('SELECT * FROM webhook_attempts WHERE delivery_id = ? ORDER BY id')
              .all(id) as Row[]
          ).map(toAttempt)
        : [],
    };
  }

  // --- subscriptions -------------------------------------------------------------------------------------

  createSubscription(input: NewSubscription, secret: string): WebhookSubscription {
    const id = `wh_${randomBytes(8).toString('hex')}`;
    const nowMs = this.now();
    this.db
      .prepare(
        `INSERT INTO webhook_subscriptions (id, url, event_types, description, secret, enabled, start_seq, created_at, updated_at)
         VALUES (@id, @url, @eventTypes, @description, @secret, @enabled,
           (SELECT coalesce(max(seq), 0) FROM event_outbox), @now, @now)`,
      )
      .run({
        id,
        url: input.url,
        eventTypes: JSON.stringify(input.eventTypes),
        description: input.description ?? null,
        secret,
        enabled: input.enabled ? 1 : 0,
        now: nowMs,
      });
    return this.getSubscription(id) as WebhookSubscription;
  }

  getSubscription(id: string): WebhookSubscription | undefined {
    const r = this.db.prepare('SELECT * FROM webhook_subscriptions WHERE id = ?').get(id) as Row | undefined;
    return r === undefined ? undefined : toSubscription(r, this.now());
  }

  listSubscriptions(query: { limit: number; afterId?: string }): WebhookSubscription[] {
    const nowMs = this.now();
    return (
      this.db
        .prepare(
          'SELECT * FROM webhook_subscriptions WHERE (@afterId IS NULL OR id > @afterId) ORDER BY id LIMIT @limit',
        )
        .all({ afterId: query.afterId ?? null, limit: query.limit }) as Row[]
    ).map((r) => toSubscription(r, nowMs));
  }

  updateSubscription(id: string, patch: SubscriptionPatch): WebhookSubscription | undefined {
    const res = this.db
      .prepare(
        `UPDATE webhook_subscriptions SET url = coalesce(@url, url), event_types = coalesce(@eventTypes, event_types),
           description = CASE WHEN @hasDescription THEN @description ELSE description END,
           enabled = coalesce(@enabled, enabled),
           disabled_reason = CASE WHEN @enabled = 1 THEN NULL ELSE disabled_reason END, updated_at = @now
         WHERE id = @id`,
      )
      .run({
        id,
        url: patch.url ?? null,
        eventTypes: patch.eventTypes === undefined ? null : JSON.stringify(patch.eventTypes),
        hasDescription: patch.description === undefined ? 0 : 1,
        description: patch.description ?? null,
        enabled: patch.enabled === undefined ? null : patch.enabled ? 1 : 0,
        now: this.now(),
      });
    return res.changes === 0 ? undefined : this.getSubscription(id);
  }

  /** Deletes the subscription with its deliveries and their attempts. */
  deleteSubscription(id: string): boolean {
    return this.db.prepare('DELETE FROM webhook_subscriptions WHERE id = ?').run(id).changes > 0;
  }

  /** A new secret; the current one stays valid (second signature) until `overlapUntilMs`. */
  rotateSecret(id: string, secret: string, overlapUntilMs: number): WebhookSubscription | undefined {
    const nowMs = this.now();
    const res = this.db
      .prepare(
        `UPDATE webhook_subscriptions SET previous_secret = CASE WHEN @until > @now THEN secret ELSE NULL END,
           previous_secret_until = CASE WHEN @until > @now THEN @until ELSE NULL END, secret = @secret, updated_at = @now
         WHERE id = @id`,
      )
      .run({ id, secret, until: overlapUntilMs, now: nowMs });
    return res.changes === 0 ? undefined : this.getSubscription(id);
  }

  disableSubscription(id: string, reason: string): void {
    this.db
      .prepare(
        'UPDATE webhook_subscriptions SET enabled = 0, disabled_reason = ?, updated_at = ? WHERE id = ?',
      )
      .run(reason, this.now(), id);
  }

  /** The secrets that sign now: the current one, then the previous one during its overlap window. */
  signingSecrets(id: string): string[] {
    const r = this.db
      .prepare(
        'SELECT secret, previous_secret, previous_secret_until FROM webhook_subscriptions WHERE id = ?',
      )
      .get(id) as Row | undefined;
    if (r === undefined) return [];
    const out = [s(r.secret)];
    if (r.previous_secret != null && n(r.previous_secret_until) > this.now()) out.push(s(r.previous_secret));
    return out;
  }

  // --- dispatch -------------------------------------------------------------------------------------------

  dispatchPosition(): number {
    return n((this.db.prepare('SELECT last_seq FROM webhook_dispatch WHERE id = 1').get() as Row).last_seq);
  }

  /**
   * Creates one delivery per event and matching enabled subscription (that existed before the event), and
   * moves the position from `fromSeq` to the last event's seq — in one transaction, and only if the position
   * is still `fromSeq` (another dispatcher did not move it), so nothing is skipped or doubled.
   */
  dispatch(events: readonly StoredEvent[], fromSeq: number): { created: number; advanced: boolean } {
    const last = events.at(-1);
    if (last === undefined) return { created: 0, advanced: false };
    return this.state.transaction(() => {
      const moved = this.db
        .prepare('UPDATE webhook_dispatch SET last_seq = ? WHERE id = 1 AND last_seq = ?')
        .run(last.seq, fromSeq);
      if (moved.changes === 0) return { created: 0, advanced: false };
      const subs = (
        this.db
          .prepare('SELECT id, event_types, start_seq FROM webhook_subscriptions WHERE enabled = 1')
          .all() as Row[]
      ).map((r) => ({
        id: s(r.id),
        types: JSON.parse(s(r.event_types)) as string[],
        startSeq: n(r.start_seq),
      }));
      const insert = this.db.prepare(
        `INSERT OR IGNORE INTO webhook_deliveries
           (subscription_id, event_id, event_type, occurred_at, payload, origin, status, next_attempt_at, created_at)
         VALUES (?, ?, ?, ?, ?, 'dispatch', 'pending', ?, ?)`,
      );
      const nowMs = this.now();
      let created = 0;
      for (const e of events) {
        let body: string | undefined;
        for (const sub of subs) {
          if (e.seq <= sub.startSeq || !matches(sub.types, e.type)) continue;
          body ??= webhookBody(e.type, e.occurredAt, e.data);
          created += insert.run(sub.id, e.id, e.type, e.occurredAt, body, nowMs, nowMs).changes;
        }
      }
      return { created, advanced: true };
    });
  }

  /** A delivery outside the dispatch (ping, replay), due now. */
  addDelivery(input: {
    subscriptionId: string;
    eventId: string;
    eventType: string;
    occurredAt: number;
    payload: string;
    origin: DeliveryOrigin;
    replayOf?: number;
  }): WebhookDelivery {
    const nowMs = this.now();
    const res = this.db
      .prepare(
        `INSERT INTO webhook_deliveries
           (subscription_id, event_id, event_type, occurred_at, payload, origin, replay_of, status, next_attempt_at, created_at)
         VALUES (@subscriptionId, @eventId, @eventType, @occurredAt, @payload, @origin, @replayOf, 'pending', @now, @now)`,
      )
      .run({ ...input, replayOf: input.replayOf ?? null, now: nowMs });
    return this.getDelivery(Number(res.lastInsertRowid)) as WebhookDelivery;
  }

  /** The stored body of a delivery (replays send the same bytes). */
  payloadOf(deliveryId: number): string | undefined {
    const r = this.db.prepare('SELECT payload FROM webhook_deliveries WHERE id = ?').get(deliveryId) as
      Row | undefined;
    return r === undefined ? undefined : s(r.payload);
  }

  // --- workers --------------------------------------------------------------------------------------------

  /** Enabled subscriptions with deliveries due now (pending, or sending with an expired lease), and how many. */
  dueSubscriptions(nowMs: number): { id: string; due: number }[] {
    return (
      this.db
        .prepare(
          `SELECT d.subscription_id AS id, count(*) AS due FROM webhook_deliveries d
             JOIN webhook_subscriptions s ON s.id = d.subscription_id
           WHERE d.status IN ('pending', 'sending') AND d.next_attempt_at <= ? AND s.enabled = 1
           GROUP BY d.subscription_id`,
        )
        .all(nowMs) as Row[]
    ).map((r) => ({ id: s(r.id), due: n(r.due) }));
  }

  /**
   * Claims up to `limit` due deliveries of one subscription: status `sending` with a lease (`next_attempt_at` =
   * `leaseUntilMs`), so a process that dies mid-attempt leaves them to be retried once the lease expires.
   */
  claimDue(subscriptionId: string, nowMs: number, limit: number, leaseUntilMs: number): DeliveryJob[] {
    return this.state.transaction(() => {
      const sub = this.db
        .prepare('SELECT url FROM webhook_subscriptions WHERE id = ? AND enabled = 1')
        .get(subscriptionId) as Row | undefined;
      if (sub === undefined) return [];
      const rows = this.db
        .prepare(
          `SELECT id, event_id, payload, attempts FROM webhook_deliveries
           WHERE subscription_id = ? AND status IN ('pending', 'sending') AND next_attempt_at <= ?
           ORDER BY next_attempt_at, id LIMIT ?`,
        )
        .all(subscriptionId, nowMs, limit) as Row[];
      const claim = this.db.prepare(
        `UPDATE webhook_deliveries SET status = 'sending', next_attempt_at = ? WHERE id = ?`,
      );
      return rows.map((r) => {
        claim.run(leaseUntilMs, r.id);
        return {
          id: n(r.id),
          subscriptionId,
          url: s(sub.url),
          eventId: s(r.event_id),
          payload: s(r.payload),
          attempts: n(r.attempts),
        };
      });
    });
  }

  /** Gives claimed deliveries back (due now), e.g. on shutdown. */
  release(ids: readonly number[]): void {
    if (ids.length === 0) return;
    const stmt = this.db.prepare(
      `UPDATE webhook_deliveries SET status = 'pending', next_attempt_at = ? WHERE id = ? AND status = 'sending'`,
    );
    const nowMs = this.now();
    this.state.transaction(() => {
      for (const id of ids) stmt.run(nowMs, id);
    });
  }

  /** Records an attempt and moves the delivery on; false when the delivery is gone (subscription deleted). */
  finishAttempt(deliveryId: number, a: DeliveryAttempt): boolean {
    return this.state.transaction(() => {
      const exists = this.db.prepare('SELECT 1 FROM webhook_deliveries WHERE id = ?').get(deliveryId);
      if (exists === undefined) return false;
      this.db
        .prepare(
          `INSERT INTO webhook_attempts (delivery_id, attempt, started_at, duration_ms, status_code, outcome, error, next_attempt_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
        )
        .run(
          deliveryId,
          a.attempt,
          a.startedAt,
          a.durationMs,
          a.statusCode ?? null,
          a.outcome,
          a.error ?? null,
          a.nextAttemptAt ?? null,
        );
      const status: DeliveryStatus =
        a.outcome === 'delivered' ? 'delivered' : a.outcome === 'retry' ? 'pending' : 'dead';
      this.db
        .prepare(
          `UPDATE webhook_deliveries SET status = ?, attempts = ?, next_attempt_at = ?, finished_at = ?,
             last_status_code = ?, last_error = ? WHERE id = ?`,
        )
        .run(
          status,
          a.attempt,
          status === 'pending' ? (a.nextAttemptAt ?? this.now()) : null,
          status === 'pending' ? null : this.now(),
          a.statusCode ?? null,
          a.error ?? null,
          deliveryId,
        );
      return true;
    });
  }

  // --- reads ----------------------------------------------------------------------------------------------

  getDelivery(id: number): WebhookDelivery | undefined {
    const r = this.db.prepare('SELECT * FROM webhook_deliveries WHERE id = ?').get(id) as Row | undefined;
    return r === undefined ? undefined : this.toDelivery(r);
  }

  /** A subscription's deliveries, newest first, with their attempts. */
  listDeliveries(query: {
    subscriptionId?: string;
    status?: DeliveryStatus;
    limit: number;
    beforeId?: number;
  }): WebhookDelivery[] {
    return (
      this.db
        .prepare(
          `SELECT * FROM webhook_deliveries WHERE (@sub IS NULL OR subscription_id = @sub)
             AND (@status IS NULL OR status = @status) AND (@beforeId IS NULL OR id < @beforeId)
           ORDER BY id DESC LIMIT @limit`,
        )
        .all({
          sub: query.subscriptionId ?? null,
          status: query.status ?? null,
          beforeId: query.beforeId ?? null,
          limit: query.limit,
        }) as Row[]
    ).map((r) => this.toDelivery(r));
  }

  countByStatus(): Record<DeliveryStatus, number> {
    const out: Record<DeliveryStatus, number> = { pending: 0, sending: 0, delivered: 0, dead: 0 };
    for (const r of this.db
      .prepare('SELECT status, count(*) AS c FROM webhook_deliveries GROUP BY status')
      .all() as Row[])
      out[s(r.status) as DeliveryStatus] = n(r.c);
    return out;
  }
}
