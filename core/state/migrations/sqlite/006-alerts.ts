/**
 * alerts: one open alert per rule and subject (the partial unique index is the
 * de-duplication), and the alert rules' settings changed over the API.
 * Shipped: never edit; add a new migration.
 */
export default `
CREATE TABLE alerts (
  id TEXT PRIMARY KEY, rule_id TEXT NOT NULL, severity TEXT NOT NULL, status TEXT NOT NULL,
  subject_kind TEXT NOT NULL, subject_id TEXT NOT NULL, borrower_id TEXT, device_id TEXT, lot_id TEXT,
  title TEXT NOT NULL, evidence TEXT NOT NULL, opened_at INTEGER NOT NULL, updated_at INTEGER NOT NULL,
  acknowledged_at INTEGER, acknowledged_by TEXT, acknowledge_comment TEXT,
  resolved_at INTEGER, resolved_by TEXT, resolve_comment TEXT
);
CREATE UNIQUE INDEX alerts_one_open ON alerts(rule_id, subject_kind, subject_id) WHERE status <> 'resolved';
CREATE INDEX alerts_opened ON alerts(opened_at, id);
CREATE INDEX alerts_status ON alerts(status, opened_at, id);
CREATE INDEX alerts_borrower ON alerts(borrower_id, opened_at, id);
CREATE TABLE alert_rule_settings (
  rule_id TEXT PRIMARY KEY, settings TEXT NOT NULL, updated_at INTEGER NOT NULL
);
`;
