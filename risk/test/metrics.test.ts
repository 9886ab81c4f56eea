import { describe, expect, it } from 'vitest';
import {
  auc,
  bootstrapCi,
  bootstrapDiff,
  brier,
  expectedCalibrationError,
  gini,
  ks,
  logLoss,
  pick,
  prAuc,
  reliabilityTable,
  rocCurve,
} from '../metrics.js';
import { mulberry32 } from '../../core/random.js';

// Positives score 0.35, 0.8, 0.4; negatives 0.1, 0.4 (one tie across classes at 0.4).
const scores = [0.1, 0.4, 0.35, 0.8, 0.4];
const labels = [0, 0, 1, 1, 1];

function bruteAuc(s: ArrayLike<number>, y: ArrayLike<number>): number {
  let wins = 0;
  let pairs = 0;
  for (let i = 0; i < s.length; i++) {
    if (y[i] !== 1) continue;
    for (let j = 0; j < s.length; j++) {
      if (y[j] !== 0) continue;
      pairs++;
      wins += (s[i] as number) > (s[j] as number) ? 1 : s[i] === s[j] ? 0.5 : 0;
    }
  }
  return wins / pairs;
}

describe('discrimination metrics', () => {
  it('when scores tie across classes, then AUC counts the tie as ½ (4.5 of 6 pairs)', () => {
    expect(auc(scores, labels)).toBeCloseTo(0.75, 12);
    expect(gini(scores, labels)).toBeCloseTo(0.5, 12);
  });

  it('when computed on a small set, then ROC, KS and average precision match hand-computed values', () => {
    const roc = rocCurve(scores, labels);
    expect(roc.fpr).toEqual([0, 0, 0.5, 0.5, 1]);
    expect(roc.tpr.map((t) => Math.round(t * 1e9) / 1e9)).toEqual([0, 0.333333333, 0.666666667, 1, 1]);
    expect(roc.thresholds).toEqual([Infinity, 0.8, 0.4, 0.35, 0.1]);
    // max |TPR − FPR| is at threshold 0.35: 1 − 0.5.
    expect(ks(scores, labels)).toBeCloseTo(0.5, 12);
    // AP = 1/3·1 + 1/3·2/3 + 1/3·3/4 = 29/36.
    expect(prAuc(scores, labels)).toBeCloseTo(29 / 36, 12);
  });

  it('when compared with the O(n²) pair count on random data with many ties, then AUC agrees', () => {
    const rand = mulberry32(42);
    for (const n of [2, 17, 500, 3000]) {
      const s = Array.from({ length: n }, () => Math.round(rand() * 20) / 20);
      const y = s.map((v, i) => (i === 0 ? 1 : i === 1 ? 0 : rand() < 0.2 + 0.5 * v ? 1 : 0));
      expect(auc(s, y)).toBeCloseTo(bruteAuc(s, y), 12);
    }
  });

  it('when only one class is present, then AUC, KS and Gini are NaN and ROC is empty', () => {
    expect(auc([0.1, 0.2], [0, 0])).toBeNaN();
    expect(ks([0.1, 0.2], [1, 1])).toBeNaN();
    expect(gini([0.1, 0.2], [1, 1])).toBeNaN();
    expect(prAuc([0.1, 0.2], [0, 0])).toBeNaN();
    expect(rocCurve([0.1], [1]).fpr).toEqual([]);
  });

  it('when inputs are malformed, then a VALIDATION_FAILED error says what is wrong', () => {
    expect(() => auc([0.1, 0.2], [1])).toThrow(/2 scores but 1 labels/);
    expect(() => auc([], [])).toThrow(/no rows/);
    expect(() => auc([0.1, 0.2], [1, 2])).toThrow(/label 2 at row 1/);
    expect(() => auc([NaN, 0.2], [1, 0])).toThrow(/not finite/);
    expect(() => brier([1.5], [1])).toThrow(/outside \[0, 1\]/);
  });
});

