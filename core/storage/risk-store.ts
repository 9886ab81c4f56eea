/**
 * The risk store port: the model registry (versioned artifacts, one champion, challengers scoring in shadow)
 * and scores kept as a time series. Implemented on the state store's SQLite file (`sqlite-risk-store.ts`):
 * scores live beside the alerts and webhook outbox that react to them, in one transactional store.
 */
export type ModelStatus = 'champion' | 'challenger' | 'retired';

export interface ModelRecord {
  readonly version: string;
  /** What the model is, e.g. `fused-mlp`. */
  readonly name: string;
  readonly kind: string;
  readonly status: ModelStatus;
  readonly createdAt: number;
  readonly activatedAt?: number;
  /** File holding the artifact (weights, normalisation, imputer, feature spec). */
  readonly artifactPath: string;
  readonly dataHash: string;
  readonly backend: string;
  /** Metrics, horizon, feature list and anything else worth showing (JSON). */
  readonly meta: Readonly<Record<string, unknown>>;
}

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

/** One point of a borrower's PD trend. */
export interface PdPoint {
  readonly at: number;
  readonly pd: number;
}

export interface ScoreQuery {
  readonly borrowerId?: string;
  readonly modelVersion?: string;
  readonly shadow?: boolean;
  readonly fromMs?: number;
  readonly toMs?: number;
  readonly limit?: number;
}

export interface RiskStore {
  addModel(m: ModelRecord): void;
  getModel(version: string): ModelRecord | undefined;
  listModels(): ModelRecord[];
  champion(): ModelRecord | undefined;
  /** Makes `version` the champion in one transaction; the previous champion becomes a challenger. */
  activateModel(version: string, atMs: number): ModelRecord;
  setModelStatus(version: string, status: Exclude<ModelStatus, 'champion'>): void;

  /**
   * Stores scores; an official one newer than a borrower's latest becomes its latest, unless `history` is set
   * (a backtest: stored as history only).
   */
  addScores(items: readonly ScoreRecord[], options?: { history?: boolean }): void;
  /** The latest score of each borrower (non-shadow unless `shadow` is set), optionally for one model. */
  latestScores(q?: {
    modelVersion?: string;
    shadow?: boolean;
    borrowerIds?: readonly string[];
  }): ScoreRecord[];
  /** Every borrower's latest official score, light: no reasons or contributions, only the named inputs. */
  latestHeads(features?: readonly string[]): ScoreHead[];
  /**
   * A borrower's official score history one per UTC day in [fromMs, toMs): the last score of each day that has
   * one, newest first, at most `limit` days.
   */
  dailyScores(borrowerId: string, fromMs: number, toMs: number, limit: number): ScoreRecord[];
  /** Scores in time order (newest first), at most `limit` (default 1,000). */
  scoreHistory(q: ScoreQuery): ScoreRecord[];
  /**
   * Each borrower's official PD trend over its window [`fromMs`, `toMs`]: the last score of every UTC day that
   * has one, oldest first (borrowers without scores in their window are absent from the map).
   */
  dailyPdTrends(
    windows: readonly { borrowerId: string; fromMs: number; toMs: number }[],
  ): Map<string, PdPoint[]>;
}
