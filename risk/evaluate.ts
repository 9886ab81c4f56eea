import { createHash } from 'node:crypto';
import { RiskfuseError } from '../core/errors.js';
import type { TelemetryStore } from '../core/storage/telemetry-store.js';
import { fitImputer, inputNames, labelRows, labels, toMatrix, type LabelledRow } from './features/dataset.js';
import { extractFeatures, type FeatureRow, type Portfolio } from './features/extract.js';
import { LOOKBACK_DAYS } from './features/offline.js';
import { DAY_MS } from './features/online.js';
import { FEATURE_NAMES, ONLINE_FEATURES } from './features/spec.js';
import { calibrationFigures } from './evaluate-calibration.js';
import { crossFittedLogits } from './cross-fit.js';
import { networkFoldScorer, pooledOutOfFold } from './evaluate-pooled.js';
import type { EvaluationResult, ModelReport, TrainedModel } from './evaluation-result.js';
import { auc, bootstrapCi, bootstrapDiff, brier, ks, pick, prAuc, rocCurve } from './metrics.js';
import {
  applyCalibration,
  DEFAULT_CALIBRATION,
  DEFAULT_PD_FLOOR,
  type CalibrationMethod,
} from './model/calibration.js';
import { trainClassifier } from './model/train.js';
import { buildReference, type ModelReference } from './monitoring/reference.js';
import {
  alertThreshold,
  leadTimes,
  maxDecileRatio,
  thinRoc,
  type LeadTimeReport,
} from './evaluate-figures.js';

export { alertThreshold, maxDecileRatio, type LeadTimeReport };
import type { ModelKind } from './model/types.js';

/**
 * The honest comparison: on one split, a fused network (online + offline inputs), an online-only network and
 * logistic regressions, judged out of time on borrowers none of them trained on. Reports discrimination,
 * calibration, the fusion lift with a borrower-level bootstrap interval, and the early-warning lead time.
 *
 * Split: borrowers are assigned by a seeded hash to train (50 %), validation (15 %, early stopping) and test
 * (35 %). Train and validation rows are observed before the split date; test rows at or after it. Rows are
 * observed every `stepDays` at UTC midnights; a row is labelled only when its whole horizon is in the data.
 * Recalibration is fitted on the calibration slice: the validation borrowers' rows at every weekly date before
 * the split (twice the early-stopping rows at the default 14-day step, none of them trained on, none in the
 * test period).
 */
export interface EvaluateOptions {
  readonly telemetryStore: TelemetryStore;
  readonly portfolio: Portfolio;
  /** History covered by the stores. */
  readonly fromMs: number;
  readonly toMs: number;
  readonly horizonDays?: number;
  readonly population?: 'performing' | 'all';
  readonly seed?: number;
  /** Days between training observations; default 14. Lead times use weekly scores. */
  readonly stepDays?: number;
  /** Share of label-complete observation dates before the split; default 0.6. */
  readonly trainTimeShare?: number;
  /** False-alarm rate among non-defaulters that sets each model's alert threshold; default 0.1. */
  readonly alertFpr?: number;
  readonly maxEpochs?: number;
  readonly bootstrapIterations?: number;
  readonly onProgress?: (line: string) => void;
  /** Network settings for the MLPs (defaults: model/train.ts TRAIN_DEFAULTS). */
  readonly network?: { readonly hidden?: readonly number[]; readonly l2?: number; readonly dropout?: number };
  /** Recalibration fitted on the calibration slice (validation borrowers, weekly, before the split); default DEFAULT_CALIBRATION. */
  readonly calibration?: CalibrationMethod;
  /** Lowest PD; default DEFAULT_PD_FLOOR. */
  readonly pdFloor?: number;
  /** Feature rows at the weekly dates (`evaluationTimes`), when already extracted (e.g. from a cache). */
  readonly rows?: readonly FeatureRow[];
  /** Also judge the fused network's calibration on every borrower once (evaluate-pooled.ts); default true. */
  readonly pooled?: boolean;
  /**
   * Fit the fused network's recalibration on cross-fitted logits of every non-test borrower's rows before the
   * split (risk/cross-fit.ts) rather than on the validation borrowers' alone; default true.
   */
  readonly crossFit?: boolean;
}

const MODEL_SPECS: readonly { name: string; kind: ModelKind; inputs: 'fused' | 'online' }[] = [
  { name: 'fused-mlp', kind: 'mlp', inputs: 'fused' },
  { name: 'online-mlp', kind: 'mlp', inputs: 'online' },
  { name: 'fused-logistic', kind: 'logistic', inputs: 'fused' },
  { name: 'online-logistic', kind: 'logistic', inputs: 'online' },
];

