/**
 * webhooks: subscriptions (secrets kept: they sign), one delivery row per event and
 * subscription (unique for dispatched ones, so a re-run dispatch never doubles), every attempt, and the
 * dispatcher's outbox position, advanced in the transaction that creates the deliveries.
 * Shipped: never edit; add a new migration.
 */
export default `
CREATE TABLE webhook_subscriptions (
  id TEXT PRIMARY KEY, url TEXT NOT NULL, event_types TEXT NOT NULL, description TEXT,
  secret TEXT NOT NULL, previous_secret TEXT, previous_secret_until INTEGER,
  enabled INTEGER NOT NULL, disabled_reason TEXT, start_seq INTEGER NOT NULL,
  created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL
);
CREATE TABLE webhook_deliveries (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  subscription_id TEXT NOT NULL REFERENCES webhook_subscriptions(id) ON DELETE CASCADE,
  event_id TEXT NOT NULL, event_type TEXT NOT NULL, occurred_at INTEGER NOT NULL, payload TEXT NOT NULL,
  origin TEXT NOT NULL, replay_of INTEGER, status TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_at INTEGER, created_at INTEGER NOT NULL, finished_at INTEGER,
  last_status_code INTEGER, last_error TEXT
);
CREATE UNIQUE INDEX webhook_deliveries_once ON webhook_deliveries(subscription_id, event_id)
  WHERE origin = 'dispatch';
CREATE INDEX webhook_deliveries_due ON webhook_deliveries(status, next_attempt_at);
CREATE INDEX webhook_deliveries_sub ON webhook_deliveries(subscription_id, status, next_attempt_at);
CREATE INDEX webhook_deliveries_log ON webhook_deliveries(subscription_id, id);
CREATE TABLE webhook_attempts (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  delivery_id INTEGER NOT NULL REFERENCES webhook_deliveries(id) ON DELETE CASCADE,
  attempt INTEGER NOT NULL, started_at INTEGER NOT NULL, duration_ms INTEGER NOT NULL, status_code INTEGER,
  outcome TEXT NOT NULL, error TEXT, next_attempt_at INTEGER
);
CREATE INDEX webhook_attempts_delivery ON webhook_attempts(delivery_id, id);
CREATE TABLE webhook_dispatch (id INTEGER PRIMARY KEY CHECK (id = 1), last_seq INTEGER NOT NULL);
INSERT INTO webhook_dispatch (id, last_seq) VALUES (1, (SELECT coalesce(max(seq), 0) FROM event_outbox));
`;
