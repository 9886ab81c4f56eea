/**
 * helmet roles, alert cases and suppressions:
 * - devices.role: a helmet's wearer, `worker` or `inspector` (the registry says so, not an id suffix); existing
 *   helmets take it from the `-insp` naming the registry used until now;
 * - cases: an officer's investigation of one borrower's alerts (one not-closed case per borrower: the partial
 *   unique index), its alerts and notes;
 * - alert_suppressions: maintenance windows and snoozes per device, lot or borrower (optionally one rule),
 *   each with who, why and how many alerts it held back.
 * Shipped: never edit; add a new migration.
 */
export default `
ALTER TABLE devices ADD COLUMN role TEXT;
UPDATE devices SET role = CASE WHEN id LIKE '%-insp' THEN 'inspector' ELSE 'worker' END WHERE kind = 'helmet';
CREATE TABLE cases (
  id TEXT PRIMARY KEY, borrower_id TEXT NOT NULL, status TEXT NOT NULL, owner TEXT,
  outcome TEXT, opened_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, closed_at INTEGER, closed_by TEXT,
  alert_count INTEGER NOT NULL, max_severity TEXT NOT NULL, last_alert_at INTEGER NOT NULL
);
CREATE UNIQUE INDEX cases_one_open ON cases(borrower_id) WHERE status <> 'closed';
CREATE INDEX cases_status ON cases(status, updated_at, id);
CREATE TABLE case_alerts (
  case_id TEXT NOT NULL REFERENCES cases(id), alert_id TEXT NOT NULL, rule_id TEXT NOT NULL,
  added_at INTEGER NOT NULL, PRIMARY KEY (case_id, alert_id)
);
CREATE INDEX case_alerts_alert ON case_alerts(alert_id);
CREATE TABLE case_notes (
  id TEXT PRIMARY KEY, case_id TEXT NOT NULL REFERENCES cases(id), author TEXT NOT NULL,
  body TEXT NOT NULL, created_at INTEGER NOT NULL
);
CREATE INDEX case_notes_case ON case_notes(case_id, created_at, id);
CREATE TABLE alert_suppressions (
  id TEXT PRIMARY KEY, kind TEXT NOT NULL, scope_kind TEXT NOT NULL, scope_id TEXT NOT NULL, rule_id TEXT,
  reason TEXT NOT NULL, from_ms INTEGER NOT NULL, until_ms INTEGER NOT NULL,
  created_by TEXT NOT NULL, created_at INTEGER NOT NULL, revoked_at INTEGER, revoked_by TEXT,
  suppressed INTEGER NOT NULL
);
CREATE INDEX alert_suppressions_until ON alert_suppressions(until_ms, id);
`;
