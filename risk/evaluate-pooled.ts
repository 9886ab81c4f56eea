import { worstDecileUnderCalibration, type WorstDecileNull } from './calibration-null.js';
import { decileCheck, type DecileCheck } from './decile-check.js';
import { maxDecileRatio } from './evaluate-figures.js';
import { fitImputer, inputNames, labels, toMatrix, type LabelledRow } from './features/dataset.js';
import { crossFittedLogits } from './cross-fit.js';
import { FEATURE_NAMES } from './features/spec.js';
import { auc, bootstrapCi, expectedCalibrationError, pick, reliabilityTable } from './metrics.js';
import {
  applyCalibration,
  fitCalibration,
  type CalibrationJson,
  type CalibrationMethod,
} from './model/calibration.js';
import { trainClassifier } from './model/train.js';
import type { ModelKind } from './model/types.js';

/**
 * Calibration judged on every borrower once: out of time and out of fold.
 *
 * Why: the evaluation's test borrowers are 35 % of the book, so its test period holds about a third of the
 * period's defaults (31 defaulting borrowers in the default world). With so few, a decile's observed rate rests
 * on two or three borrowers, and even exactly right PDs miss a "no decile off by more than 2×" aim in most
 * draws (risk/calibration-null.ts). Validation teams answer thin defaults by back-testing on the whole book
 * (EBA GL/2017/16 § 5.3.2: all obligors of the portfolio; K-fold out-of-fold predictions, Stone 1974): here the
 * other 65 % of borrowers are split into two more folds, each scored after the split date by a network trained
 * and recalibrated on the other borrowers' rows before it, exactly as the main split trains on its own
 * (train 52.5 % / validation 15 % of borrowers by the same seeded hash). The main split's test borrowers are the
 * third fold, with the main network's PDs, so the test period's figures are part of the pooled ones, not
 * replaced by them. Every borrower's post-split rows are then scored once by a model that never saw that
 * borrower, and the deciles rest on about three times the defaulting borrowers.
 * Pinned by risk/test/evaluate-pooled.test.ts.
 */

/** The main split's borrower-unit intervals (risk/evaluate.ts): train [0, .5), validation [.5, .65), test [.65, 1). */
export const MAIN_TEST_FROM = 0.65;
export const VALIDATION_SHARE = 0.15;

export interface Fold {
  /** Test borrowers: unit in [from, to). */
  readonly from: number;
  readonly to: number;
  /** Validation borrowers: unit in [to, to + VALIDATION_SHARE) modulo 1; the rest train. */
  readonly role: (unit: number) => 'train' | 'validation' | 'test';
}

const inInterval = (u: number, from: number, to: number): boolean =>
  from <= to ? u >= from && u < to : u >= from || u < to;

function fold(from: number, to: number): Fold {
  const vFrom = to % 1;
  const vTo = (to + VALIDATION_SHARE) % 1;
  return {
    from,
    to,
    role: (u) => (inInterval(u, from, to) ? 'test' : inInterval(u, vFrom, vTo) ? 'validation' : 'train'),
  };
}

/** The two extra folds over the main split's non-test borrowers, halving [0, MAIN_TEST_FROM). */
export function extraFolds(): Fold[] {
  const mid = MAIN_TEST_FROM / 2;
  return [fold(0, mid), fold(mid, MAIN_TEST_FROM)];
}

export interface FoldScorer {
  /**
   * Trains on `train` (early stopping on `validation`), recalibrates on `calibration` and returns the PDs of
   * `test` — the same steps as the main split's fused network.
   */
  (rows: {
    train: readonly LabelledRow[];
    validation: readonly LabelledRow[];
    calibration: readonly LabelledRow[];
    /** Every row before the split of the fold's training and validation borrowers (for cross-fitting). */
    heldIn: readonly LabelledRow[];
    test: readonly LabelledRow[];
  }): Promise<{ readonly pd: Float32Array; readonly calibration?: CalibrationJson }>;
}

/** The main split's fused network, step for step (fused inputs, imputer, training, recalibration, floor), on a fold. */
export function networkFoldScorer(o: {
  readonly kind: ModelKind;
  readonly seed: number;
  readonly maxEpochs?: number;
  readonly network?: { readonly hidden?: readonly number[]; readonly l2?: number; readonly dropout?: number };
  readonly calibration: CalibrationMethod;
  readonly pdFloor: number;
  /**
   * When given, recalibrate on cross-fitted logits of the fold's held-in rows (risk/cross-fit.ts), as the main
   * split does, grouping borrowers by this unit.
   */
  readonly crossFitUnit?: (borrowerId: string) => number;
  readonly say?: (testRows: number) => void;
}): FoldScorer {
  return async (fold) => {
    o.say?.(fold.test.length);
    const imputer = fitImputer(fold.train, FEATURE_NAMES);
    const trained = await trainClassifier({
      kind: o.kind,
      featureNames: inputNames(imputer),
      x: toMatrix(fold.train, imputer),
      y: labels(fold.train),
      xVal: toMatrix(fold.validation, imputer),
      yVal: labels(fold.validation),
      seed: o.seed,
      ...(o.maxEpochs === undefined ? {} : { maxEpochs: o.maxEpochs }),
      ...(o.kind === 'mlp' ? (o.network ?? {}) : {}),
    });
    try {
      const crossFit =
        o.crossFitUnit !== undefined
          ? await crossFittedLogits({
              rows: fold.heldIn,
              trainTimes: new Set(fold.train.map((r) => r.t)),
              unit: o.crossFitUnit,
              kind: o.kind,
              seed: o.seed,
              ...(o.maxEpochs === undefined ? {} : { maxEpochs: o.maxEpochs }),
              ...(o.network === undefined ? {} : { network: o.network }),
            })
          : undefined;
      const calibration = fitCalibration(
        o.calibration,
        crossFit?.z ?? trained.model.predictLogit(toMatrix(fold.calibration, imputer)),
        crossFit?.y ?? labels(fold.calibration),
      );
      const z = trained.model.predictLogit(toMatrix(fold.test, imputer));
      return { pd: Float32Array.from(applyCalibration(z, calibration, o.pdFloor)), calibration };
    } finally {
      trained.model.dispose();
    }
  };
}

