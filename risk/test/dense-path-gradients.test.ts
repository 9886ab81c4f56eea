import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../model/backend.js';
import { createClassifier, gaussLegendre } from '../model/classifier.js';
import { denseStackOf, pathGradientSums, type DenseActivation } from '../model/dense-path-gradients.js';

const COLS = 7;
const ROWS = 40;

/** A seeded dense stack with the given hidden activation (weights large enough to bend the activations). */
function stack(activation: DenseActivation, hidden: readonly number[], seed: number): tf.Sequential {
  const model = tf.sequential();
  hidden.forEach((units, i) =>
    model.add(
      tf.layers.dense({
        units,
        activation,
        kernelInitializer: tf.initializers.randomNormal({ stddev: 0.8, seed: seed + i }),
        biasInitializer: tf.initializers.randomNormal({ stddev: 0.3, seed: seed + 50 + i }),
        ...(i === 0 ? { inputShape: [COLS] } : {}),
      }),
    ),
  );
  model.add(
    tf.layers.dense({
      units: 1,
      kernelInitializer: tf.initializers.randomNormal({ stddev: 0.8, seed: seed + 99 }),
      biasInitializer: tf.initializers.constant({ value: -1.5 }),
      ...(hidden.length === 0 ? { inputShape: [COLS] } : {}),
    }),
  );
  return model;
}

const z = Float32Array.from({ length: ROWS * COLS }, (_, i) => Math.sin(i * 12.9898) * 2.2);
const rows = Array.from({ length: ROWS }, (_, r) => r);

/** Σₚ wₚ∇f(αₚz) by TensorFlow.js autodiff: the reference. */
function autodiffSums(model: tf.LayersModel, m: number): Float32Array {
  const { nodes, weights } = gaussLegendre(m);
  const grad = tf.grad((x: tf.Tensor) => (model.apply(x) as tf.Tensor).sum());
  const path = new Float32Array(ROWS * m * COLS);
  for (let r = 0; r < ROWS; r++)
    for (let p = 0; p < m; p++)
      for (let c = 0; c < COLS; c++)
        path[(r * m + p) * COLS + c] = (nodes[p] as number) * (z[r * COLS + c] as number);
  const g = tf.tidy(() => grad(tf.tensor2d(path, [ROWS * m, COLS])).dataSync());
  const out = new Float32Array(ROWS * COLS);
  for (let r = 0; r < ROWS; r++)
    for (let p = 0; p < m; p++)
      for (let c = 0; c < COLS; c++)
        out[r * COLS + c]! += (weights[p] as number) * (g[(r * m + p) * COLS + c] as number);
  return out;
}

beforeAll(async () => {
  await initBackend();
});

describe('path gradients of a dense stack', () => {
  it.each([
    ['tanh', [12, 6]],
    ['relu', [10]],
    ['sigmoid', [8, 5]],
    ['linear', []],
  ] as const)(
    'when the stack has %s layers %j, then its path sums equal TensorFlow.js autodiff',
    (activation, hidden) => {
      const model = stack(activation, hidden, 11);
      try {
        const layers = denseStackOf(model);
        expect(layers?.map((l) => l.activation)).toEqual([...hidden.map(() => activation), 'linear']);
        const m = 16;
        const { nodes, weights } = gaussLegendre(m);
        const ours = pathGradientSums(layers ?? [], z, COLS, rows, nodes, weights);
        const reference = autodiffSums(model, m);
        let worst = 0;
        ours.forEach((g, r) =>
          g.forEach((v, c) => {
            const ref = reference[r * COLS + c] as number;
            worst = Math.max(worst, Math.abs(v - ref) / Math.max(1, Math.abs(ref)));
          }),
        );
        expect(worst).toBeLessThan(1e-4);
      } finally {
        model.dispose();
      }
    },
  );

  it('when a network has a layer other than dense, then it is not taken for a dense stack', () => {
    const model = tf.sequential();
    model.add(tf.layers.dense({ units: 4, activation: 'tanh', inputShape: [COLS] }));
    model.add(tf.layers.batchNormalization());
    model.add(tf.layers.dense({ units: 1 }));
    try {
      expect(denseStackOf(model)).toBeUndefined();
    } finally {
      model.dispose();
    }
  });

  it('when a classifier explains rows, then its contributions are the autodiff integrated gradients', async () => {
    const model = stack('tanh', [12, 6], 5);
    const mean = Array.from({ length: COLS }, (_, i) => i * 0.5);
    const std = Array.from({ length: COLS }, (_, i) => 1 + i * 0.25);
    const classifier = await createClassifier(model, {
      kind: 'mlp',
      featureNames: Array.from({ length: COLS }, (_, i) => `f${i}`),
      normalisation: { mean, std },
      baseline: mean,
    });
    try {
      // Raw rows whose standardised values are z.
      const x = Float32Array.from(z, (v, i) => v * (std[i % COLS] as number) + (mean[i % COLS] as number));
      const explanations = classifier.explain({ rows: ROWS, cols: COLS, data: x }, 16);
      const zAsRead = Float32Array.from(
        x,
        (v, i) => (v - (mean[i % COLS] as number)) / (std[i % COLS] as number),
      );
      const { nodes, weights } = gaussLegendre(16);
      const grad = tf.grad((t: tf.Tensor) => (model.apply(t) as tf.Tensor).sum());
      explanations.forEach((e, r) => {
        const path = new Float32Array(16 * COLS);
        for (let p = 0; p < 16; p++)
          for (let c = 0; c < COLS; c++)
            path[p * COLS + c] = (nodes[p] as number) * (zAsRead[r * COLS + c] as number);
        const g = tf.tidy(() => grad(tf.tensor2d(path, [16, COLS])).dataSync());
        // Steps may have been doubled for completeness; at 16 they must match autodiff's.
        if (e.steps !== 16) return;
        e.contributions.forEach((v, c) => {
          let s = 0;
          for (let p = 0; p < 16; p++) s += (weights[p] as number) * (g[p * COLS + c] as number);
          expect(v).toBeCloseTo(s * (zAsRead[r * COLS + c] as number), 4);
        });
      });
      expect(explanations.filter((e) => e.steps === 16).length).toBeGreaterThan(ROWS / 2);
    } finally {
      classifier.dispose();
    }
  });
});
