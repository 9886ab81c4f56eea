import { randomBytes } from 'node:crypto';
import type { SqlValue } from '../database.js';
import type { StoredEvent } from '../outbox/event-outbox.js';
import { SqlWebhookDeliveries } from './sql-webhook-deliveries.js';
import { matchesEventType, webhookBody } from './webhook-body.js';
import type { WebhookRepository } from './webhook-repository.js';
import { toSubscription } from './webhook-rows.js';
import type { NewSubscription, SubscriptionPatch, WebhookSubscription } from './webhook-types.js';

const DELIVERY_COLUMNS = [
  'subscription_id',
  'event_id',
  'event_type',
  'occurred_at',
  'payload',
  'origin',
  'status',
  'next_attempt_at',
  'created_at',
] as const;

/**
 * Webhook subscriptions and the dispatch from the outbox on the state database (SQLite or PostgreSQL, one SQL
 * text; migration 7); deliveries, claims and attempts are in `SqlWebhookDeliveries`. `now` is the clock of the
 * rows' timestamps and of the previous secret's overlap. Every method joins the caller's transaction.
 */
export class SqlWebhookRepository extends SqlWebhookDeliveries implements WebhookRepository {
  // --- subscriptions -------------------------------------------------------------------------------------

  async createSubscription(input: NewSubscription, secret: string): Promise<WebhookSubscription> {
    const nowMs = this.now();
    return this.db.transaction(async () => {
      // Waits for a dispatch in progress (and holds one off until this commits), so that the dispatch either
      // sees this subscription or ran entirely before it: `start_seq` is then at least every event it read.
      // Without it a PostgreSQL dispatch could read the subscriptions just before this commits and skip its
      // first events for good. A no-op update is the row lock both engines understand.
      await this.db.run('UPDATE webhook_dispatch SET last_seq = last_seq WHERE id = 1');
      const r = await this.db.get(
        `INSERT INTO webhook_subscriptions (id, url, event_types, description, secret, enabled, start_seq,
           created_at, updated_at)
         VALUES (@id, @url, @eventTypes, @description, @secret, @enabled,
           (SELECT coalesce(max(seq), 0) FROM event_outbox), @now, @now)
         RETURNING *`,
        {
          id: `wh_${randomBytes(8).toString('hex')}`,
          url: input.url,
          eventTypes: JSON.stringify(input.eventTypes),
          description: input.description ?? null,
          secret,
          enabled: input.enabled ? 1 : 0,
          now: nowMs,
        },
      );
      if (r === undefined) throw new Error('INSERT … RETURNING returned no row');
      return toSubscription(r, nowMs);
    });
  }

  async getSubscription(id: string): Promise<WebhookSubscription | undefined> {
    const r = await this.db.get('SELECT * FROM webhook_subscriptions WHERE id = ?', [id]);
    return r === undefined ? undefined : toSubscription(r, this.now());
  }

  async listSubscriptions(query: { limit: number; afterId?: string }): Promise<WebhookSubscription[]> {
    const nowMs = this.now();
    const rows = await this.db.all(
      `SELECT * FROM webhook_subscriptions WHERE (CAST(@afterId AS TEXT) IS NULL OR id > @afterId)
       ORDER BY id LIMIT @limit`,
      { afterId: query.afterId ?? null, limit: query.limit },
    );
    return rows.map((r) => toSubscription(r, nowMs));
  }

  async updateSubscription(id: string, patch: SubscriptionPatch): Promise<WebhookSubscription | undefined> {
    const nowMs = this.now();
    // Integer flags compared with `= 1`: PostgreSQL takes no integer as a CASE condition.
    const r = await this.db.get(
      `UPDATE webhook_subscriptions SET url = coalesce(@url, url), event_types = coalesce(@eventTypes, event_types),
         description = CASE WHEN @hasDescription = 1 THEN @description ELSE description END,
         enabled = coalesce(CAST(@enabled AS BIGINT), enabled),
         disabled_reason = CASE WHEN CAST(@enabled AS BIGINT) = 1 THEN NULL ELSE disabled_reason END,
         updated_at = @now
       WHERE id = @id
       RETURNING *`,
      {
        id,
        url: patch.url ?? null,
        eventTypes: patch.eventTypes === undefined ? null : JSON.stringify(patch.eventTypes),
        hasDescription: patch.description === undefined ? 0 : 1,
        description: patch.description ?? null,
        enabled: patch.enabled === undefined ? null : patch.enabled ? 1 : 0,
        now: nowMs,
      },
    );
    return r === undefined ? undefined : toSubscription(r, nowMs);
  }

