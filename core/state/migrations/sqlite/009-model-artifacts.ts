/**
 * A model's artifact (weights, normalisation, imputer, feature spec: the JSON file) kept in the state beside its
 * record, so that every replica and host scores with the same model without sharing a models folder.
 * Shipped: never edit; add a new migration.
 */
export default `
CREATE TABLE model_artifacts (
  version TEXT PRIMARY KEY REFERENCES models(version), body TEXT NOT NULL
);
`;
