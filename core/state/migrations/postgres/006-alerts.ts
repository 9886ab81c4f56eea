/**
 * alerts: one open alert per rule and subject (the partial unique index is the
 * de-duplication), and the alert rules' settings changed over the API.
 * The PostgreSQL twin of the SQLite migration of the same number (epoch ms in BIGINT, REAL as DOUBLE
 * PRECISION, flags stay 0/1 integers so both engines return the same rows; text compares byte-wise, COLLATE "C", so
 * ids and names sort and page as on SQLite whatever the database's locale).
 * Shipped: never edit; add a new migration.
 */
export default `
CREATE TABLE alerts (
  id TEXT COLLATE "C" PRIMARY KEY, rule_id TEXT COLLATE "C" NOT NULL, severity TEXT COLLATE "C" NOT NULL, status TEXT COLLATE "C" NOT NULL,
  subject_kind TEXT COLLATE "C" NOT NULL, subject_id TEXT COLLATE "C" NOT NULL, borrower_id TEXT COLLATE "C", device_id TEXT COLLATE "C", lot_id TEXT COLLATE "C",
  title TEXT COLLATE "C" NOT NULL, evidence TEXT COLLATE "C" NOT NULL, opened_at BIGINT NOT NULL, updated_at BIGINT NOT NULL,
  acknowledged_at BIGINT, acknowledged_by TEXT COLLATE "C", acknowledge_comment TEXT COLLATE "C",
  resolved_at BIGINT, resolved_by TEXT COLLATE "C", resolve_comment TEXT COLLATE "C"
);
CREATE UNIQUE INDEX alerts_one_open ON alerts(rule_id, subject_kind, subject_id) WHERE status <> 'resolved';
CREATE INDEX alerts_opened ON alerts(opened_at, id);
CREATE INDEX alerts_status ON alerts(status, opened_at, id);
CREATE INDEX alerts_borrower ON alerts(borrower_id, opened_at, id);
CREATE TABLE alert_rule_settings (
  rule_id TEXT COLLATE "C" PRIMARY KEY, settings TEXT COLLATE "C" NOT NULL, updated_at BIGINT NOT NULL
);
`;
