/**
 * suppressed alerts (see the SQLite migration of the same number).
 * The PostgreSQL twin: epoch ms in BIGINT, text COLLATE "C".
 * Shipped: never edit; add a new migration.
 */
export default `
CREATE TABLE suppressed_alerts (
  id TEXT COLLATE "C" PRIMARY KEY, cause TEXT COLLATE "C" NOT NULL,
  suppression_id TEXT COLLATE "C" REFERENCES alert_suppressions(id), rule_id TEXT COLLATE "C" NOT NULL,
  severity TEXT COLLATE "C" NOT NULL, subject_kind TEXT COLLATE "C" NOT NULL, subject_id TEXT COLLATE "C" NOT NULL,
  borrower_id TEXT COLLATE "C", device_id TEXT COLLATE "C", lot_id TEXT COLLATE "C", title TEXT COLLATE "C" NOT NULL,
  evidence TEXT COLLATE "C" NOT NULL, at BIGINT NOT NULL
);
CREATE INDEX suppressed_alerts_at ON suppressed_alerts(at, id);
CREATE INDEX suppressed_alerts_suppression ON suppressed_alerts(suppression_id, at, id);
CREATE INDEX suppressed_alerts_borrower ON suppressed_alerts(borrower_id, at, id);
CREATE INDEX alert_suppressions_scope ON alert_suppressions(scope_kind, scope_id, until_ms);
`;
