/**
 * Model monitoring: training references, daily drift (PSI) and backtests per model version.
 * The PostgreSQL twin of the SQLite migration of the same number (epoch ms in BIGINT, REAL as DOUBLE PRECISION,
 * text COLLATE "C").
 * Shipped: never edit; add a new migration.
 */
export default `
CREATE TABLE model_references (
  version TEXT COLLATE "C" PRIMARY KEY REFERENCES models(version), source TEXT COLLATE "C" NOT NULL,
  at BIGINT NOT NULL, body TEXT COLLATE "C" NOT NULL
);
CREATE TABLE model_drift (
  model_version TEXT COLLATE "C" NOT NULL REFERENCES models(version), day BIGINT NOT NULL,
  computed_at BIGINT NOT NULL, population BIGINT NOT NULL, score_psi DOUBLE PRECISION NOT NULL,
  worst_input TEXT COLLATE "C", worst_psi DOUBLE PRECISION, band TEXT COLLATE "C" NOT NULL,
  reference_source TEXT COLLATE "C" NOT NULL, body TEXT COLLATE "C" NOT NULL,
  PRIMARY KEY (model_version, day)
);
CREATE TABLE model_backtests (
  model_version TEXT COLLATE "C" NOT NULL REFERENCES models(version), day BIGINT NOT NULL,
  computed_at BIGINT NOT NULL, labelled BIGINT NOT NULL, defaults BIGINT NOT NULL, auc DOUBLE PRECISION,
  ks DOUBLE PRECISION, body TEXT COLLATE "C" NOT NULL,
  PRIMARY KEY (model_version, day)
);
`;
