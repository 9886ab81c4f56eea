import { RiskfuseError } from '../../core/errors.js';
import { auc, bootstrapDiff, brier, ks, pick, type BootstrapInterval } from '../metrics.js';
import { trainClassifier } from '../model/train.js';
import type { Classifier, EpochReport, ModelKind, TrainOptions } from '../model/types.js';
import type { CsvTable } from './csv.js';
import { TabularEncoder } from './encode.js';
import { stratifiedFolds, stratifiedHoldout } from './folds.js';
import type { LabelledTable } from './spec.js';

/**
 * k-fold cross-validation of the risk models on a lender's own table. Per fold: fit the encoder on the
 * fold's training rows only, hold out a stratified share of them for early stopping, train every model kind
 * and score the fold's test rows. The out-of-fold scores of all folds are then pooled (AUC, KS, Brier) and
 * the MLP and the logistic baseline compared on the same rows with a paired bootstrap. Finally one model is
 * trained on all rows (again with an early-stopping holdout) to be saved with its encoder.
 */

/** Hyper-parameters passed through to `trainClassifier` (its defaults apply to what is left out). */
export type TrainSettings = Partial<
  Pick<TrainOptions, 'hidden' | 'maxEpochs' | 'patience' | 'batchSize' | 'learningRate' | 'l2' | 'dropout'>
>;

export interface CrossValidateOptions {
  readonly table: CsvTable;
  readonly labelled: LabelledTable;
  /** Default 5. */
  readonly folds?: number;
  /** Seeds the splits, the training and the bootstrap; default 42. */
  readonly seed?: number;
  /** Share of each training fold held out for early stopping; default 0.15. */
  readonly valFraction?: number;
  /** Model kinds compared; default ['mlp', 'logistic']. */
  readonly kinds?: readonly ModelKind[];
  /** Kind trained on all rows at the end; 'best' = the higher pooled out-of-fold AUC; default 'mlp'. */
  readonly finalKind?: ModelKind | 'best';
  readonly train?: TrainSettings;
  readonly minCategoryCount?: number;
  /** Paired bootstrap resamples for the AUC difference; default 1000. */
  readonly bootstrapIterations?: number;
  readonly onProgress?: (p: CvProgress) => void;
}

export interface CvProgress {
  /** 'fold' while cross-validating, 'final' for the model trained on all rows. */
  readonly phase: 'fold' | 'final';
  /** 1-based fold number (0 for the final model). */
  readonly fold: number;
  readonly folds: number;
  readonly kind: ModelKind;
  readonly epoch: EpochReport;
}

export interface FoldResult {
  readonly fold: number;
  readonly testRows: number;
  readonly testPositives: number;
  readonly auc: number;
  readonly bestEpoch: number;
  readonly epochs: number;
}

export interface ModelCvSummary {
  readonly kind: ModelKind;
  readonly folds: readonly FoldResult[];
  readonly meanFoldAuc: number;
  /** Sample standard deviation of the fold AUCs. */
  readonly sdFoldAuc: number;
  /** Pooled out-of-fold metrics over all rows. */
  readonly oofAuc: number;
  readonly oofKs: number;
  readonly oofBrier: number;
  /** Out-of-fold PD per row of the table. */
  readonly oof: Float32Array;
}

export interface FinalModel {
  readonly kind: ModelKind;
  readonly classifier: Classifier;
  readonly encoder: TabularEncoder;
  readonly bestEpoch: number;
  readonly epochs: number;
  readonly trainRows: number;
  readonly validationRows: number;
}

export interface CrossValidationResult {
  readonly folds: number;
  readonly seed: number;
  readonly rows: number;
  readonly positives: number;
  readonly featureCount: number;
  readonly models: readonly ModelCvSummary[];
  /** Paired bootstrap of pooled OOF AUC(mlp) − AUC(logistic), when both were trained. */
  readonly aucLift?: BootstrapInterval & { readonly level: number };
  readonly final: FinalModel;
  readonly durationMs: number;
}

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

interface FitOutcome {
  readonly classifier: Classifier;
  readonly encoder: TabularEncoder;
  readonly bestEpoch: number;
  readonly epochs: number;
}

async function fitOn(
  opts: CrossValidateOptions,
  rows: readonly number[],
  kind: ModelKind,
  seed: number,
  onEpoch: (e: EpochReport) => void,
  encoder?: TabularEncoder,
): Promise<FitOutcome & { holdout: number }> {
  const { table, labelled } = opts;
  const { train, holdout } = stratifiedHoldout(labelled.y, rows, opts.valFraction ?? 0.15, seed);
  const enc =
    encoder ??
    TabularEncoder.fit(
      table,
      train,
      labelled.spec.features,
      opts.minCategoryCount === undefined ? {} : { minCategoryCount: opts.minCategoryCount },
    );
  const result = await trainClassifier({
    ...opts.train,
    kind,
    featureNames: enc.featureNames,
    x: enc.transform(table, train),
    y: labelsOf(labelled.y, train),
    xVal: enc.transform(table, holdout),
    yVal: labelsOf(labelled.y, holdout),
    seed,
    onEpoch,
  });
  return {
    classifier: result.model,
    encoder: enc,
    bestEpoch: result.bestEpoch,
    epochs: result.epochs.length,
    holdout: holdout.length,
  };
}

