/**
 * a score keeps the model's inputs (feature values at scoring time, JSON; NULL for shadow scores and for scores
 * stored before this version), so what the model saw can be shown and audited beside its reasons. score_heads
 * holds a copy of each borrower's latest official score: the portfolio reads every borrower's latest score, and
 * finding it in the (ever growing) history took seconds at 10,000 borrowers — grouping it, or even one
 * primary-key lookup per borrower into pages of 2 KB rows scattered over gigabytes.
 * Shipped: never edit; add a new migration.
 */
export default `
ALTER TABLE scores ADD COLUMN features TEXT;
CREATE TABLE score_heads (
  borrower_id TEXT PRIMARY KEY, at INTEGER NOT NULL, model_version TEXT NOT NULL, pd REAL NOT NULL,
  score INTEGER NOT NULL, grade TEXT NOT NULL, reasons TEXT NOT NULL, contributions TEXT, trigger TEXT NOT NULL,
  features TEXT
);
INSERT OR REPLACE INTO score_heads
  (borrower_id, at, model_version, pd, score, grade, reasons, contributions, trigger, features)
  SELECT s.borrower_id, s.at, s.model_version, s.pd, s.score, s.grade, s.reasons, s.contributions, s.trigger,
    s.features
  FROM scores s JOIN (
    SELECT borrower_id, max(at) AS at FROM scores WHERE shadow = 0 GROUP BY borrower_id
  ) m ON s.borrower_id = m.borrower_id AND s.at = m.at
  WHERE s.shadow = 0;
`;
