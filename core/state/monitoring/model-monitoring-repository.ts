/**
 * Model monitoring state: each model version's training reference (for population stability), its daily drift
 * figures and its backtests on outcomes as they arrive. The figures' detail (per-input bins, per-grade rates) is
 * JSON the monitoring job (risk/monitoring/) writes and the API shows; the columns are what lists and filters
 * need.
 */
export type DriftBand = 'stable' | 'moderate' | 'major';

export interface StoredReference {
  readonly version: string;
  /** `training`: stored with the model when trained; `first-scored`: built from its first scored population. */
  readonly source: 'training' | 'first-scored';
  readonly at: number;
  readonly reference: Readonly<Record<string, unknown>>;
}

export interface DriftRecord {
  readonly modelVersion: string;
  /** The UTC day (00:00) the figures are for. */
  readonly day: number;
  readonly computedAt: number;
  readonly population: number;
  readonly scorePsi: number;
  readonly worstInput?: string;
  readonly worstPsi?: number;
  /** The worst band over the score and the inputs. */
  readonly band: DriftBand;
  readonly referenceSource: StoredReference['source'];
  /** Per-input PSI with bins, the score's bins, the shifted inputs (JSON). */
  readonly detail: Readonly<Record<string, unknown>>;
}

export interface BacktestRecord {
  readonly modelVersion: string;
  readonly day: number;
  readonly computedAt: number;
  /** Observations whose outcome is known. */
  readonly labelled: number;
  readonly defaults: number;
  readonly auc: number | null;
  readonly ks: number | null;
  /** Per-grade predicted vs observed, pending count, Brier (JSON). */
  readonly detail: Readonly<Record<string, unknown>>;
}

export interface ModelMonitoringRepository {
  /**
   * Stores a version's reference unless it has a training one; true when this call stored it. A training
   * reference is never replaced; a `first-scored` one is (the monitor retakes it during its first day:
   * risk/monitoring/monitor.ts).
   */
  putReference(r: StoredReference): Promise<boolean>;
  getReference(version: string): Promise<StoredReference | undefined>;
  /** Stores a day's drift figures, replacing that version's figures of the same day. */
  putDrift(r: DriftRecord): Promise<void>;
  /** A version's drift figures in [fromMs, toMs) by day, newest first, at most `limit`. */
  driftHistory(version: string, q: { fromMs?: number; toMs?: number; limit: number }): Promise<DriftRecord[]>;
  /** Each version's latest drift figures. */
  latestDrift(): Promise<DriftRecord[]>;
  putBacktest(r: BacktestRecord): Promise<void>;
  /** A version's backtests, newest first, at most `limit`. */
  backtestHistory(version: string, limit: number): Promise<BacktestRecord[]>;
  /** Each version's latest backtest. */
  latestBacktests(): Promise<BacktestRecord[]>;
}
