/**
 * The portfolio (borrowers, sites, collateral lots), the device registry, the loan book and dead letters.
 * Shipped: never edit; add a new migration.
 */
export default `
CREATE TABLE borrowers (
  id TEXT PRIMARY KEY, name TEXT NOT NULL, sector TEXT NOT NULL, region TEXT NOT NULL, created_at INTEGER NOT NULL
);
CREATE TABLE sites (
  id TEXT PRIMARY KEY, borrower_id TEXT NOT NULL REFERENCES borrowers(id), name TEXT NOT NULL, kind TEXT NOT NULL,
  lat REAL NOT NULL, lon REAL NOT NULL, geofence TEXT NOT NULL
);
CREATE INDEX sites_borrower ON sites(borrower_id);
CREATE TABLE collateral_lots (
  id TEXT PRIMARY KEY, borrower_id TEXT NOT NULL REFERENCES borrowers(id), site_id TEXT NOT NULL REFERENCES sites(id),
  commodity TEXT NOT NULL, pledged_weight_kg REAL NOT NULL, unit_price_per_kg REAL NOT NULL, currency TEXT NOT NULL,
  pledged_at INTEGER NOT NULL
);
CREATE INDEX lots_borrower ON collateral_lots(borrower_id);
CREATE TABLE devices (
  id TEXT PRIMARY KEY, kind TEXT NOT NULL, borrower_id TEXT NOT NULL REFERENCES borrowers(id),
  site_id TEXT NOT NULL REFERENCES sites(id), lot_id TEXT REFERENCES collateral_lots(id),
  status TEXT NOT NULL, created_at INTEGER NOT NULL, revoked_at INTEGER,
  salt TEXT NOT NULL, token_hash TEXT NOT NULL
);
CREATE INDEX devices_borrower ON devices(borrower_id);
CREATE TABLE loans (
  id TEXT PRIMARY KEY, borrower_id TEXT NOT NULL REFERENCES borrowers(id), principal REAL NOT NULL,
  currency TEXT NOT NULL, annual_rate_pct REAL NOT NULL, start_at INTEGER NOT NULL, term_days INTEGER NOT NULL,
  status TEXT NOT NULL, defaulted_at INTEGER
);
CREATE INDEX loans_borrower ON loans(borrower_id);
CREATE TABLE repayments (
  id TEXT PRIMARY KEY, loan_id TEXT NOT NULL REFERENCES loans(id), due_at INTEGER NOT NULL,
  amount_due REAL NOT NULL, paid_at INTEGER, amount_paid REAL NOT NULL
);
CREATE INDEX repayments_loan ON repayments(loan_id, due_at);
CREATE TABLE dead_letters (
  id INTEGER PRIMARY KEY AUTOINCREMENT, received_at INTEGER NOT NULL, device_id TEXT, topic TEXT NOT NULL,
  reason TEXT NOT NULL, detail TEXT NOT NULL, payload TEXT NOT NULL
);
CREATE INDEX dead_letters_reason ON dead_letters(reason, id);
CREATE INDEX dead_letters_device ON dead_letters(device_id, id);
`;