  /** Deletes the subscription with its deliveries and their attempts (foreign keys cascade). */
  async deleteSubscription(id: string): Promise<boolean> {
    return (await this.db.run('DELETE FROM webhook_subscriptions WHERE id = ?', [id])) > 0;
  }

  /** A new secret; the current one stays valid (a second signature) until `overlapUntilMs`, if that is ahead. */
  async rotateSecret(
    id: string,
    secret: string,
    overlapUntilMs: number,
  ): Promise<WebhookSubscription | undefined> {
    const nowMs = this.now();
    // SET expressions read the row as it was, on both engines: `previous_secret = secret` keeps the old one.
    const r = await this.db.get(
      `UPDATE webhook_subscriptions
       SET previous_secret = CASE WHEN CAST(@previousUntil AS BIGINT) IS NULL THEN NULL ELSE secret END,
         previous_secret_until = @previousUntil, secret = @secret, updated_at = @now
       WHERE id = @id
       RETURNING *`,
      { id, secret, previousUntil: overlapUntilMs > nowMs ? overlapUntilMs : null, now: nowMs },
    );
    return r === undefined ? undefined : toSubscription(r, nowMs);
  }

  async disableSubscription(id: string, reason: string): Promise<void> {
    await this.db.run(
      'UPDATE webhook_subscriptions SET enabled = 0, disabled_reason = ?, updated_at = ? WHERE id = ?',
      [reason, this.now(), id],
    );
  }

  async signingSecrets(id: string): Promise<string[]> {
    const r = await this.db.get<{
      secret: string;
      previous_secret: string | null;
      previous_secret_until: number | null;
    }>('SELECT secret, previous_secret, previous_secret_until FROM webhook_subscriptions WHERE id = ?', [id]);
    if (r === undefined) return [];
    const out = [r.secret];
    if (r.previous_secret !== null && Number(r.previous_secret_until) > this.now())
      out.push(r.previous_secret);
    return out;
  }

  // --- dispatch -------------------------------------------------------------------------------------------

  async dispatchPosition(): Promise<number> {
    const r = await this.db.get('SELECT last_seq FROM webhook_dispatch WHERE id = 1');
    return Number(r?.last_seq ?? 0);
  }

  async dispatch(
    events: readonly StoredEvent[],
    fromSeq: number,
  ): Promise<{ created: number; advanced: boolean }> {
    const last = events.at(-1);
    if (last === undefined) return { created: 0, advanced: false };
    return this.db.transaction(async () => {
      // The compare-and-set first: it takes the position's row lock, so a concurrent dispatch from the same
      // `fromSeq` waits here and then finds the position moved (PostgreSQL re-checks the condition against the
      // committed row) — it creates nothing. SQLite runs one writing transaction at a time.
      const moved = await this.db.run(
        'UPDATE webhook_dispatch SET last_seq = ? WHERE id = 1 AND last_seq = ?',
        [last.seq, fromSeq],
      );
      if (moved === 0) return { created: 0, advanced: false };
      const subs = (
        await this.db.all('SELECT id, event_types, start_seq FROM webhook_subscriptions WHERE enabled = 1')
      ).map((r) => ({
        id: String(r.id),
        types: JSON.parse(String(r.event_types)) as string[],
        startSeq: Number(r.start_seq),
      }));
      const nowMs = this.now();
      const rows: SqlValue[][] = [];
      for (const e of events) {
        let body: string | undefined;
        for (const sub of subs) {
          if (e.seq <= sub.startSeq || !matchesEventType(sub.types, e.type)) continue;
          body ??= webhookBody(e.type, e.occurredAt, e.data);
          rows.push([sub.id, e.id, e.type, e.occurredAt, body, 'dispatch', 'pending', nowMs, nowMs]);
        }
      }
      // Once per event and subscription: the partial unique index (origin = 'dispatch') turns a repeat into a
      // no-op; ON CONFLICT DO NOTHING without a target covers partial indexes on both engines.
      const created = await this.db.insertMany(
        'webhook_deliveries',
        DELIVERY_COLUMNS,
        rows,
        'ON CONFLICT DO NOTHING',
      );
      return { created, advanced: true };
    });
  }
}
