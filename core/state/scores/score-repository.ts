/** Scores as a time series, and each borrower's latest official score (its head). */
export interface ReasonCode {
  readonly feature: string;
  /** Signed contribution to the logit. */
  readonly contribution: number;
  readonly value: number | null;
  readonly text: string;
}

export interface ScoreRecord {
  readonly borrowerId: string;
  readonly at: number;
  readonly modelVersion: string;
  /** A challenger's score, kept for comparison, never acted on. */
  readonly shadow: boolean;
  /** Probability of default within the model's horizon. */
  readonly pd: number;
  /** Points (higher = safer), see risk/grades.ts. */
  readonly score: number;
  readonly grade: string;
  /** The top reasons raising the PD, in plain words. */
  readonly reasons: readonly ReasonCode[];
  /** Every input's contribution (champion scores only). */
  readonly contributions?: Readonly<Record<string, number>>;
  /** What caused the scoring: `periodic`, `readings`, `loan-event`, `on-demand`, `backtest`. */
  readonly trigger: string;
  /** The model's inputs at scoring time by feature name, null = no data (champion scores only). */
  readonly features?: Readonly<Record<string, number | null>>;
}

/** A borrower's latest official score without its explanations: what portfolio lists need. */
export interface ScoreHead {
  readonly borrowerId: string;
  readonly at: number;
  readonly modelVersion: string;
  readonly pd: number;
  readonly score: number;
  readonly grade: string;
  /** The requested model inputs at scoring time (null = no data or not stored). */
  readonly features: Readonly<Record<string, number | null>>;
}

/**
 * What identifies a borrower's latest official score, read without its explanations: a reader that already
 * holds that score (api/score-body-cache.ts) can tell whether it is still the latest from one narrow row. Only
 * columns stored before the row's JSON (reasons, contributions): SQLite reads a row's columns in order, so
 * reaching `trigger` behind them meant reading the row's overflow pages, which cost as much as the whole row.
 */
export interface ScoreKey {
  readonly at: number;
  readonly modelVersion: string;
  readonly pd: number;
  readonly score: number;
}

/** One point of a borrower's PD trend. */
export interface PdPoint {
  readonly at: number;
  readonly pd: number;
}

/** One score, light: what backtests and drift need. */
export interface ScoreObservation {
  readonly borrowerId: string;
  readonly at: number;
  readonly pd: number;
  readonly grade: string;
  readonly shadow: boolean;
}

export interface ScoreQuery {
  readonly borrowerId?: string;
  readonly modelVersion?: string;
  readonly shadow?: boolean;
  readonly fromMs?: number;
  readonly toMs?: number;
  readonly limit?: number;
}

export interface ScoreRepository {
  /**
   * Stores scores; an official one newer than a borrower's latest becomes its latest, unless `history` is set
   * (a backtest: stored as history only).
   */
  addScores(items: readonly ScoreRecord[], options?: { history?: boolean }): Promise<void>;
  /** The latest score of each borrower (non-shadow unless `shadow` is set), optionally for one model. */
  latestScores(q?: {
    modelVersion?: string;
    shadow?: boolean;
    borrowerIds?: readonly string[];
  }): Promise<ScoreRecord[]>;
  /** The key of a borrower's latest official score (undefined without one): its head's narrow columns only. */
  latestKey(borrowerId: string): Promise<ScoreKey | undefined>;
  /** Every borrower's latest official score, light: no reasons or contributions, only the named inputs. */
  latestHeads(features?: readonly string[]): Promise<ScoreHead[]>;
  /**
   * A borrower's official score history one per UTC day in [fromMs, toMs): the last score of each day that has
   * one, newest first, at most `limit` days.
   */
  dailyScores(borrowerId: string, fromMs: number, toMs: number, limit: number): Promise<ScoreRecord[]>;
  /**
   * A model version's scores in [fromMs, toMs) (official, shadow and backtest alike), light, by borrower then
   * time: the observations model monitoring judges against outcomes.
   */
  scoreObservations(modelVersion: string, fromMs: number, toMs: number): Promise<ScoreObservation[]>;
  /** Scores in time order (newest first), at most `limit` (default 1,000). */
  scoreHistory(q: ScoreQuery): Promise<ScoreRecord[]>;
  /**
   * Each borrower's official PD trend over its window [`fromMs`, `toMs`]: the last score of every UTC day that
   * has one, oldest first (borrowers without scores in their window are absent from the map).
   */
  dailyPdTrends(
    windows: readonly { borrowerId: string; fromMs: number; toMs: number }[],
  ): Promise<Map<string, PdPoint[]>>;
  /**
   * Retention: of the scores before `beforeMs`, keeps the last of each (borrower, model, UTC day) and deletes
   * the rest — what `dailyScores` and `dailyPdTrends` read, and every borrower's latest score, stay. Returns
   * how many were deleted.
   */
  thinScores(beforeMs: number): Promise<number>;
}
