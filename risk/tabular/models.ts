import { RiskfuseError } from '../../core/errors.js';
import { logLoss } from '../metrics.js';
import { loadClassifier } from '../model/artifact.js';
import {
  applyCalibration,
  checkCalibration,
  fitCalibration,
  logitOf,
  type CalibrationJson,
  type CalibrationMethod,
} from '../model/calibration.js';
import { trainClassifier } from '../model/train.js';
import type { Classifier, EpochReport, Matrix, ModelArtifact, TrainOptions } from '../model/types.js';
import type { ColumnGroup } from './encode.js';
import { Gbdt, GBDT_DEFAULTS, type GbdtJson, type GbdtOptions } from './gbdt.js';
import { Scorecard, type ScorecardJson } from './scorecard.js';

/**
 * The model kinds `riskfuse train` fits on a lender's table, behind one interface: a raw logit per row.
 * - logistic, mlp: the TensorFlow.js networks (risk/model/train.ts), early-stopped on the holdout;
 * - scorecard: monotone WoE bins + logistic regression, in points (scorecard.ts);
 * - gbdt: histogram gradient-boosted trees (gbdt.ts), trees chosen by early stopping on the holdout;
 * - ensemble: the mean of the members' recalibrated logits (scorecard, gbdt and, when trained, mlp). Averaging
 *   log-odds of models that err differently (additive bins, axis-aligned trees, a smooth network) is the
 *   simplest stacking that cannot over-fit the holdout: no weight is learnt.
 * Hyper-parameters are chosen on the holdout (a share of the training fold), never on the test fold.
 */
export type TabularKind = 'logistic' | 'mlp' | 'scorecard' | 'gbdt' | 'ensemble';
export const TABULAR_KINDS: readonly TabularKind[] = ['logistic', 'mlp', 'scorecard', 'gbdt', 'ensemble'];

export type TabularModelJson =
  | { readonly kind: 'logistic' | 'mlp'; readonly artifact: ModelArtifact }
  | ScorecardJson
  | GbdtJson
  | {
      readonly kind: 'ensemble';
      readonly members: { readonly model: TabularModelJson; readonly calibration: CalibrationJson }[];
    };

export interface TabularModel {
  readonly kind: TabularKind;
  readonly featureNames: readonly string[];
  predictLogit(x: Matrix): Float64Array;
  toJSON(): TabularModelJson;
  dispose(): void;
  /** Hyper-parameters chosen and training facts, for the report. */
  readonly notes: Readonly<Record<string, number | string>>;
}

export type NetworkSettings = Partial<
  Pick<TrainOptions, 'hidden' | 'maxEpochs' | 'patience' | 'batchSize' | 'learningRate' | 'l2' | 'dropout'>
>;

export interface FitContext {
  readonly x: Matrix;
  readonly y: Uint8Array;
  /** Holdout of the training fold: early stopping, hyper-parameter choice, recalibration. */
  readonly xVal: Matrix;
  readonly yVal: Uint8Array;
  readonly groups: readonly ColumnGroup[];
  readonly featureNames: readonly string[];
  readonly seed: number;
  readonly network?: NetworkSettings;
  readonly gbdt?: GbdtOptions;
  readonly calibration: CalibrationMethod;
  readonly onEpoch?: (kind: TabularKind, e: EpochReport) => void;
  readonly onNote?: (kind: TabularKind, text: string) => void;
}

/** A fitted model with its recalibration (fitted on the holdout). */
export interface Fitted {
  readonly model: TabularModel;
  readonly calibration: CalibrationJson;
}

function wrapClassifier(c: Classifier, notes: Record<string, number | string>): TabularModel {
  return {
    kind: c.kind,
    featureNames: c.featureNames,
    predictLogit: (x) => Float64Array.from(c.predictLogit(x)),
    toJSON: () => ({ kind: c.kind, artifact: c.toArtifact() }),
    dispose: () => c.dispose(),
    notes,
  };
}

function wrapScorecard(s: Scorecard, notes: Record<string, number | string>): TabularModel {
  return {
    kind: 'scorecard',
    featureNames: s.json.featureNames,
    predictLogit: (x) => s.predictLogit(x),
    toJSON: () => s.toJSON(),
    dispose: () => undefined,
    notes,
  };
}