/** The weekly observation dates of an evaluation over history [fromMs, toMs): after a full lookback. */
export function evaluationTimes(fromMs: number, toMs: number): number[] {
  return observationTimes(fromMs + (LOOKBACK_DAYS + 1) * DAY_MS, toMs, 7);
}

/** Seeded borrower assignment in [0, 1). */
export function borrowerUnit(borrowerId: string, seed: number): number {
  const h = createHash('sha256').update(`${seed}:${borrowerId}`).digest();
  return h.readUInt32BE(0) / 2 ** 32;
}

/** UTC-midnight observation times every `stepDays` from `fromMs` (inclusive) to `toMs` (exclusive). */
export function observationTimes(fromMs: number, toMs: number, stepDays: number): number[] {
  const out: number[] = [];
  for (let t = Math.ceil(fromMs / DAY_MS) * DAY_MS; t < toMs; t += stepDays * DAY_MS) out.push(t);
  return out;
}

/** Hash of the feature rows a model is trained on (reproducibility evidence in the registry). */
export function dataHash(rows: readonly LabelledRow[]): string {
  const h = createHash('sha256');
  for (const r of rows) {
    h.update(`${r.borrowerId}|${r.t}|${r.label}|`);
    h.update(Buffer.from(r.values.buffer, r.values.byteOffset, r.values.byteLength));
  }
  return h.digest('hex').slice(0, 16);
}

/** The training rows' population for drift monitoring: raw inputs (missing = null) and calibrated PDs. */
function trainingReference(
  rows: readonly LabelledRow[],
  features: readonly string[],
  pds: (rows: readonly LabelledRow[]) => ArrayLike<number>,
): ModelReference {
  const inputs: Record<string, (number | null)[]> = {};
  for (const f of features) {
    const j = FEATURE_NAMES.indexOf(f);
    inputs[f] = rows.map((r) => {
      const v = r.values[j];
      return v === undefined || Number.isNaN(v) ? null : v;
    });
  }
  return buildReference({ inputs, scores: Array.from(pds(rows)) }, 'training', Date.now());
}

