import { RiskfuseError } from '../../core/errors.js';
import {
  auc,
  bootstrapDiff,
  brier,
  expectedCalibrationError,
  ks,
  pick,
  reliabilityTable,
  type BootstrapInterval,
  type ReliabilityBin,
} from '../metrics.js';
import {
  applyCalibration,
  DEFAULT_PD_FLOOR,
  type CalibrationJson,
  type CalibrationMethod,
} from '../model/calibration.js';
import type { EpochReport } from '../model/types.js';
import type { CsvTable } from './csv.js';
import { TabularEncoder } from './encode.js';
import { stratifiedFolds, stratifiedHoldout } from './folds.js';
import type { GbdtOptions } from './gbdt.js';
import {
  ensembleMembersFor,
  fitKinds,
  type NetworkSettings,
  type TabularKind,
  type TabularModel,
} from './models.js';
import type { LabelledTable } from './spec.js';

/**
 * k-fold cross-validation of the risk models on a lender's own table. Per fold: fit the encoder on the
 * fold's training rows only, hold out a stratified share of them (early stopping, hyper-parameter choice,
 * recalibration), fit every model kind and score the fold's test rows, which nothing was tuned on. The
 * out-of-fold PDs of all folds are then pooled (AUC, KS, Brier, ECE and a reliability table, before and
 * after recalibration), and the best kind compared with the logistic baseline on the same rows with a paired
 * bootstrap. Finally one model is fitted on all rows (again with a holdout) to be saved with its encoder.
 */

/** Hyper-parameters passed through to the networks (`trainClassifier` defaults apply to what is left out). */
export type TrainSettings = NetworkSettings;

export interface CrossValidateOptions {
  readonly table: CsvTable;
  readonly labelled: LabelledTable;
  /** Default 5. */
  readonly folds?: number;
  /** Seeds the splits, the training and the bootstrap; default 42. */
  readonly seed?: number;
  /** Share of each training fold held out; default 0.15. */
  readonly valFraction?: number;
  /** Model kinds compared; default all (logistic, mlp, scorecard, gbdt, ensemble). */
  readonly kinds?: readonly TabularKind[];
  /** Kind fitted on all rows at the end; 'best' = the highest pooled out-of-fold AUC; 'none' = no final model (evaluation only); default 'best'. */
  readonly finalKind?: TabularKind | 'best' | 'none';
  readonly train?: TrainSettings;
  readonly gbdt?: GbdtOptions;
  /** Recalibration fitted on the holdout; default 'platt'. */
  readonly calibration?: CalibrationMethod;
  /** Lowest PD reported; default DEFAULT_PD_FLOOR (0.03 %). */
  readonly pdFloor?: number;
  readonly minCategoryCount?: number;
  /** Paired bootstrap resamples for the AUC difference; default 1000. */
  readonly bootstrapIterations?: number;
  readonly onProgress?: (p: CvProgress) => void;
}

export type CvProgress =
  | {
      readonly phase: 'fold' | 'final';
      readonly fold: number;
      readonly folds: number;
      readonly kind: TabularKind;
      readonly epoch: EpochReport;
    }
  | {
      readonly phase: 'fold' | 'final';
      readonly fold: number;
      readonly folds: number;
      readonly kind: TabularKind;
      readonly note: string;
    };

export interface FoldResult {
  readonly fold: number;
  readonly testRows: number;
  readonly testPositives: number;
  readonly auc: number;
  /** Hyper-parameters chosen on this fold's holdout and training facts (epochs, trees, bins). */
  readonly notes: Readonly<Record<string, number | string>>;
}

export interface ModelCvSummary {
  readonly kind: TabularKind;
  readonly folds: readonly FoldResult[];
  readonly meanFoldAuc: number;
  /** Sample standard deviation of the fold AUCs. */
  readonly sdFoldAuc: number;
  /** Pooled out-of-fold metrics over all rows, of the recalibrated and floored PDs. */
  readonly oofAuc: number;
  readonly oofKs: number;
  readonly oofBrier: number;
  /** ECE over 10 equal-count bins, after and before recalibration. */
  readonly oofEce: number;
  readonly oofEceRaw: number;
  readonly meanPd: number;
  readonly reliability: readonly ReliabilityBin[];
  /** Out-of-fold PD per row of the table. */
  readonly oof: Float64Array;
}

