/**
 * Credit decisions: each loan's funders and shares (co-lending), the lending policy's versions, committed
 * limits (the undrawn part of EAD), credit applications and the approvers' decisions on them (append-only:
 * a decision is never changed; one per approver and application, which is how four-eyes refuses the same
 * approver twice), limit reviews (at most one open per borrower), and each borrower's latest computed
 * exposure (EAD, coverage, LGD, EL, policy breaches). Shipped: never edit; add a new migration.
 */
export default `
CREATE TABLE loan_funders (
  loan_id TEXT NOT NULL REFERENCES loans(id), funder_id TEXT NOT NULL, share_pct REAL NOT NULL,
  PRIMARY KEY (loan_id, funder_id)
);
CREATE TABLE lending_policies (
  version INTEGER PRIMARY KEY, policy TEXT NOT NULL, created_at INTEGER NOT NULL, created_by TEXT
);
CREATE TABLE credit_limits (
  borrower_id TEXT PRIMARY KEY REFERENCES borrowers(id), currency TEXT NOT NULL, amount REAL NOT NULL,
  application_id TEXT, updated_at INTEGER NOT NULL
);
CREATE TABLE credit_applications (
  id TEXT PRIMARY KEY, borrower_id TEXT NOT NULL REFERENCES borrowers(id), amount REAL NOT NULL,
  currency TEXT NOT NULL, tenor_days INTEGER NOT NULL, lot_ids TEXT NOT NULL, funders TEXT NOT NULL,
  status TEXT NOT NULL, recommendation TEXT, created_at INTEGER NOT NULL, created_by TEXT, decided_at INTEGER,
  decided_amount REAL
);
CREATE INDEX credit_applications_status ON credit_applications(status, created_at, id);
CREATE INDEX credit_applications_borrower ON credit_applications(borrower_id, created_at);
CREATE TABLE credit_decisions (
  id TEXT PRIMARY KEY, application_id TEXT NOT NULL REFERENCES credit_applications(id),
  approver_key_id TEXT NOT NULL, outcome TEXT NOT NULL, amount REAL, reasons TEXT NOT NULL, comment TEXT,
  at INTEGER NOT NULL, UNIQUE (application_id, approver_key_id)
);
CREATE TRIGGER credit_decisions_no_update BEFORE UPDATE ON credit_decisions
  BEGIN SELECT RAISE(ABORT, 'credit_decisions is append-only'); END;
CREATE TRIGGER credit_decisions_no_delete BEFORE DELETE ON credit_decisions
  BEGIN SELECT RAISE(ABORT, 'credit_decisions is append-only'); END;
CREATE TABLE limit_reviews (
  id TEXT PRIMARY KEY, borrower_id TEXT NOT NULL REFERENCES borrowers(id), reason TEXT NOT NULL,
  evidence TEXT NOT NULL, status TEXT NOT NULL, opened_at INTEGER NOT NULL, closed_at INTEGER, closed_by TEXT
);
CREATE UNIQUE INDEX limit_reviews_open ON limit_reviews(borrower_id) WHERE status = 'open';
CREATE TABLE credit_exposures (
  borrower_id TEXT PRIMARY KEY REFERENCES borrowers(id), currency TEXT NOT NULL, outstanding REAL NOT NULL,
  undrawn REAL NOT NULL, ead REAL NOT NULL, claimed_value REAL NOT NULL, verified_value REAL NOT NULL,
  claimed_coverage REAL, verified_coverage REAL, lgd REAL NOT NULL, pd REAL, el REAL, breaches TEXT NOT NULL,
  lots TEXT NOT NULL, computed_at INTEGER NOT NULL
);
`;
