/**
 * suppressed alerts: every opening a maintenance window, a snooze or the flapping hold kept out of the officer's
 * list, recorded with its cause (and the suppression, when one held it) so that what was held back stays
 * visible and auditable instead of silently dropped. alert_suppressions (migration 010) keeps the count.
 * Shipped: never edit; add a new migration.
 */
export default `
CREATE TABLE suppressed_alerts (
  id TEXT PRIMARY KEY, cause TEXT NOT NULL, suppression_id TEXT REFERENCES alert_suppressions(id),
  rule_id TEXT NOT NULL, severity TEXT NOT NULL, subject_kind TEXT NOT NULL, subject_id TEXT NOT NULL,
  borrower_id TEXT, device_id TEXT, lot_id TEXT, title TEXT NOT NULL, evidence TEXT NOT NULL, at INTEGER NOT NULL
);
CREATE INDEX suppressed_alerts_at ON suppressed_alerts(at, id);
CREATE INDEX suppressed_alerts_suppression ON suppressed_alerts(suppression_id, at, id);
CREATE INDEX suppressed_alerts_borrower ON suppressed_alerts(borrower_id, at, id);
CREATE INDEX alert_suppressions_scope ON alert_suppressions(scope_kind, scope_id, until_ms);
`;