export async function crossValidate(opts: CrossValidateOptions): Promise<CrossValidationResult> {
  const started = Date.now();
  const k = opts.folds ?? 5;
  const seed = opts.seed ?? 42;
  const kinds = opts.kinds ?? (['mlp', 'logistic'] as const);
  const { y } = opts.labelled;
  const n = y.length;
  const positives = y.reduce((a, b) => a + b, 0);
  if (!Number.isInteger(k) || k < 2)
    throw new RiskfuseError('VALIDATION_FAILED', `folds must be an integer ≥ 2, got ${k}`);
  const minority = Math.min(positives, n - positives);
  if (minority < 2 * k) {
    throw new RiskfuseError(
      'VALIDATION_FAILED',
      `too few rows of the minority class for ${k}-fold cross-validation: ${minority} (need at least ${2 * k}; use fewer folds)`,
    );
  }

  const folds = stratifiedFolds(y, k, seed);
  const oof = new Map(kinds.map((kind) => [kind, new Float32Array(n)]));
  const foldResults = new Map<ModelKind, FoldResult[]>(kinds.map((kind) => [kind, []]));
  let featureCount = 0;

  for (let f = 0; f < k; f++) {
    const test = folds[f] as number[];
    const inFold = new Set(test);
    const trainRows = Array.from(y, (_, i) => i).filter((i) => !inFold.has(i));
    let encoder: TabularEncoder | undefined;
    for (const kind of kinds) {
      const fit = await fitOn(
        opts,
        trainRows,
        kind,
        seed + f + 1,
        (epoch) => opts.onProgress?.({ phase: 'fold', fold: f + 1, folds: k, kind, epoch }),
        encoder,
      );
      // Same holdout seed and rows for every kind, so the encoder fitted for the first one is reused.
      encoder = fit.encoder;
      featureCount = Math.max(featureCount, fit.encoder.featureNames.length);
      try {
        const p = fit.classifier.predict(fit.encoder.transform(opts.table, test));
        const out = oof.get(kind) as Float32Array;
        test.forEach((r, i) => (out[r] = p[i] as number));
        const yTest = labelsOf(y, test);
        foldResults.get(kind)?.push({
          fold: f + 1,
          testRows: test.length,
          testPositives: yTest.reduce((a, b) => a + b, 0),
          auc: auc(p, yTest),
          bestEpoch: fit.bestEpoch,
          epochs: fit.epochs,
        });
      } finally {
        fit.classifier.dispose();
      }
    }
  }

  const models: ModelCvSummary[] = kinds.map((kind) => {
    const p = oof.get(kind) as Float32Array;
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
      oof: p,
    };
  });

  let aucLift: CrossValidationResult['aucLift'];
  const mlp = oof.get('mlp');
  const logistic = oof.get('logistic');
  if (mlp !== undefined && logistic !== undefined) {
    const stat = (p: Float32Array) => (rows: Uint32Array) => auc(pick(p, rows), pick(y, rows));
    aucLift = {
      ...bootstrapDiff(stat(mlp), stat(logistic), n, {
        seed,
        iterations: opts.bootstrapIterations ?? 1000,
        alpha: 0.05,
      }),
      level: 0.95,
    };
  }

  const wanted = opts.finalKind ?? 'mlp';
  const finalKind: ModelKind =
    wanted === 'best' ? ([...models].sort((a, b) => b.oofAuc - a.oofAuc)[0]?.kind ?? 'mlp') : wanted;
  const allRows = Array.from(y, (_, i) => i);
  const fit = await fitOn(opts, allRows, finalKind, seed, (epoch) =>
    opts.onProgress?.({ phase: 'final', fold: 0, folds: k, kind: finalKind, epoch }),
  );

  return {
    folds: k,
    seed,
    rows: n,
    positives,
    featureCount,
    models,
    ...(aucLift === undefined ? {} : { aucLift }),
    final: {
      kind: finalKind,
      classifier: fit.classifier,
      encoder: fit.encoder,
      bestEpoch: fit.bestEpoch,
      epochs: fit.epochs,
      trainRows: n - fit.holdout,
      validationRows: fit.holdout,
    },
    durationMs: Date.now() - started,
  };
}
