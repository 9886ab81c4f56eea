import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../model/backend.js';
import { trainClassifier } from '../model/train.js';
import type { Classifier, Explanation, Matrix, ModelKind } from '../model/types.js';
import { featureNames, rowsOf, synthetic } from './synthetic.js';

const COLS = 6;
const logit = (z: Float64Array) =>
  -2.5 + 1.2 * (z[0] as number) - 0.7 * (z[1] as number) + 0.9 * (z[2] as number) * (z[3] as number);
const data = synthetic(3200, COLS, 31, logit);
const rows = rowsOf(data.x, 3000, 3200);
const models = new Map<ModelKind, Classifier>();

beforeAll(async () => {
  await initBackend();
  for (const kind of ['logistic', 'mlp'] as const) {
    const { model } = await trainClassifier({
      kind,
      featureNames: featureNames(COLS),
      x: rowsOf(data.x, 0, 2000),
      y: data.y.slice(0, 2000),
      xVal: rowsOf(data.x, 2000, 3000),
      yVal: data.y.slice(2000, 3000),
      seed: 4,
      maxEpochs: 8,
    });
    models.set(kind, model);
  }
  return () => models.forEach((m) => m.dispose());
});

function expectComplete(explanations: readonly Explanation[]): void {
  for (const e of explanations) {
    const gap = e.logit - e.baselineLogit;
    const sum = e.contributions.reduce((a, b) => a + b, 0);
    expect(Math.abs(sum - gap)).toBeLessThanOrEqual(Math.max(0.01 * Math.abs(gap), 1e-3));
  }
}

describe('integrated gradients', () => {
  it.each(['logistic', 'mlp'] as const)(
    'when a %s model explains 200 rows, then each row’s contributions sum to logit − baseline logit within 1 %%',
    (kind) => {
      const model = models.get(kind) as Classifier;
      const explanations = model.explain(rows);
      expect(explanations).toHaveLength(200);
      const logits = model.predictLogit(rows);
      explanations.forEach((e, i) => {
        expect(e.contributions).toHaveLength(COLS);
        expect(e.logit).toBe(logits[i]);
      });
      expect(explanations[0]?.baselineLogit).toBeCloseTo(
        model.predictLogit({ rows: 1, cols: COLS, data: Float32Array.from(model.baseline) })[0] as number,
        6,
      );
      expectComplete(explanations);
    },
  );

  it('when the model is logistic, then each contribution is w_i·(x_i − baseline_i)/std_i', () => {
    const model = models.get('logistic') as Classifier;
    const a = model.toArtifact();
    const specs = a.weightSpecs as { name: string; shape: number[] }[];
    expect(specs.map((s) => s.name)).toEqual(['logit/kernel', 'logit/bias']);
    const bytes = Buffer.from(a.weightsBase64, 'base64');
    const kernel = new Float32Array(Uint8Array.from(bytes).buffer, 0, COLS);
    model.explain(rows).forEach((e, r) => {
      e.contributions.forEach((c, i) => {
        const x = rows.data[r * COLS + i] as number;
        const expected =
          ((kernel[i] as number) * (x - (model.baseline[i] as number))) /
          (model.normalisation.std[i] as number);
        expect(Math.abs(c - expected)).toBeLessThan(1e-4);
      });
    });
  });

  it('when too few steps are asked for, then they are doubled until completeness holds', () => {
    const model = models.get('mlp') as Classifier;
    const explanations = model.explain(rows, 1);
    expectComplete(explanations);
    expect(Math.max(...explanations.map((e) => e.steps ?? 0))).toBeGreaterThan(1);
  });

  it('when a row equals the baseline, then every contribution is zero', () => {
    const model = models.get('mlp') as Classifier;
    const at: Matrix = { rows: 1, cols: COLS, data: Float32Array.from(model.baseline) };
    const [e] = model.explain(at);
    expect(e?.contributions.every((c) => Math.abs(c) < 1e-6)).toBe(true);
    expect(e?.logit).toBeCloseTo(e?.baselineLogit ?? NaN, 6);
  });
});