function wrapGbdt(g: Gbdt, notes: Record<string, number | string>): TabularModel {
  return {
    kind: 'gbdt',
    featureNames: g.featureNames,
    predictLogit: (x) => g.predictLogit(x),
    toJSON: () => g.toJSON(),
    dispose: () => undefined,
    notes,
  };
}

function ensembleOf(members: readonly Fitted[]): TabularModel {
  const first = members[0];
  if (first === undefined) throw new RiskfuseError('INTERNAL', 'an ensemble needs members');
  return {
    kind: 'ensemble',
    featureNames: first.model.featureNames,
    predictLogit: (x) => {
      const out = new Float64Array(x.rows);
      for (const m of members) {
        const pd = applyCalibration(m.model.predictLogit(x), m.calibration);
        for (let i = 0; i < out.length; i++) out[i]! += logitOf(pd[i] as number) / members.length;
      }
      return out;
    },
    toJSON: () => ({
      kind: 'ensemble',
      members: members.map((m) => ({ model: m.model.toJSON(), calibration: m.calibration })),
    }),
    dispose: () => members.forEach((m) => m.model.dispose()),
    notes: { members: members.map((m) => m.model.kind).join('+') },
  };
}

function holdoutLoss(m: TabularModel, ctx: FitContext): number {
  const z = m.predictLogit(ctx.xVal);
  return logLoss(
    Float64Array.from(z, (v) => 1 / (1 + Math.exp(-v))),
    ctx.yVal,
  );
}

/** GBDT candidates tried on the holdout: the default, then shallower and deeper trees. */
function gbdtGrid(rows: number): GbdtOptions[] {
  const minLeaf = Math.max(10, Math.min(200, Math.round(rows / 2500)));
  return [
    { maxDepth: 4, minLeafRows: minLeaf },
    { maxDepth: 3, minLeafRows: minLeaf },
    { maxDepth: 6, minLeafRows: minLeaf * 2 },
  ];
}

/** Work (rows × columns × trees) the GBDT search may spend beyond the first candidate: keeps 150k-row tables to one. */
const GBDT_SEARCH_CELLS = 4e6;

async function fitBase(kind: Exclude<TabularKind, 'ensemble'>, ctx: FitContext): Promise<TabularModel> {
  if (kind === 'logistic' || kind === 'mlp') {
    const r = await trainClassifier({
      ...ctx.network,
      kind,
      featureNames: ctx.featureNames,
      x: ctx.x,
      y: ctx.y,
      xVal: ctx.xVal,
      yVal: ctx.yVal,
      seed: ctx.seed,
      onEpoch: (e) => ctx.onEpoch?.(kind, e),
    });
    return wrapClassifier(r.model, { bestEpoch: r.bestEpoch, epochs: r.epochs.length });
  }
  if (kind === 'scorecard') {
    // Bin size is the scorecard's one real knob: finer bins fit more, coarser ones generalise.
    let best: { m: TabularModel; loss: number } | undefined;
    for (const minBinShare of [0.02, 0.05, 0.1]) {
      const s = Scorecard.fit(ctx.x, ctx.y, ctx.groups, ctx.featureNames, { minBinShare });
      const m = wrapScorecard(s, { minBinShare, columns: s.json.used.length });
      const loss = holdoutLoss(m, ctx);
      if (best === undefined || loss < best.loss) best = { m, loss };
    }
    return (best as { m: TabularModel }).m;
  }
  const grid = gbdtGrid(ctx.x.rows);
  const tries = Math.max(
    1,
    Math.min(grid.length, 1 + Math.floor(GBDT_SEARCH_CELLS / (ctx.x.rows * ctx.x.cols * 100))),
  );
  let best: { m: TabularModel; loss: number } | undefined;
  for (const candidate of grid.slice(0, tries)) {
    const options = { ...candidate, ...ctx.gbdt, seed: ctx.seed };
    const g = Gbdt.fit(ctx.x, ctx.y, ctx.xVal, ctx.yVal, ctx.featureNames, {
      ...options,
      onProgress: (trees, loss) =>
        ctx.onNote?.('gbdt', `${trees} trees, holdout log loss ${loss.toFixed(4)}`),
    });
    const m = wrapGbdt(g, {
      trees: g.json.trees.length,
      maxDepth: options.maxDepth ?? GBDT_DEFAULTS.maxDepth,
      minLeafRows: options.minLeafRows ?? GBDT_DEFAULTS.minLeafRows,
      candidates: tries,
    });
    const loss = holdoutLoss(m, ctx);
    if (best === undefined || loss < best.loss) best = { m, loss };
  }
  return (best as { m: TabularModel }).m;
}

