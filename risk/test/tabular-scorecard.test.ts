import { describe, expect, it } from 'vitest';
import { mulberry32 } from '../../core/random.js';
import type { Matrix } from '../model/types.js';
import type { ColumnGroup } from '../tabular/encode.js';
import { Scorecard } from '../tabular/scorecard.js';
import { fitBinnings, monotoneBins } from '../tabular/woe.js';

/** WoE binning and the points scorecard (woe.ts, scorecard.ts). */

const sigmoid = (z: number): number => 1 / (1 + Math.exp(-z));

/** Columns: age (risk falls with it, noisy), util (risk rises), util__missing, region one-hot (a, b, c). */
function data(n: number, seed: number): { x: Matrix; y: Uint8Array } {
  const random = mulberry32(seed);
  const cols = 6;
  const d = new Float32Array(n * cols);
  const y = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const age = 18 + 60 * random();
    const missing = random() < 0.1;
    const util = missing ? 0.4 : random() * 1.2;
    const region = Math.floor(random() * 3);
    const z = -1.5 - 0.04 * (age - 40) + 2 * (util - 0.5) + (missing ? 0.8 : 0) + (region === 2 ? 0.7 : 0);
    d.set(
      [age, util, missing ? 1 : 0, region === 0 ? 1 : 0, region === 1 ? 1 : 0, region === 2 ? 1 : 0],
      i * cols,
    );
    y[i] = random() < sigmoid(z) ? 1 : 0;
  }
  return { x: { rows: n, cols, data: d }, y };
}
const groups: ColumnGroup[] = [
  { kind: 'numeric', name: 'age', col: 0, log: false },
  { kind: 'numeric', name: 'util', col: 1, missingCol: 2, log: false },
  { kind: 'categorical', name: 'region', cols: [3, 4, 5], levels: ['a', 'b', 'c'] },
];
const names = ['age', 'util', 'util__missing', 'region=a', 'region=b', 'region=c'];

describe('monotone WoE binning', () => {
  it("when a column's bad rate rises with it (with noise), then the bins' bad rates rise and their WoE falls", () => {
    const random = mulberry32(9);
    const n = 5000;
    const v = Float64Array.from({ length: n }, () => random());
    // A wiggle on top of the trend: raw quantile bins are not monotone, the pooled ones must be.
    const y = Uint8Array.from(v, (x) => (random() < 0.05 + 0.3 * x + 0.08 * Math.sin(40 * x) ? 1 : 0));
    const { cells, direction } = monotoneBins(v, y, { preBins: 20, minBinShare: 0.02 });
    expect(direction).toBe(1);
    expect(cells.length).toBeGreaterThan(2);
    for (let i = 1; i < cells.length; i++) {
      const prev = cells[i - 1] as { bad: number; n: number };
      const cur = cells[i] as { bad: number; n: number };
      expect(cur.bad / cur.n).toBeGreaterThanOrEqual(prev.bad / prev.n);
      expect(cur.n).toBeGreaterThanOrEqual(0.02 * n);
    }
    const { x, y: yy } = data(8000, 3);
    const [age, util] = fitBinnings(x, yy, groups);
    if (age?.kind !== 'numeric' || util?.kind !== 'numeric') throw new Error('numeric binnings expected');
    // Older = safer: WoE (ln good%/bad%) rises with age; utilisation: WoE falls.
    expect(age.direction).toBe(-1);
    age.woe.forEach((w, i) => i > 0 && expect(w).toBeGreaterThanOrEqual(age.woe[i - 1] as number));
    util.woe.forEach((w, i) => i > 0 && expect(w).toBeLessThanOrEqual(util.woe[i - 1] as number));
    // Missing utilisation is riskier than average: its own bin, negative WoE.
    expect(util.missingCount).toBeGreaterThan(500);
    expect(util.missingWoe).toBeLessThan(0);
  });
});

describe('scorecard', () => {
  const train = data(8000, 1);
  const card = Scorecard.fit(train.x, train.y, groups, names);

  it('when two rows are scored, then their points differ by PDO × log2 of their odds ratio (20 points double the odds)', () => {
    const z = card.predictLogit(train.x);
    const pts = card.points(train.x);
    for (const [i, j] of [
      [0, 1],
      [2, 3],
      [10, 200],
    ] as const) {
      const oddsGoodRatio = Math.exp(-(z[i] as number)) / Math.exp(-(z[j] as number));
      expect((pts[i] as number) - (pts[j] as number)).toBeCloseTo(20 * Math.log2(oddsGoodRatio), 6);
    }
    // 600 points = odds 50:1: a row's points map back to its PD on that scale.
    const odds = Math.pow(2, ((pts[0] as number) - 600) / 20) * 50;
    expect(1 / (1 + odds)).toBeCloseTo(sigmoid(z[0] as number), 8);
  });

  it("when a row's score is taken apart, then it is the sum of its bins' points, and the reasons are the columns furthest below their best bin", () => {
    const table = card.table();
    expect(table.map((t) => t.column).sort()).toEqual(['age', 'region', 'util']);
    const pts = card.points(train.x);
    for (let r = 0; r < 20; r++) {
      const reasons = card.reasons(train.x, r, 3);
      const shortfalls = reasons.map((x) => x.shortfall);
      expect(shortfalls).toEqual([...shortfalls].sort((a, b) => b - a));
      // Sum of the row's bin points (best minus shortfall for listed columns, best for the rest).
      const best = table.map((t) => Math.max(...t.bins.map((b) => b.points)));
      const lost = reasons.reduce((s, x) => s + x.shortfall, 0);
      expect(best.reduce((a, b) => a + b, 0) - lost).toBeCloseTo(pts[r] as number, 6);
    }
  });

  it('when held-out rows are scored, then the scorecard ranks them well and saves and reloads to the same logits', () => {
    const test = data(4000, 2);
    const z = card.predictLogit(test.x);
    let pos = 0;
    let wins = 0;
    const ones: number[] = [];
    const zeros: number[] = [];
    test.y.forEach((v, i) => (v === 1 ? ones : zeros).push(z[i] as number));
    for (const a of ones.slice(0, 300))
      for (const b of zeros.slice(0, 1000)) {
        pos++;
        wins += a > b ? 1 : a === b ? 0.5 : 0;
      }
    expect(wins / pos).toBeGreaterThan(0.7);
    const again = Scorecard.fromJSON(JSON.parse(JSON.stringify(card.toJSON())));
    expect(Array.from(again.predictLogit(test.x))).toEqual(Array.from(z));
  });
});
