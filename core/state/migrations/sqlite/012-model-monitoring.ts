/**
 * Model monitoring: each model version's training reference for population stability (the decile bins of its
 * inputs and score, JSON), the daily drift figures (PSI per input and of the score against that reference) and
 * the backtests on outcomes as they arrive. One row per version and UTC day for drift and backtests (a rerun
 * on the same day replaces it). risk/monitoring/ writes them; the API and the dashboard read them.
 * Shipped: never edit; add a new migration.
 */
export default `
CREATE TABLE model_references (
  version TEXT PRIMARY KEY REFERENCES models(version), source TEXT NOT NULL, at INTEGER NOT NULL,
  body TEXT NOT NULL
);
CREATE TABLE model_drift (
  model_version TEXT NOT NULL REFERENCES models(version), day INTEGER NOT NULL, computed_at INTEGER NOT NULL,
  population INTEGER NOT NULL, score_psi REAL NOT NULL, worst_input TEXT, worst_psi REAL, band TEXT NOT NULL,
  reference_source TEXT NOT NULL, body TEXT NOT NULL,
  PRIMARY KEY (model_version, day)
);
CREATE TABLE model_backtests (
  model_version TEXT NOT NULL REFERENCES models(version), day INTEGER NOT NULL, computed_at INTEGER NOT NULL,
  labelled INTEGER NOT NULL, defaults INTEGER NOT NULL, auc REAL, ks REAL, body TEXT NOT NULL,
  PRIMARY KEY (model_version, day)
);
`;