describe('calibration metrics', () => {
  const p = [0.05, 0.15, 0.15, 0.85, 0.95];
  const y = [0, 0, 1, 1, 1];

  it('when probabilities fall in four uniform bins, then the table and ECE match hand-computed values', () => {
    const table = reliabilityTable(p, y, 10);
    expect(table.map((b) => [b.lo, b.count, b.meanPredicted, b.observedRate])).toEqual([
      [0, 1, 0.05, 0],
      [0.1, 2, 0.15, 0.5],
      [0.8, 1, 0.85, 1],
      [0.9, 1, 0.95, 1],
    ]);
    // (0.05 + 2·0.35 + 0.15 + 0.05) / 5
    expect(expectedCalibrationError(p, y, 10)).toBeCloseTo(0.19, 12);
  });

  it('when p is exactly 1 or a bin edge, then it falls in the last bin or the bin starting at that edge', () => {
    const table = reliabilityTable([1, 0.1, 0], [1, 0, 0], 10);
    expect(table.map((b) => [b.lo, b.count])).toEqual([
      [0, 1],
      [0.1, 1],
      [0.9, 1],
    ]);
  });

  it('when quantile bins are asked for, then each holds about the same number of rows', () => {
    const rand = mulberry32(3);
    const q = Array.from({ length: 1000 }, () => rand() ** 4);
    const table = reliabilityTable(
      q,
      q.map(() => 0),
      5,
      'quantile',
    );
    expect(table).toHaveLength(5);
    for (const b of table) expect(b.count).toBeGreaterThanOrEqual(195);
  });

  it('when computed by hand, then Brier and log loss agree', () => {
    expect(brier(p, y)).toBeCloseTo(0.7725 / 5, 12);
    const expected =
      -(Math.log(0.95) + Math.log(0.85) + Math.log(0.15) + Math.log(0.85) + Math.log(0.95)) / 5;
    expect(logLoss(p, y)).toBeCloseTo(expected, 12);
    expect(Number.isFinite(logLoss([0, 1], [1, 0]))).toBe(true);
  });
});

describe('bootstrap', () => {
  const rand = mulberry32(9);
  const n = 2000;
  const y = Array.from({ length: n }, () => (rand() < 0.1 ? 1 : 0));
  const strong = y.map((v) => v * 0.6 + rand());
  const weak = y.map((v) => v * 0.2 + rand());
  const aucOf = (s: number[]) => (rows: Uint32Array) => auc(pick(s, rows), pick(y, rows));

  it('when run twice with one seed, then the interval is identical and brackets the estimate', () => {
    const a = bootstrapCi(aucOf(strong), n, { seed: 1, iterations: 300 });
    const b = bootstrapCi(aucOf(strong), n, { seed: 1, iterations: 300 });
    expect(a).toEqual(b);
    expect(a.estimate).toBe(auc(strong, y));
    expect(a.lo).toBeLessThan(a.estimate);
    expect(a.hi).toBeGreaterThan(a.estimate);
    expect(a.hi - a.lo).toBeLessThan(0.1);
    expect(bootstrapCi(aucOf(strong), n, { seed: 2, iterations: 300 }).lo).not.toBe(a.lo);
  });

  it('when rows repeat within borrowers, then resampling whole groups gives a wider, honest interval', () => {
    // 200 borrowers, each seen 5 times with the same value: the information is that of 200 rows, not 1000.
    const values = Array.from({ length: 200 }, () => rand());
    const rows = values.flatMap((v) => [v, v, v, v, v]);
    const groups = values.flatMap((_, g) => [g, g, g, g, g]);
    const mean = (idx: Uint32Array) => pick(rows, idx).reduce((a, b) => a + b, 0) / idx.length;
    const byRow = bootstrapCi(mean, rows.length, { seed: 5, iterations: 400 });
    const byGroup = bootstrapCi(mean, rows.length, { seed: 5, iterations: 400, groups });
    // √5 ≈ 2.24 in expectation.
    expect((byGroup.hi - byGroup.lo) / (byRow.hi - byRow.lo)).toBeGreaterThan(1.6);
  });

  it('when two models are compared on the same resamples, then the paired difference is estimated', () => {
    const d = bootstrapDiff(aucOf(strong), aucOf(weak), n, { seed: 3, iterations: 300 });
    expect(d.estimate).toBeCloseTo(auc(strong, y) - auc(weak, y), 12);
    expect(d.lo).toBeGreaterThan(0);
    expect(d.hi).toBeGreaterThan(d.lo);
    const same = bootstrapDiff(aucOf(weak), aucOf(weak), n, { seed: 3, iterations: 50 });
    expect([same.estimate, same.lo, same.hi]).toEqual([0, 0, 0]);
  });

  it('when a resample has no defaulter, then it is skipped and counted rather than poisoning the interval', () => {
    const few = Array.from({ length: 40 }, (_, i) => (i === 0 ? 1 : 0));
    const s = few.map((v, i) => v + i / 100);
    const ci = bootstrapCi((rows) => auc(pick(s, rows), pick(few, rows)), few.length, {
      seed: 1,
      iterations: 200,
    });
    expect(ci.skipped).toBeGreaterThan(0);
    expect(ci.skipped).toBeLessThan(200);
    expect(Number.isNaN(ci.lo)).toBe(false);
  });
});
