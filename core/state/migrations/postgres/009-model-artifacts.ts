/**
 * A model's artifact (weights, normalisation, imputer, feature spec: the JSON file) kept in the state beside its
 * record, so that every replica and host scores with the same model without sharing a models folder.
 * The PostgreSQL twin of the SQLite migration of the same number.
 * Shipped: never edit; add a new migration.
 */
export default `
CREATE TABLE model_artifacts (
  version TEXT COLLATE "C" PRIMARY KEY REFERENCES models(version), body TEXT NOT NULL
);
`;
