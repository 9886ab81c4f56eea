import { describe, expect, it } from 'vitest';
import {
  extraFolds,
  MAIN_TEST_FROM,
  networkFoldScorer,
  pooledOutOfFold,
  type FoldScorer,
} from '../evaluate-pooled.js';
import { borrowerUnit } from '../evaluate.js';
import type { LabelledRow } from '../features/dataset.js';
import { FEATURE_NAMES } from '../features/spec.js';
import { mulberry32 } from '../../core/random.js';
import { gaussian } from './synthetic.js';

/** The fused network's calibration on every borrower once, out of time and out of fold (risk/evaluate-pooled.ts). */

const WEEK = 7 * 86_400_000;
const SEED = 42;
const SPLIT = 20 * WEEK;
const unit = (id: string): number => borrowerUnit(id, SEED);

/** Weekly rows of `borrowers` borrowers over 30 weeks; the label follows the first feature. */
function world(borrowers: number, seed: number): LabelledRow[] {
  const rand = mulberry32(seed);
  const normal = gaussian(rand);
  const rows: LabelledRow[] = [];
  for (let b = 0; b < borrowers; b++) {
    for (let w = 0; w < 30; w++) {
      const values = Float64Array.from(FEATURE_NAMES, () => normal());
      const logit = -3.5 + 1.5 * (values[0] as number);
      rows.push({
        borrowerId: `b${String(b).padStart(4, '0')}`,
        t: w * WEEK,
        values,
        status: { active: true, outstanding: 1000 },
        label: rand() < 1 / (1 + Math.exp(-logit)) ? 1 : 0,
      });
    }
  }
  return rows;
}

const isMainTest = (id: string): boolean => unit(id) >= MAIN_TEST_FROM;

/** Pools `labelled` with the main split's test rows at `mainPdOf` and the other folds scored by `score`. */
function pool(labelled: readonly LabelledRow[], mainPdOf: (r: LabelledRow) => number, score: FoldScorer) {
  const mainTest = labelled.filter((r) => r.t >= SPLIT && isMainTest(r.borrowerId));
  return pooledOutOfFold({
    labelled,
    splitMs: SPLIT,
    trainTimes: new Set(labelled.filter((r) => r.t % (2 * WEEK) === 0).map((r) => r.t)),
    unit,
    mainTest,
    mainPd: Float32Array.from(mainTest, mainPdOf),
    score,
    seed: SEED,
    iterations: 50,
  });
}

describe('pooled out-of-fold calibration', () => {
  it('when the folds are laid over the borrower units, then with the main test they cover every unit once, and no fold validates on its own test borrowers', () => {
    const folds = extraFolds();
    for (let k = 0; k < 1000; k++) {
      const u = k / 1000;
      const tests = folds.filter((f) => f.role(u) === 'test').length + (u >= MAIN_TEST_FROM ? 1 : 0);
      expect(tests).toBe(1);
    }
    for (const f of folds) {
      const share = (role: string): number =>
        Array.from({ length: 1000 }, (_, k) => k / 1000).filter((u) => f.role(u) === role).length / 1000;
      expect(share('validation')).toBeCloseTo(0.15, 2);
      expect(share('train')).toBeCloseTo(0.525, 2);
    }
  });

  it('when every borrower is pooled, then each post-split row is scored once, the main fold keeps its PDs, and no fold model saw the borrowers it scores', async () => {
    const labelled = world(300, 1);
    const seen: { trained: Set<string>; tested: Set<string>; early: boolean }[] = [];
    const score: FoldScorer = (fold) => {
      seen.push({
        trained: new Set([...fold.train, ...fold.validation, ...fold.calibration].map((r) => r.borrowerId)),
        tested: new Set(fold.test.map((r) => r.borrowerId)),
        early: [...fold.train, ...fold.validation, ...fold.calibration].every((r) => r.t < SPLIT),
      });
      return Promise.resolve({
        pd: Float32Array.from(fold.test, (r) => 0.01 + 0.001 * (r.values[0] as number)),
      });
    };
    const q = await pool(labelled, () => 0.0123, score);
    const mainTest = labelled.filter((r) => r.t >= SPLIT && isMainTest(r.borrowerId));
    const post = labelled.filter((r) => r.t >= SPLIT);
    expect(q.rows).toBe(post.length);
    expect(q.borrowers).toBe(300);
    expect(q.defaults).toBe(post.reduce((s, r) => s + r.label, 0));
    expect(q.folds).toBe(3);
    expect(q.perFold[0]?.rows).toBe(mainTest.length);
    expect(q.perFold.reduce((s, f) => s + f.rows, 0)).toBe(post.length);
    expect(seen).toHaveLength(2);
    for (const s of seen) {
      expect([...s.tested].some((id) => s.trained.has(id))).toBe(false);
      expect([...s.tested].some(isMainTest)).toBe(false);
      expect(s.early).toBe(true);
    }
    // The pool holds the main network's PDs for its borrowers and each fold's PDs for the others.
    const expected =
      post.reduce(
        (s, r) => s + (isMainTest(r.borrowerId) ? 0.0123 : 0.01 + 0.001 * (r.values[0] as number)),
        0,
      ) / post.length;
    expect(q.meanPd).toBeCloseTo(expected, 6);
  });

  it('when the real fold scorer trains on rows whose default follows a feature, then the pooled PDs rank the defaults and match their rate', async () => {
    const score = networkFoldScorer({
      kind: 'logistic',
      seed: SEED,
      maxEpochs: 30,
      calibration: 'platt',
      pdFloor: 0.0003,
    });
    // A useless main network: one PD for all. The pooled AUC is then carried by the two trained folds.
    const q = await pool(world(400, 2), () => 0.05, score);
    expect(q.perFold[1]?.auc).toBeGreaterThan(0.75);
    expect(q.perFold[2]?.auc).toBeGreaterThan(0.75);
    expect(q.perFold[0]?.auc).toBe(0.5);
    expect(Math.abs(q.meanPd - q.observedRate)).toBeLessThan(0.015);
    expect(q.worstUnderCalibration.observed).toBe(q.maxDecileRatio);
  }, 60_000);
});
