/**
 * risk — the model registry and scores as a time series.
 * Shipped: never edit; add a new migration.
 */
export default `
CREATE TABLE models (
  version TEXT PRIMARY KEY, name TEXT NOT NULL, kind TEXT NOT NULL, status TEXT NOT NULL,
  created_at INTEGER NOT NULL, activated_at INTEGER, artifact_path TEXT NOT NULL, data_hash TEXT NOT NULL,
  backend TEXT NOT NULL, meta TEXT NOT NULL
);
CREATE UNIQUE INDEX models_one_champion ON models(status) WHERE status = 'champion';
CREATE TABLE scores (
  borrower_id TEXT NOT NULL, at INTEGER NOT NULL, model_version TEXT NOT NULL REFERENCES models(version),
  shadow INTEGER NOT NULL, pd REAL NOT NULL, score INTEGER NOT NULL, grade TEXT NOT NULL, reasons TEXT NOT NULL,
  contributions TEXT, trigger TEXT NOT NULL,
  PRIMARY KEY (borrower_id, model_version, at)
) WITHOUT ROWID;
CREATE INDEX scores_at ON scores(at);
CREATE INDEX scores_latest ON scores(borrower_id, shadow, at);
`;
