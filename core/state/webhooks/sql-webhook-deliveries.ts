import type { Database, Row } from '../database.js';
import { idListSql } from '../sql-text-list.js';
import { toAttempt, toDelivery } from './webhook-rows.js';
import type {
  DeliveryAttempt,
  DeliveryJob,
  DeliveryOrigin,
  DeliveryStatus,
  WebhookDelivery,
} from './webhook-types.js';

/**
 * The delivery half of the webhook repository (`SqlWebhookRepository` adds subscriptions and the dispatch):
 * deliveries outside the dispatch, the workers' claims with leases, attempts, and the reads. One SQL text for
 * both engines except the claim's row locks (PostgreSQL only; SQLite has one writer at a time anyway).
 */
export class SqlWebhookDeliveries {
  constructor(
    protected readonly db: Database,
    protected readonly now: () => number,
  ) {}

  /** A delivery outside the dispatch (ping, replay), due now. */
  async addDelivery(input: {
    subscriptionId: string;
    eventId: string;
    eventType: string;
    occurredAt: number;
    payload: string;
    origin: DeliveryOrigin;
    replayOf?: number;
  }): Promise<WebhookDelivery> {
    const r = await this.db.get(
      `INSERT INTO webhook_deliveries (subscription_id, event_id, event_type, occurred_at, payload, origin, replay_of,
         status, next_attempt_at, created_at)
       VALUES (@subscriptionId, @eventId, @eventType, @occurredAt, @payload, @origin, @replayOf, 'pending', @now, @now)
       RETURNING *`,
      {
        subscriptionId: input.subscriptionId,
        eventId: input.eventId,
        eventType: input.eventType,
        occurredAt: input.occurredAt,
        payload: input.payload,
        origin: input.origin,
        replayOf: input.replayOf ?? null,
        now: this.now(),
      },
    );
    if (r === undefined) throw new Error('INSERT … RETURNING returned no row');
    return toDelivery(r, []); // a new delivery has no attempts yet
  }

  async payloadOf(deliveryId: number): Promise<string | undefined> {
    const r = await this.db.get('SELECT payload FROM webhook_deliveries WHERE id = ?', [deliveryId]);
    return r === undefined ? undefined : String(r.payload);
  }

  async dueSubscriptions(nowMs: number): Promise<{ id: string; due: number }[]> {
    const rows = await this.db.all(
      `SELECT d.subscription_id AS id, count(*) AS due FROM webhook_deliveries d
         JOIN webhook_subscriptions s ON s.id = d.subscription_id
       WHERE d.status IN ('pending', 'sending') AND d.next_attempt_at <= ? AND s.enabled = 1
       GROUP BY d.subscription_id`,
      [nowMs],
    );
    return rows.map((r) => ({ id: String(r.id), due: Number(r.due) }));
  }

  async claimDue(
    subscriptionId: string,
    nowMs: number,
    limit: number,
    leaseUntilMs: number,
  ): Promise<DeliveryJob[]> {
    // PostgreSQL: two workers (processes) may claim the same subscription at once; each locks the rows it picks
    // and skips those another holds, so no delivery is claimed twice. SQLite has no row locks (nor the need:
    // the transaction holds the database's single write lock).
    const lock = this.db.dialect === 'postgres' ? 'FOR UPDATE OF d SKIP LOCKED' : '';
    return this.db.transaction(async () => {
      const rows = await this.db.all(
        `SELECT d.id, d.event_id, d.payload, d.attempts, s.url FROM webhook_deliveries d
           JOIN webhook_subscriptions s ON s.id = d.subscription_id
         WHERE d.subscription_id = ? AND s.enabled = 1 AND d.status IN ('pending', 'sending')
           AND d.next_attempt_at <= ?
         ORDER BY d.next_attempt_at, d.id LIMIT ? ${lock}`,
        [subscriptionId, nowMs, limit],
      );
      if (rows.length > 0)
        await this.db.run(
          `UPDATE webhook_deliveries SET status = 'sending', next_attempt_at = ?
           WHERE id IN (${idListSql(this.db.dialect)})`,
          [leaseUntilMs, JSON.stringify(rows.map((r) => Number(r.id)))],
        );
      return rows.map((r) => ({
        id: Number(r.id),
        subscriptionId,
        url: String(r.url),
        eventId: String(r.event_id),
        payload: String(r.payload),
        attempts: Number(r.attempts),
      }));
    });
  }

