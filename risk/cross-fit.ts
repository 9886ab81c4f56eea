import { fitImputer, inputNames, labels, toMatrix, type LabelledRow } from './features/dataset.js';
import { FEATURE_NAMES } from './features/spec.js';
import { trainClassifier } from './model/train.js';
import type { ModelKind } from './model/types.js';

/**
 * Cross-fitted logits for recalibration: every row of the held-in borrowers scored by a network that never saw
 * that borrower, so the recalibration is fitted on all of them instead of on the validation borrowers alone.
 *
 * Why: the recalibration's background hazard h0 (model/calibration.ts 'platt-hazard') is the default rate of the
 * rows the features cannot tell from safe; it rests on the few defaults among a slice's lowest logits. On the
 * validation borrowers alone (15 % of the book, ~15 defaulting borrowers in the default world) it came out at
 * 0.82 %, 0.14 % and 0 % for three borrower splits of the same world — the last two put the safest rows'
 * PDs near 0.1 % where about 1 % default. Cross-fitting (sklearn's CalibratedClassifierCV with
 * `ensemble=False`: out-of-fold predictions for the calibrator, the model itself trained once; Niculescu-Mizil &
 * Caruana 2005 on calibrating on held-out data) fits the same three parameters on ~4× the rows and defaults.
 * The borrowers are split into `folds` groups by a seeded hash; for each group a network is trained on the
 * others (early stopping on the next group), exactly as the model itself, and scores the group's rows.
 * Pinned by risk/test/cross-fit.test.ts.
 */
export const CROSS_FIT_FOLDS = 4;

export interface CrossFitInput {
  /** Rows to score out of fold (e.g. every weekly row before the split of the non-test borrowers). */
  readonly rows: readonly LabelledRow[];
  /** Of those, the dates a network trains on (every `stepDays`). */
  readonly trainTimes: ReadonlySet<number>;
  /** Borrower → [0, 1), independent of the split's own assignment. */
  readonly unit: (borrowerId: string) => number;
  readonly folds?: number;
  readonly kind: ModelKind;
  readonly seed: number;
  readonly maxEpochs?: number;
  readonly network?: { readonly hidden?: readonly number[]; readonly l2?: number; readonly dropout?: number };
  readonly say?: (line: string) => void;
}

/** The out-of-fold logit of every row of `rows`, in order, and their labels. */
export async function crossFittedLogits(
  input: CrossFitInput,
): Promise<{ z: Float32Array; y: Uint8Array; folds: number }> {
  const k = input.folds ?? CROSS_FIT_FOLDS;
  if (!Number.isInteger(k) || k < 3) throw new RangeError(`cross-fitting needs ≥ 3 folds, got ${k}`);
  const group = (r: LabelledRow): number => Math.min(k - 1, Math.floor(input.unit(r.borrowerId) * k));
  const z = new Float32Array(input.rows.length);
  for (let g = 0; g < k; g++) {
    const held = input.rows.map((r, i) => (group(r) === g ? i : -1)).filter((i) => i >= 0);
    if (held.length === 0) continue;
    const stop = (g + 1) % k;
    const train = input.rows.filter((r) => input.trainTimes.has(r.t) && group(r) !== g && group(r) !== stop);
    const validation = input.rows.filter((r) => input.trainTimes.has(r.t) && group(r) === stop);
    input.say?.(`cross-fitting ${g + 1}/${k}: ${train.length} training rows, ${held.length} scored`);
    const imputer = fitImputer(train, FEATURE_NAMES);
    const trained = await trainClassifier({
      kind: input.kind,
      featureNames: inputNames(imputer),
      x: toMatrix(train, imputer),
      y: labels(train),
      xVal: toMatrix(validation, imputer),
      yVal: labels(validation),
      seed: input.seed,
      ...(input.maxEpochs === undefined ? {} : { maxEpochs: input.maxEpochs }),
      ...(input.kind === 'mlp' ? (input.network ?? {}) : {}),
    });
    try {
      const scored = trained.model.predictLogit(
        toMatrix(
          held.map((i) => input.rows[i] as LabelledRow),
          imputer,
        ),
      );
      held.forEach((i, j) => {
        z[i] = scored[j] as number;
      });
    } finally {
      trained.model.dispose();
    }
  }
  return { z, y: labels(input.rows), folds: k };
}