export interface PooledInput {
  readonly labelled: readonly LabelledRow[];
  readonly splitMs: number;
  /** Training observation dates (every `stepDays`); calibration rows use every weekly date. */
  readonly trainTimes: ReadonlySet<number>;
  readonly unit: (borrowerId: string) => number;
  /** The main split's test rows and their PDs (the third fold). */
  readonly mainTest: readonly LabelledRow[];
  readonly mainPd: ArrayLike<number>;
  readonly mainCalibration?: CalibrationJson;
  readonly score: FoldScorer;
  readonly seed: number;
  readonly iterations: number;
}

export interface PooledFigures {
  readonly folds: number;
  readonly rows: number;
  readonly defaults: number;
  readonly defaultingBorrowers: number;
  readonly borrowers: number;
  readonly auc: number;
  readonly meanPd: number;
  readonly observedRate: number;
  readonly ece: number;
  readonly eceCi: [number, number];
  readonly maxDecileRatio: number;
  readonly maxDecileRatioCi: [number, number];
  readonly deciles: DecileCheck;
  readonly worstUnderCalibration: WorstDecileNull;
  /** Per fold: test rows, positives, defaulting borrowers, AUC and recalibration (the main split's fold first). */
  readonly perFold: {
    rows: number;
    defaults: number;
    defaultingBorrowers: number;
    auc: number;
    calibration?: CalibrationJson;
  }[];
}

const defaulters = (rows: readonly LabelledRow[]): number =>
  new Set(rows.filter((r) => r.label === 1).map((r) => r.borrowerId)).size;

export async function pooledOutOfFold(input: PooledInput): Promise<PooledFigures> {
  const rows: LabelledRow[] = [...input.mainTest];
  const p: number[] = Array.from(input.mainPd);
  const perFold: PooledFigures['perFold'] = [
    {
      rows: input.mainTest.length,
      defaults: input.mainTest.reduce((s, r) => s + r.label, 0),
      defaultingBorrowers: defaulters(input.mainTest),
      auc: auc(
        input.mainPd,
        Uint8Array.from(input.mainTest, (r) => r.label),
      ),
      ...(input.mainCalibration === undefined ? {} : { calibration: input.mainCalibration }),
    },
  ];
  for (const f of extraFolds()) {
    const role = (r: LabelledRow): 'train' | 'validation' | 'test' => f.role(input.unit(r.borrowerId));
    const before = input.labelled.filter((r) => r.t < input.splitMs);
    const train = before.filter((r) => input.trainTimes.has(r.t) && role(r) === 'train');
    const validation = before.filter((r) => input.trainTimes.has(r.t) && role(r) === 'validation');
    const calibration = before.filter((r) => role(r) === 'validation');
    const test = input.labelled.filter((r) => r.t >= input.splitMs && role(r) === 'test');
    if (test.length === 0) continue;
    const heldIn = before.filter((r) => role(r) !== 'test');
    const { pd, calibration: fitted } = await input.score({ train, validation, calibration, heldIn, test });
    rows.push(...test);
    p.push(...pd);
    perFold.push({
      rows: test.length,
      defaults: test.reduce((s, r) => s + r.label, 0),
      defaultingBorrowers: defaulters(test),
      auc: auc(
        pd,
        Uint8Array.from(test, (r) => r.label),
      ),
      ...(fitted === undefined ? {} : { calibration: fitted }),
    });
  }
  const y = Uint8Array.from(rows, (r) => r.label);
  const groups = rows.map((r) => r.borrowerId);
  const ece = (q: ArrayLike<number>, l: ArrayLike<number>): number =>
    expectedCalibrationError(q, l, 10, 'quantile');
  const worst = (q: ArrayLike<number>, l: ArrayLike<number>): number =>
    maxDecileRatio(reliabilityTable(q, l, 10, 'quantile'));
  const boot = { seed: input.seed, iterations: input.iterations, groups };
  const eceCi = bootstrapCi((s) => ece(pick(p, s), pick(y, s)), p.length, boot);
  const worstCi = bootstrapCi((s) => worst(pick(p, s), pick(y, s)), p.length, boot);
  const observedWorst = worst(p, y);
  const defaults = y.reduce((s, v) => s + v, 0);
  return {
    folds: perFold.length,
    rows: rows.length,
    defaults,
    defaultingBorrowers: defaulters(rows),
    borrowers: new Set(groups).size,
    auc: auc(p, y),
    meanPd: p.reduce((s, v) => s + v, 0) / Math.max(1, p.length),
    observedRate: defaults / Math.max(1, rows.length),
    ece: ece(p, y),
    eceCi: [eceCi.lo, eceCi.hi],
    maxDecileRatio: observedWorst,
    maxDecileRatioCi: [worstCi.lo, worstCi.hi],
    deciles: decileCheck(p, y),
    worstUnderCalibration: worstDecileUnderCalibration({
      p,
      groups,
      observed: observedWorst,
      draws: input.iterations,
      seed: input.seed,
    }),
    perFold,
  };
}
