/**
 * helmet roles, alert cases and suppressions (see the SQLite migration of the same number).
 * The PostgreSQL twin: epoch ms in BIGINT, text COLLATE "C".
 * Shipped: never edit; add a new migration.
 */
export default `
ALTER TABLE devices ADD COLUMN role TEXT COLLATE "C";
UPDATE devices SET role = CASE WHEN id LIKE '%-insp' THEN 'inspector' ELSE 'worker' END WHERE kind = 'helmet';
CREATE TABLE cases (
  id TEXT COLLATE "C" PRIMARY KEY, borrower_id TEXT COLLATE "C" NOT NULL, status TEXT COLLATE "C" NOT NULL,
  owner TEXT COLLATE "C", outcome TEXT COLLATE "C", opened_at BIGINT NOT NULL, updated_at BIGINT NOT NULL,
  closed_at BIGINT, closed_by TEXT COLLATE "C", alert_count INTEGER NOT NULL,
  max_severity TEXT COLLATE "C" NOT NULL, last_alert_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX cases_one_open ON cases(borrower_id) WHERE status <> 'closed';
CREATE INDEX cases_status ON cases(status, updated_at, id);
CREATE TABLE case_alerts (
  case_id TEXT COLLATE "C" NOT NULL REFERENCES cases(id), alert_id TEXT COLLATE "C" NOT NULL,
  rule_id TEXT COLLATE "C" NOT NULL, added_at BIGINT NOT NULL, PRIMARY KEY (case_id, alert_id)
);
CREATE INDEX case_alerts_alert ON case_alerts(alert_id);
CREATE TABLE case_notes (
  id TEXT COLLATE "C" PRIMARY KEY, case_id TEXT COLLATE "C" NOT NULL REFERENCES cases(id),
  author TEXT COLLATE "C" NOT NULL, body TEXT COLLATE "C" NOT NULL, created_at BIGINT NOT NULL
);
CREATE INDEX case_notes_case ON case_notes(case_id, created_at, id);
CREATE TABLE alert_suppressions (
  id TEXT COLLATE "C" PRIMARY KEY, kind TEXT COLLATE "C" NOT NULL, scope_kind TEXT COLLATE "C" NOT NULL,
  scope_id TEXT COLLATE "C" NOT NULL, rule_id TEXT COLLATE "C", reason TEXT COLLATE "C" NOT NULL,
  from_ms BIGINT NOT NULL, until_ms BIGINT NOT NULL, created_by TEXT COLLATE "C" NOT NULL,
  created_at BIGINT NOT NULL, revoked_at BIGINT, revoked_by TEXT COLLATE "C", suppressed INTEGER NOT NULL
);
CREATE INDEX alert_suppressions_until ON alert_suppressions(until_ms, id);
`;
