/**
 * a score keeps the model's inputs (feature values at scoring time, JSON; NULL for shadow scores and for scores
 * stored before this version), so what the model saw can be shown and audited beside its reasons. score_heads
 * holds a copy of each borrower's latest official score: the portfolio reads every borrower's latest score, and
 * finding it in the (ever growing) history took seconds at 10,000 borrowers — grouping it, or even one
 * primary-key lookup per borrower into pages of 2 KB rows scattered over gigabytes.
 * The PostgreSQL twin of the SQLite migration of the same number (epoch ms in BIGINT, REAL as DOUBLE
 * PRECISION, flags stay 0/1 integers so both engines return the same rows; text compares byte-wise, COLLATE "C", so
 * ids and names sort and page as on SQLite whatever the database's locale).
 * Shipped: never edit; add a new migration.
 */
export default `
ALTER TABLE scores ADD COLUMN features TEXT COLLATE "C";
CREATE TABLE score_heads (
  borrower_id TEXT COLLATE "C" PRIMARY KEY, at BIGINT NOT NULL, model_version TEXT COLLATE "C" NOT NULL, pd DOUBLE PRECISION NOT NULL,
  score BIGINT NOT NULL, grade TEXT COLLATE "C" NOT NULL, reasons TEXT COLLATE "C" NOT NULL, contributions TEXT COLLATE "C", trigger TEXT COLLATE "C" NOT NULL,
  features TEXT COLLATE "C"
);
INSERT INTO score_heads
  (borrower_id, at, model_version, pd, score, grade, reasons, contributions, trigger, features)
  SELECT DISTINCT ON (borrower_id) borrower_id, at, model_version, pd, score, grade, reasons, contributions,
    trigger, features
  FROM scores WHERE shadow = 0 ORDER BY borrower_id, at DESC;
`;