export type EnsembleMember = 'scorecard' | 'gbdt' | 'mlp';

/** The ensemble's members when `kinds` are cross-validated: scorecard and gbdt, and the MLP when it is one of them. */
export function ensembleMembersFor(kinds: readonly TabularKind[]): EnsembleMember[] {
  return ['scorecard', 'gbdt', ...(kinds.includes('mlp') ? (['mlp'] as const) : [])];
}

/**
 * Fits the requested kinds on ctx.x (the ensemble from the others' fits, which must include scorecard and
 * gbdt; they are fitted for it when not requested), each recalibrated on the holdout.
 */
export async function fitKinds(
  kinds: readonly TabularKind[],
  ctx: FitContext,
  ensembleMembers: readonly EnsembleMember[] = ensembleMembersFor(kinds),
): Promise<Map<TabularKind, Fitted>> {
  const needed = new Set<Exclude<TabularKind, 'ensemble'>>();
  for (const k of kinds) {
    if (k === 'ensemble') ensembleMembers.forEach((m) => needed.add(m));
    else needed.add(k);
  }
  const fitted = new Map<TabularKind, Fitted>();
  try {
    for (const k of TABULAR_KINDS) {
      if (k === 'ensemble' || !needed.has(k)) continue;
      const model = await fitBase(k, ctx);
      fitted.set(k, {
        model,
        calibration: fitCalibration(ctx.calibration, model.predictLogit(ctx.xVal), ctx.yVal),
      });
    }
    if (kinds.includes('ensemble')) {
      const members = ensembleMembers.flatMap((k) => {
        const f = fitted.get(k);
        return f === undefined ? [] : [f];
      });
      const model = ensembleOf(members);
      fitted.set('ensemble', {
        model,
        calibration: fitCalibration(ctx.calibration, model.predictLogit(ctx.xVal), ctx.yVal),
      });
    }
  } catch (err) {
    for (const f of fitted.values()) if (f.model.kind !== 'ensemble') f.model.dispose();
    throw err;
  }
  // Members fitted only for the ensemble stay alive inside it; the map lists what was asked for.
  for (const k of [...fitted.keys()]) if (!kinds.includes(k)) fitted.delete(k);
  return fitted;
}

/** Rebuilds a saved tabular model (tfjs members are loaded asynchronously). */
export async function loadTabularModel(json: unknown): Promise<TabularModel> {
  const j = json as { kind?: unknown } | null;
  if (j === null || typeof j !== 'object') throw new RiskfuseError('MODEL_INVALID', 'model is not an object');
  if (j.kind === 'scorecard') return wrapScorecard(Scorecard.fromJSON(j), {});
  if (j.kind === 'gbdt') return wrapGbdt(Gbdt.fromJSON(j), {});
  if (j.kind === 'logistic' || j.kind === 'mlp') {
    const c = await loadClassifier((j as { artifact: ModelArtifact }).artifact);
    return wrapClassifier(c, {});
  }
  if (j.kind === 'ensemble') {
    const raw = (j as { members?: unknown }).members;
    if (!Array.isArray(raw) || raw.length === 0)
      throw new RiskfuseError('MODEL_INVALID', 'ensemble: members must be a non-empty array');
    const members: Fitted[] = [];
    try {
      for (const m of raw as { model: unknown; calibration: unknown }[]) {
        members.push({
          model: await loadTabularModel(m.model),
          calibration: checkCalibration(m.calibration, 'ensemble member'),
        });
      }
    } catch (err) {
      members.forEach((m) => m.model.dispose());
      throw err;
    }
    return ensembleOf(members);
  }
  throw new RiskfuseError('MODEL_INVALID', `unknown model kind ${JSON.stringify(j.kind)}`);
}