export interface FinalModel {
  readonly kind: TabularKind;
  readonly model: TabularModel;
  readonly calibration: CalibrationJson;
  readonly encoder: TabularEncoder;
  readonly notes: Readonly<Record<string, number | string>>;
  readonly trainRows: number;
  readonly validationRows: number;
}

export interface CrossValidationResult {
  readonly folds: number;
  readonly seed: number;
  readonly rows: number;
  readonly positives: number;
  readonly featureCount: number;
  readonly calibration: CalibrationMethod;
  readonly pdFloor: number;
  readonly models: readonly ModelCvSummary[];
  /** Paired bootstrap of pooled OOF AUC(best kind) − AUC(logistic), when both were fitted. */
  readonly aucLift?: BootstrapInterval & {
    readonly level: number;
    readonly kinds: [TabularKind, TabularKind];
  };
  /** Absent when finalKind is 'none'. */
  readonly final?: FinalModel;
  readonly durationMs: number;
}

export const DEFAULT_KINDS: readonly TabularKind[] = ['logistic', 'mlp', 'scorecard', 'gbdt', 'ensemble'];

function mean(xs: readonly number[]): number {
  return xs.reduce((a, b) => a + b, 0) / xs.length;
}

function sd(xs: readonly number[]): number {
  if (xs.length < 2) return 0;
  const m = mean(xs);
  return Math.sqrt(xs.reduce((a, b) => a + (b - m) ** 2, 0) / (xs.length - 1));
}

function labelsOf(y: Uint8Array, rows: readonly number[]): Uint8Array {
  return Uint8Array.from(rows, (r) => y[r] as number);
}

async function fitOn(
  opts: CrossValidateOptions,
  rows: readonly number[],
  kinds: readonly TabularKind[],
  seed: number,
  phase: 'fold' | 'final',
  fold: number,
  folds: number,
) {
  const { table, labelled } = opts;
  const { train, holdout } = stratifiedHoldout(labelled.y, rows, opts.valFraction ?? 0.15, seed);
  const encoder = TabularEncoder.fit(
    table,
    train,
    labelled.spec.features,
    opts.minCategoryCount === undefined ? {} : { minCategoryCount: opts.minCategoryCount },
  );
  const fitted = await fitKinds(
    kinds,
    {
      x: encoder.transform(table, train),
      y: labelsOf(labelled.y, train),
      xVal: encoder.transform(table, holdout),
      yVal: labelsOf(labelled.y, holdout),
      groups: encoder.groups(),
      featureNames: encoder.featureNames,
      seed,
      ...(opts.train === undefined ? {} : { network: opts.train }),
      ...(opts.gbdt === undefined ? {} : { gbdt: opts.gbdt }),
      calibration: opts.calibration ?? 'platt',
      onEpoch: (kind, epoch) => opts.onProgress?.({ phase, fold, folds, kind, epoch }),
      onNote: (kind, note) => opts.onProgress?.({ phase, fold, folds, kind, note }),
    },
    ensembleMembersFor(opts.kinds ?? DEFAULT_KINDS),
  );
  return { fitted, encoder, train, holdout };
}