  async release(ids: readonly number[]): Promise<void> {
    if (ids.length === 0) return;
    const nowMs = this.now();
    await this.db.run(
      `UPDATE webhook_deliveries SET status = 'pending', next_attempt_at = ?
       WHERE status = 'sending' AND id IN (${idListSql(this.db.dialect)})`,
      [nowMs, JSON.stringify(ids)],
    );
  }

  async releaseAll(): Promise<number> {
    return this.db.run(
      `UPDATE webhook_deliveries SET status = 'pending', next_attempt_at = ? WHERE status = 'sending'`,
      [this.now()],
    );
  }

  async finishAttempt(deliveryId: number, a: DeliveryAttempt): Promise<boolean> {
    const status: DeliveryStatus =
      a.outcome === 'delivered' ? 'delivered' : a.outcome === 'retry' ? 'pending' : 'dead';
    const nowMs = this.now();
    return this.db.transaction(async () => {
      // The delivery first: its row lock keeps a concurrent delete of the subscription (which cascades) from
      // removing it between this check and the attempt's insert (whose foreign key would then fail).
      const changed = await this.db.run(
        `UPDATE webhook_deliveries SET status = ?, attempts = ?, next_attempt_at = ?, finished_at = ?,
           last_status_code = ?, last_error = ? WHERE id = ?`,
        [
          status,
          a.attempt,
          status === 'pending' ? (a.nextAttemptAt ?? nowMs) : null,
          status === 'pending' ? null : nowMs,
          a.statusCode ?? null,
          a.error ?? null,
          deliveryId,
        ],
      );
      if (changed === 0) return false;
      await this.db.run(
        `INSERT INTO webhook_attempts (delivery_id, attempt, started_at, duration_ms, status_code, outcome, error,
           next_attempt_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
        [
          deliveryId,
          a.attempt,
          a.startedAt,
          a.durationMs,
          a.statusCode ?? null,
          a.outcome,
          a.error ?? null,
          a.nextAttemptAt ?? null,
        ],
      );
      return true;
    });
  }

  async getDelivery(id: number): Promise<WebhookDelivery | undefined> {
    const r = await this.db.get('SELECT * FROM webhook_deliveries WHERE id = ?', [id]);
    return r === undefined ? undefined : (await this.#withAttempts([r]))[0];
  }

  async listDeliveries(query: {
    subscriptionId?: string;
    status?: DeliveryStatus;
    limit: number;
    beforeId?: number;
  }): Promise<WebhookDelivery[]> {
    const rows = await this.db.all(
      `SELECT * FROM webhook_deliveries
       WHERE (CAST(@sub AS TEXT) IS NULL OR subscription_id = @sub)
         AND (CAST(@status AS TEXT) IS NULL OR status = @status)
         AND (CAST(@beforeId AS BIGINT) IS NULL OR id < @beforeId)
       ORDER BY id DESC LIMIT @limit`,
      {
        sub: query.subscriptionId ?? null,
        status: query.status ?? null,
        beforeId: query.beforeId ?? null,
        limit: query.limit,
      },
    );
    return this.#withAttempts(rows);
  }

  async countByStatus(): Promise<Record<DeliveryStatus, number>> {
    const out: Record<DeliveryStatus, number> = { pending: 0, sending: 0, delivered: 0, dead: 0 };
    for (const r of await this.db.all('SELECT status, count(*) AS c FROM webhook_deliveries GROUP BY status'))
      out[String(r.status) as DeliveryStatus] = Number(r.c);
    return out;
  }

  /** Deliveries with their attempts, read in one query per page (a round trip per delivery costs on PostgreSQL). */
  async #withAttempts(rows: readonly Row[]): Promise<WebhookDelivery[]> {
    if (rows.length === 0) return [];
    const attempts = await this.db.all(
      `SELECT * FROM webhook_attempts WHERE delivery_id IN (${idListSql(this.db.dialect)}) ORDER BY delivery_id, id`,
      [JSON.stringify(rows.map((r) => Number(r.id)))],
    );
    const log = new Map<number, DeliveryAttempt[]>();
    for (const a of attempts) {
      const id = Number(a.delivery_id);
      const list = log.get(id);
      if (list === undefined) log.set(id, [toAttempt(a)]);
      else list.push(toAttempt(a));
    }
    return rows.map((r) => toDelivery(r, log.get(Number(r.id)) ?? []));
  }
}