export async function evaluate(opts: EvaluateOptions): Promise<{
  result: EvaluationResult;
  models: TrainedModel[];
  rows: readonly FeatureRow[];
  /** The out-of-time test rows and the fused network's PD of each (for the credit figures). */
  test: { rows: readonly LabelledRow[]; fusedPd: Float32Array };
  /** Every labelled row, any borrower and date (the credit figures take the LGD fit's workout rows from them). */
  labelled: readonly LabelledRow[];
}> {
  const horizonDays = opts.horizonDays ?? 180;
  const population = opts.population ?? 'performing';
  const seed = opts.seed ?? 42;
  const stepDays = opts.stepDays ?? 14;
  const alertFpr = opts.alertFpr ?? 0.1;
  const pdFloor = opts.pdFloor ?? DEFAULT_PD_FLOOR;
  const say = opts.onProgress ?? (() => undefined);
  const weekly = evaluationTimes(opts.fromMs, opts.toMs);
  const first = weekly[0] ?? opts.toMs;
  if (weekly.length < 8) {
    throw new RiskfuseError(
      'VALIDATION_FAILED',
      `the history is too short: ${weekly.length} weekly observations after a ${LOOKBACK_DAYS}-day lookback`,
    );
  }
  let all = opts.rows;
  if (all === undefined) {
    say(
      `extracting features for ${opts.portfolio.borrowers.length} borrowers at ${weekly.length} weekly dates`,
    );
    all = await extractFeatures({
      telemetryStore: opts.telemetryStore,
      portfolio: opts.portfolio,
      times: weekly,
      onProgress: say,
    });
  }
  const trainTimes = new Set(observationTimes(first, opts.toMs, stepDays));
  const labelled = labelRows(all, opts.portfolio, { horizonDays, population }, opts.toMs);
  const complete = [...new Set(labelled.map((r) => r.t))].sort((a, b) => a - b);
  const splitMs = complete[Math.floor(complete.length * (opts.trainTimeShare ?? 0.6))];
  if (splitMs === undefined)
    throw new RiskfuseError('VALIDATION_FAILED', 'no label-complete observation dates');
  const group = (id: string): 'train' | 'validation' | 'test' => {
    const u = borrowerUnit(id, seed);
    return u < 0.5 ? 'train' : u < 0.65 ? 'validation' : 'test';
  };
  const train = labelled.filter(
    (r) => r.t < splitMs && trainTimes.has(r.t) && group(r.borrowerId) === 'train',
  );
  const validation = labelled.filter(
    (r) => r.t < splitMs && trainTimes.has(r.t) && group(r.borrowerId) === 'validation',
  );
  const test = labelled.filter((r) => r.t >= splitMs && group(r.borrowerId) === 'test');
  const calibrationSlice = labelled.filter((r) => r.t < splitMs && group(r.borrowerId) === 'validation');
  const pos = (rows: readonly LabelledRow[]): number => rows.reduce((s, r) => s + r.label, 0);
  for (const [name, rows] of [
    ['train', train],
    ['validation', validation],
    ['test', test],
  ] as const) {
    const p = pos(rows);
    if (p === 0 || p === rows.length) {
      throw new RiskfuseError(
        'VALIDATION_FAILED',
        `the ${name} set has only one class (${rows.length} rows, ${p} defaults): simulate more borrowers or months`,
      );
    }
  }
  const distinct = (rows: readonly LabelledRow[]): number => new Set(rows.map((r) => r.borrowerId)).size;
  say(
    `split at ${new Date(splitMs).toISOString().slice(0, 10)}: train ${train.length} rows (${pos(train)} defaults), ` +
      `validation ${validation.length} (${pos(validation)}), test ${test.length} (${pos(test)})`,
  );

  // Lead times: test borrowers who default inside the test period, scored weekly from the split to default.
  const defaulters = new Map<string, number>();
  for (const r of labelled)
    if (r.defaultAt !== undefined && group(r.borrowerId) === 'test' && r.defaultAt >= splitMs + 28 * DAY_MS)
      defaulters.set(r.borrowerId, r.defaultAt);
  const leadRows: FeatureRow[] = all.filter((r) => {
    const d = defaulters.get(r.borrowerId);
    return d !== undefined && r.t >= splitMs && r.t < d;
  });

  const models: TrainedModel[] = [];
  const reports: ModelReport[] = [];
  const testLabels = labels(test);
  const testGroups = test.map((r) => r.borrowerId);
  const testTimes = test.map((r) => r.t);
  const iterations = opts.bootstrapIterations ?? 1000;
  const predictions = new Map<string, Float32Array>();
  for (const spec of MODEL_SPECS) {
    const features = spec.inputs === 'fused' ? FEATURE_NAMES : ONLINE_FEATURES;
    const imputer = fitImputer(train, features);
    const names = inputNames(imputer);
    const started = Date.now();
    const trained = await trainClassifier({
      kind: spec.kind,
      featureNames: names,
      x: toMatrix(train, imputer),
      y: labels(train),
      xVal: toMatrix(validation, imputer),
      yVal: labels(validation),
      seed,
      ...(opts.maxEpochs === undefined ? {} : { maxEpochs: opts.maxEpochs }),
      ...(spec.kind === 'mlp' ? (opts.network ?? {}) : {}),
      onEpoch: (e) =>
        say(
          `${spec.name}: epoch ${e.epoch} loss ${e.loss.toFixed(4)} val loss ${e.valLoss.toFixed(4)} val AUC ${e.valAuc.toFixed(4)}${e.best ? ' *' : ''}`,
        ),
    });
    const trainMs = Date.now() - started;
    // The fused network's recalibration rests on every non-test borrower's rows (see risk/cross-fit.ts).
    const crossFit =
      spec.name === 'fused-mlp' && opts.crossFit !== false
        ? await crossFittedLogits({
            rows: labelled.filter((r) => r.t < splitMs && group(r.borrowerId) !== 'test'),
            trainTimes,
            unit: (id) => borrowerUnit(id, seed + 1),
            kind: spec.kind,
            seed,
            ...(opts.maxEpochs === undefined ? {} : { maxEpochs: opts.maxEpochs }),
            ...(opts.network === undefined ? {} : { network: opts.network }),
            say: (line) => say(`${spec.name}: ${line}`),
          })
        : undefined;
    // Recalibrated on the calibration slice (never the test period), then floored: see model/calibration.ts.
    const cal = calibrationFigures({
      method: opts.calibration ?? DEFAULT_CALIBRATION,
      pdFloor,
      zCal: crossFit?.z ?? trained.model.predictLogit(toMatrix(calibrationSlice, imputer)),
      yCal: crossFit?.y ?? labels(calibrationSlice),
      zTest: trained.model.predictLogit(toMatrix(test, imputer)),
      yTest: testLabels,
      groups: testGroups,
      seed,
      iterations,
      cohort: { t: testTimes, atMs: splitMs },
    });
    const { calibration, p } = cal;
    predictions.set(spec.name, p);
    const a = auc(p, testLabels);
    const ci = bootstrapCi((rows) => auc(pick(p, rows), pick(testLabels, rows)), test.length, {
      seed,
      iterations,
      groups: testGroups,
    });
    const threshold = alertThreshold(p, testLabels, alertFpr);
    const lead = leadTimes(trained.model, imputer, leadRows, defaulters, threshold, (z) =>
      applyCalibration(z, calibration, pdFloor),
    );
    const roc = rocCurve(p, testLabels);
    reports.push({
      name: spec.name,
      kind: spec.kind,
      inputs: spec.inputs,
      features: names.length,
      epochs: trained.epochs.length,
      bestEpoch: trained.bestEpoch,
      trainMs,
      auc: a,
      aucCi: [ci.lo, ci.hi],
      ks: ks(p, testLabels),
      gini: 2 * a - 1,
      brier: brier(p, testLabels),
      prAuc: prAuc(p, testLabels),
      ece: cal.ece,
      meanPd: cal.meanPd,
      eceRaw: cal.eceRaw,
      meanPdRaw: cal.meanPdRaw,
      maxDecileRatio: cal.maxDecileRatio,
      maxDecileRatioRaw: cal.maxDecileRatioRaw,
      eceCi: cal.eceCi,
      maxDecileRatioCi: cal.maxDecileRatioCi,
      deciles: cal.deciles,
      ...(cal.cohort === undefined ? {} : { cohort: cal.cohort }),
      ...(cal.worstUnderCalibration === undefined
        ? {}
        : { worstUnderCalibration: cal.worstUnderCalibration }),
      calibrationMethods: cal.methods,
      calibrationSlice: cal.slice,
      calibration,
      pdFloor,
      reliability: cal.reliability,
      alertThreshold: threshold,
      leadTime: lead,
      roc: thinRoc(roc.fpr, roc.tpr, 200),
    });
    models.push({
      name: spec.name,
      classifier: trained.model,
      imputer,
      epochs: trained.epochs,
      calibration,
      pdFloor,
      reference: trainingReference(train, imputer.features, (rows) =>
        applyCalibration(trained.model.predictLogit(toMatrix(rows, imputer)), calibration, pdFloor),
      ),
    });
    say(
      `${spec.name}: test AUC ${a.toFixed(4)} [${ci.lo.toFixed(4)}, ${ci.hi.toFixed(4)}], median lead ${lead.medianSustainedDays} d`,
    );
  }
  const pf = predictions.get('fused-mlp') as Float32Array;
  const po = predictions.get('online-mlp') as Float32Array;
  const lift = bootstrapDiff(
    (rows) => auc(pick(pf, rows), pick(testLabels, rows)),
    (rows) => auc(pick(po, rows), pick(testLabels, rows)),
    test.length,
    { seed, iterations, groups: testGroups },
  );
  const fused = MODEL_SPECS[0] as (typeof MODEL_SPECS)[number];
  const pooled =
    opts.pooled === false
      ? undefined
      : await pooledOutOfFold({
          labelled,
          splitMs,
          trainTimes,
          unit: (id) => borrowerUnit(id, seed),
          mainTest: test,
          mainPd: pf,
          mainCalibration: (models[0] as TrainedModel).calibration,
          seed,
          iterations,
          score: networkFoldScorer({
            kind: fused.kind,
            seed,
            ...(opts.maxEpochs === undefined ? {} : { maxEpochs: opts.maxEpochs }),
            ...(opts.network === undefined ? {} : { network: opts.network }),
            calibration: opts.calibration ?? DEFAULT_CALIBRATION,
            pdFloor,
            ...(opts.crossFit === false ? {} : { crossFitUnit: (id: string) => borrowerUnit(id, seed + 1) }),
            say: (rows) => say(`${fused.name}: out-of-fold network for ${rows} more test rows`),
          }),
        });
  const fusedReport = reports.find((r) => r.name === 'fused-mlp') as ModelReport;
  const onlineReport = reports.find((r) => r.name === 'online-mlp') as ModelReport;
  const result: EvaluationResult = {
    generatedAt: new Date().toISOString(),
    setup: {
      horizonDays,
      population,
      seed,
      fromMs: opts.fromMs,
      toMs: opts.toMs,
      splitMs,
      stepDays,
      alertFpr,
      dataHash: dataHash(train),
      rows: { train: train.length, validation: validation.length, test: test.length },
      positives: { train: pos(train), validation: pos(validation), test: pos(test) },
      borrowers: { train: distinct(train), validation: distinct(validation), test: distinct(test) },
      testDefaulters: new Set(test.filter((r) => r.label === 1).map((r) => r.borrowerId)).size,
    },
    models: reports,
    lift: { estimate: lift.estimate, lo: lift.lo, hi: lift.hi, iterations: lift.iterations },
    leadTimeGainDays: fusedReport.leadTime.medianSustainedDays - onlineReport.leadTime.medianSustainedDays,
    ...(pooled === undefined ? {} : { pooled }),
  };
  return {
    result,
    models,
    rows: all,
    test: { rows: test, fusedPd: pf },
    labelled,
  };
}
