/**
 * Credit decisions: loan funders and shares, lending policy versions, committed limits, credit applications,
 * append-only approver decisions (one per approver and application), limit reviews (one open per borrower)
 * and each borrower's latest computed exposure. The PostgreSQL twin of the SQLite migration of the same number.
 * Shipped: never edit; add a new migration.
 */
export default `
CREATE TABLE loan_funders (
  loan_id TEXT COLLATE "C" NOT NULL REFERENCES loans(id), funder_id TEXT COLLATE "C" NOT NULL,
  share_pct DOUBLE PRECISION NOT NULL, PRIMARY KEY (loan_id, funder_id)
);
CREATE TABLE lending_policies (
  version BIGINT PRIMARY KEY, policy TEXT COLLATE "C" NOT NULL, created_at BIGINT NOT NULL,
  created_by TEXT COLLATE "C"
);
CREATE TABLE credit_limits (
  borrower_id TEXT COLLATE "C" PRIMARY KEY REFERENCES borrowers(id), currency TEXT COLLATE "C" NOT NULL,
  amount DOUBLE PRECISION NOT NULL, application_id TEXT COLLATE "C", updated_at BIGINT NOT NULL
);
CREATE TABLE credit_applications (
  id TEXT COLLATE "C" PRIMARY KEY, borrower_id TEXT COLLATE "C" NOT NULL REFERENCES borrowers(id),
  amount DOUBLE PRECISION NOT NULL, currency TEXT COLLATE "C" NOT NULL, tenor_days INTEGER NOT NULL,
  lot_ids TEXT COLLATE "C" NOT NULL, funders TEXT COLLATE "C" NOT NULL, status TEXT COLLATE "C" NOT NULL,
  recommendation TEXT COLLATE "C", created_at BIGINT NOT NULL, created_by TEXT COLLATE "C", decided_at BIGINT,
  decided_amount DOUBLE PRECISION
);
CREATE INDEX credit_applications_status ON credit_applications(status, created_at, id);
CREATE INDEX credit_applications_borrower ON credit_applications(borrower_id, created_at);
CREATE TABLE credit_decisions (
  id TEXT COLLATE "C" PRIMARY KEY, application_id TEXT COLLATE "C" NOT NULL REFERENCES credit_applications(id),
  approver_key_id TEXT COLLATE "C" NOT NULL, outcome TEXT COLLATE "C" NOT NULL, amount DOUBLE PRECISION,
  reasons TEXT COLLATE "C" NOT NULL, comment TEXT COLLATE "C", at BIGINT NOT NULL,
  UNIQUE (application_id, approver_key_id)
);
CREATE FUNCTION credit_decisions_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'credit_decisions is append-only' USING ERRCODE = 'restrict_violation';
END $$;
CREATE TRIGGER credit_decisions_no_update BEFORE UPDATE ON credit_decisions
  FOR EACH ROW EXECUTE FUNCTION credit_decisions_append_only();
CREATE TRIGGER credit_decisions_no_delete BEFORE DELETE ON credit_decisions
  FOR EACH ROW EXECUTE FUNCTION credit_decisions_append_only();
CREATE TRIGGER credit_decisions_no_truncate BEFORE TRUNCATE ON credit_decisions
  FOR EACH STATEMENT EXECUTE FUNCTION credit_decisions_append_only();
CREATE TABLE limit_reviews (
  id TEXT COLLATE "C" PRIMARY KEY, borrower_id TEXT COLLATE "C" NOT NULL REFERENCES borrowers(id),
  reason TEXT COLLATE "C" NOT NULL, evidence TEXT COLLATE "C" NOT NULL, status TEXT COLLATE "C" NOT NULL,
  opened_at BIGINT NOT NULL, closed_at BIGINT, closed_by TEXT COLLATE "C"
);
CREATE UNIQUE INDEX limit_reviews_open ON limit_reviews(borrower_id) WHERE status = 'open';
CREATE TABLE credit_exposures (
  borrower_id TEXT COLLATE "C" PRIMARY KEY REFERENCES borrowers(id), currency TEXT COLLATE "C" NOT NULL,
  outstanding DOUBLE PRECISION NOT NULL, undrawn DOUBLE PRECISION NOT NULL, ead DOUBLE PRECISION NOT NULL,
  claimed_value DOUBLE PRECISION NOT NULL, verified_value DOUBLE PRECISION NOT NULL,
  claimed_coverage DOUBLE PRECISION, verified_coverage DOUBLE PRECISION, lgd DOUBLE PRECISION NOT NULL,
  pd DOUBLE PRECISION, el DOUBLE PRECISION, breaches TEXT COLLATE "C" NOT NULL, lots TEXT COLLATE "C" NOT NULL,
  computed_at BIGINT NOT NULL
);
`;
