import type { WorstDecileNull } from './calibration-null.js';
import type { DecileCheck } from './decile-check.js';
import type { CohortFigures, MethodFigures } from './evaluate-calibration.js';
import type { LeadTimeReport } from './evaluate-figures.js';
import type { PooledFigures } from './evaluate-pooled.js';
import type { Imputer } from './features/dataset.js';
import type { ReliabilityBin } from './metrics.js';
import type { CalibrationJson } from './model/calibration.js';
import type { Classifier, EpochReport, ModelKind } from './model/types.js';
import type { ModelReference } from './monitoring/reference.js';

/**
 * What an evaluation hands back (risk/evaluate.ts): its figures — the setup, one report per model, the fusion
 * lift and the pooled calibration — which risk/report.ts writes out, and the trained models the registry stores.
 * Kept apart from the evaluation itself, so that what reads the figures (risk/report.ts, risk/index.ts) depends
 * on their shape only. Types only, with no test of their own: the figures are pinned where they are computed.
 */

export interface ModelReport {
  readonly name: string;
  readonly kind: ModelKind;
  readonly inputs: 'fused' | 'online';
  readonly features: number;
  readonly epochs: number;
  readonly bestEpoch: number;
  readonly trainMs: number;
  readonly auc: number;
  readonly aucCi: [number, number];
  readonly ks: number;
  readonly gini: number;
  readonly brier: number;
  readonly prAuc: number;
  readonly ece: number;
  readonly meanPd: number;
  /** ECE and mean PD of the network's own PD, before recalibration and floor. */
  readonly eceRaw: number;
  readonly meanPdRaw: number;
  /** Largest factor between predicted and observed default rate over the test PD deciles (with defaults). */
  readonly maxDecileRatio: number;
  readonly maxDecileRatioRaw: number;
  /** 95 % borrower-bootstrap intervals of `ece` and `maxDecileRatio`. */
  readonly eceCi: [number, number];
  readonly maxDecileRatioCi: [number, number];
  /** Per-decile Jeffreys check of the test PDs (decile-check.ts). */
  readonly deciles: DecileCheck;
  /** The same check on the cohort of test borrowers performing at the split date, each once. */
  readonly cohort?: CohortFigures;
  /** The worst decile's factor if the PDs were exactly right, on the same rows (risk/calibration-null.ts). */
  readonly worstUnderCalibration?: WorstDecileNull;
  /** Every recalibration method fitted on the same slice, judged on the same test rows. */
  readonly calibrationMethods: MethodFigures[];
  /** Rows and defaults the recalibration was fitted on. */
  readonly calibrationSlice: { readonly rows: number; readonly defaults: number };
  readonly calibration: CalibrationJson;
  readonly pdFloor: number;
  readonly reliability: ReliabilityBin[];
  readonly alertThreshold: number;
  readonly leadTime: LeadTimeReport;
  readonly roc: { fpr: number[]; tpr: number[] };
}

export interface TrainedModel {
  readonly name: string;
  readonly classifier: Classifier;
  readonly imputer: Imputer;
  readonly epochs: readonly EpochReport[];
  readonly calibration: CalibrationJson;
  readonly pdFloor: number;
  /** PSI bins of the training rows' inputs and PDs: what model monitoring measures drift against. */
  readonly reference: ModelReference;
}

export interface EvaluationResult {
  readonly generatedAt: string;
  readonly setup: {
    readonly horizonDays: number;
    readonly population: 'performing' | 'all';
    readonly seed: number;
    readonly fromMs: number;
    readonly toMs: number;
    readonly splitMs: number;
    readonly stepDays: number;
    readonly alertFpr: number;
    readonly dataHash: string;
    readonly rows: { train: number; validation: number; test: number };
    readonly positives: { train: number; validation: number; test: number };
    readonly borrowers: { train: number; validation: number; test: number };
    readonly testDefaulters: number;
  };
  readonly models: ModelReport[];
  readonly lift: {
    readonly estimate: number;
    readonly lo: number;
    readonly hi: number;
    readonly iterations: number;
  };
  readonly leadTimeGainDays: number;
  /** The fused network's calibration on every borrower's post-split rows, out of fold (evaluate-pooled.ts). */
  readonly pooled?: PooledFigures;
}
