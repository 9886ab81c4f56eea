import { describe, expect, it } from 'vitest';
import { mulberry32 } from '../../core/random.js';
import { auc } from '../metrics.js';
import type { Matrix } from '../model/types.js';
import { Gbdt } from '../tabular/gbdt.js';

/** Histogram gradient-boosted trees (gbdt.ts). */

const sigmoid = (z: number): number => 1 / (1 + Math.exp(-z));

/** Two features whose risk is an interaction (high when exactly one is high) plus a monotone third. */
function data(n: number, seed: number): { x: Matrix; y: Uint8Array } {
  const random = mulberry32(seed);
  const d = new Float32Array(n * 3);
  const y = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const a = random();
    const b = random();
    const c = random();
    d.set([a, b, c], i * 3);
    const z = -2 + 2.5 * (a > 0.5 !== b > 0.5 ? 1 : 0) + 1.5 * c;
    y[i] = random() < sigmoid(z) ? 1 : 0;
  }
  return { x: { rows: n, cols: 3, data: d }, y };
}

describe('gradient-boosted trees', () => {
  const train = data(6000, 1);
  const val = data(2000, 2);
  const test = data(4000, 3);

  it('when the risk is an interaction, then the trees rank held-out rows far better than chance and stop early on the validation loss', () => {
    const m = Gbdt.fit(train.x, train.y, val.x, val.y, ['a', 'b', 'c'], { maxTrees: 400, seed: 1 });
    expect(auc(m.predictLogit(test.x), test.y)).toBeGreaterThan(0.75);
    expect(m.json.trees.length).toBeLessThan(400);
    expect(m.json.trees.length).toBeGreaterThan(10);
  });

  it('when a feature is constrained to raise the risk, then the logit never falls as it rises', () => {
    const m = Gbdt.fit(train.x, train.y, val.x, val.y, ['a', 'b', 'c'], { monotone: [0, 0, 1], seed: 1 });
    const random = mulberry32(4);
    for (let k = 0; k < 50; k++) {
      const a = random();
      const b = random();
      const grid = Float32Array.from({ length: 60 * 3 }, (_, i) =>
        i % 3 === 0 ? a : i % 3 === 1 ? b : Math.floor(i / 3) / 59,
      );
      const z = m.predictLogit({ rows: 60, cols: 3, data: grid });
      for (let i = 1; i < 60; i++) expect(z[i]).toBeGreaterThanOrEqual((z[i - 1] as number) - 1e-12);
    }
  });

  it('when saved as JSON and reloaded, then it predicts the same logits; a malformed tree is refused', () => {
    const m = Gbdt.fit(train.x, train.y, val.x, val.y, ['a', 'b', 'c'], { maxTrees: 50, seed: 2 });
    const again = Gbdt.fromJSON(JSON.parse(JSON.stringify(m.toJSON())));
    expect(Array.from(again.predictLogit(test.x))).toEqual(Array.from(m.predictLogit(test.x)));
    const bad = JSON.parse(JSON.stringify(m.toJSON())) as { trees: { left: number[] }[] };
    (bad.trees[0] as { left: number[] }).left[0] = 99_999;
    expect(() => Gbdt.fromJSON(bad)).toThrow(/malformed/);
  });
});
