/**
 * risk — the model registry and scores as a time series.
 * The PostgreSQL twin of the SQLite migration of the same number (epoch ms in BIGINT, REAL as DOUBLE
 * PRECISION, flags stay 0/1 integers so both engines return the same rows; text compares byte-wise, COLLATE "C", so
 * ids and names sort and page as on SQLite whatever the database's locale).
 * Shipped: never edit; add a new migration.
 */
export default `
CREATE TABLE models (
  version TEXT COLLATE "C" PRIMARY KEY, name TEXT COLLATE "C" NOT NULL, kind TEXT COLLATE "C" NOT NULL, status TEXT COLLATE "C" NOT NULL,
  created_at BIGINT NOT NULL, activated_at BIGINT, artifact_path TEXT COLLATE "C" NOT NULL, data_hash TEXT COLLATE "C" NOT NULL,
  backend TEXT COLLATE "C" NOT NULL, meta TEXT COLLATE "C" NOT NULL
);
CREATE UNIQUE INDEX models_one_champion ON models(status) WHERE status = 'champion';
CREATE TABLE scores (
  borrower_id TEXT COLLATE "C" NOT NULL, at BIGINT NOT NULL, model_version TEXT COLLATE "C" NOT NULL REFERENCES models(version),
  shadow BIGINT NOT NULL, pd DOUBLE PRECISION NOT NULL, score BIGINT NOT NULL, grade TEXT COLLATE "C" NOT NULL, reasons TEXT COLLATE "C" NOT NULL,
  contributions TEXT COLLATE "C", trigger TEXT COLLATE "C" NOT NULL,
  PRIMARY KEY (borrower_id, model_version, at)
);
CREATE INDEX scores_at ON scores(at);
CREATE INDEX scores_latest ON scores(borrower_id, shadow, at);
`;