export async function crossValidate(opts: CrossValidateOptions): Promise<CrossValidationResult> {
  const started = Date.now();
  const k = opts.folds ?? 5;
  const seed = opts.seed ?? 42;
  const kinds = opts.kinds ?? DEFAULT_KINDS;
  const pdFloor = opts.pdFloor ?? DEFAULT_PD_FLOOR;
  const { y } = opts.labelled;
  const n = y.length;
  const positives = y.reduce((a, b) => a + b, 0);
  if (!Number.isInteger(k) || k < 2)
    throw new RiskfuseError('VALIDATION_FAILED', `folds must be an integer ≥ 2, got ${k}`);
  if (!(pdFloor >= 0 && pdFloor < 0.5))
    throw new RiskfuseError('VALIDATION_FAILED', `the PD floor must be in [0, 0.5), got ${pdFloor}`);
  const minority = Math.min(positives, n - positives);
  if (minority < 2 * k) {
    throw new RiskfuseError(
      'VALIDATION_FAILED',
      `too few rows of the minority class for ${k}-fold cross-validation: ${minority} (need at least ${2 * k}; use fewer folds)`,
    );
  }

  const folds = stratifiedFolds(y, k, seed);
  const oof = new Map(kinds.map((kind) => [kind, new Float64Array(n)]));
  const oofRaw = new Map(kinds.map((kind) => [kind, new Float64Array(n)]));
  const foldResults = new Map<TabularKind, FoldResult[]>(kinds.map((kind) => [kind, []]));
  let featureCount = 0;

  for (let f = 0; f < k; f++) {
    const test = folds[f] as number[];
    const inFold = new Set(test);
    const trainRows = Array.from(y, (_, i) => i).filter((i) => !inFold.has(i));
    const { fitted, encoder } = await fitOn(opts, trainRows, kinds, seed + f + 1, 'fold', f + 1, k);
    featureCount = Math.max(featureCount, encoder.featureNames.length);
    const xTest = encoder.transform(opts.table, test);
    const yTest = labelsOf(y, test);
    try {
      for (const kind of kinds) {
        const fit = fitted.get(kind);
        if (fit === undefined) continue;
        const z = fit.model.predictLogit(xTest);
        const p = applyCalibration(z, fit.calibration, pdFloor);
        const raw = applyCalibration(z, undefined);
        const out = oof.get(kind) as Float64Array;
        const outRaw = oofRaw.get(kind) as Float64Array;
        test.forEach((r, i) => {
          out[r] = p[i] as number;
          outRaw[r] = raw[i] as number;
        });
        foldResults.get(kind)?.push({
          fold: f + 1,
          testRows: test.length,
          testPositives: yTest.reduce((a, b) => a + b, 0),
          auc: auc(p, yTest),
          notes: fit.model.notes,
        });
      }
    } finally {
      for (const fit of fitted.values()) fit.model.dispose();
    }
  }

  const models: ModelCvSummary[] = kinds.map((kind) => {
    const p = oof.get(kind) as Float64Array;
    const fr = foldResults.get(kind) ?? [];
    const aucs = fr.map((r) => r.auc);
    return {
      kind,
      folds: fr,
      meanFoldAuc: mean(aucs),
      sdFoldAuc: sd(aucs),
      oofAuc: auc(p, y),
      oofKs: ks(p, y),
      oofBrier: brier(p, y),
      oofEce: expectedCalibrationError(p, y, 10, 'quantile'),
      oofEceRaw: expectedCalibrationError(oofRaw.get(kind) as Float64Array, y, 10, 'quantile'),
      meanPd: mean(Array.from(p)),
      reliability: reliabilityTable(p, y, 10, 'quantile'),
      oof: p,
    };
  });

  const ranked = [...models].sort((a, b) => b.oofAuc - a.oofAuc);
  let aucLift: CrossValidationResult['aucLift'];
  const best = ranked.find((m) => m.kind !== 'logistic');
  const logistic = oof.get('logistic');
  if (best !== undefined && logistic !== undefined) {
    const stat = (p: Float64Array) => (rows: Uint32Array) => auc(pick(p, rows), pick(y, rows));
    aucLift = {
      ...bootstrapDiff(stat(best.oof), stat(logistic), n, {
        seed,
        iterations: opts.bootstrapIterations ?? 1000,
        alpha: 0.05,
      }),
      level: 0.95,
      kinds: [best.kind, 'logistic'],
    };
  }

  const summary = {
    folds: k,
    seed,
    rows: n,
    positives,
    featureCount,
    calibration: opts.calibration ?? 'platt',
    pdFloor,
    models,
    ...(aucLift === undefined ? {} : { aucLift }),
  };
  const wanted = opts.finalKind ?? 'best';
  if (wanted === 'none') return { ...summary, durationMs: Date.now() - started };
  const finalKind: TabularKind = wanted === 'best' ? (ranked[0]?.kind ?? 'ensemble') : wanted;
  const allRows = Array.from(y, (_, i) => i);
  const fit = await fitOn(opts, allRows, [finalKind], seed, 'final', 0, k);
  const final = fit.fitted.get(finalKind);
  if (final === undefined) throw new RiskfuseError('INTERNAL', `the final ${finalKind} model was not fitted`);

  return {
    ...summary,
    final: {
      kind: finalKind,
      model: final.model,
      calibration: final.calibration,
      encoder: fit.encoder,
      notes: final.model.notes,
      trainRows: fit.train.length,
      validationRows: fit.holdout.length,
    },
    durationMs: Date.now() - started,
  };
}
