import { mulberry32 } from '../../core/random.js';
import type { Matrix } from '../model/types.js';

/** Seeded synthetic credit data for the model tests: features, labels and the true logit of each row. */
export interface Synthetic {
  readonly x: Matrix;
  readonly y: Uint8Array;
  readonly trueLogit: Float64Array;
}

export function gaussian(rand: () => number): () => number {
  return () => Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
}

/**
 * `rows × cols` features with column c ~ N(offset_c, scale_c²) (raw scales differ, so standardisation
 * matters) and y ~ Bernoulli(sigmoid(logit(x))), where `logit` sees the standard-normal draws.
 */
export function synthetic(
  rows: number,
  cols: number,
  seed: number,
  logit: (z: Float64Array) => number,
): Synthetic {
  const rand = mulberry32(seed);
  const normal = gaussian(rand);
  const data = new Float32Array(rows * cols);
  const y = new Uint8Array(rows);
  const trueLogit = new Float64Array(rows);
  const z = new Float64Array(cols);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      z[c] = normal();
      data[r * cols + c] = 10 * c + (1 + c) * (z[c] as number);
    }
    const l = logit(z);
    trueLogit[r] = l;
    y[r] = rand() < 1 / (1 + Math.exp(-l)) ? 1 : 0;
  }
  return { x: { rows, cols, data }, y, trueLogit };
}

export function featureNames(cols: number): string[] {
  return Array.from({ length: cols }, (_, c) => `f${c}`);
}

/** Rows [from, to) of `m`. */
export function rowsOf(m: Matrix, from: number, to: number): Matrix {
  return { rows: to - from, cols: m.cols, data: m.data.slice(from * m.cols, to * m.cols) };
}

/**
 * Logits and labels whose true PD is σ(2·z − 3) while the model says σ(z): overconfident in slope and 20× too
 * high at the low end — the shape of an MLP picked by validation AUC (for the recalibration tests).
 */
export function miscalibrated(n: number, seed: number): { z: Float64Array; y: Uint8Array } {
  const random = mulberry32(seed);
  const sigmoid = (v: number): number => 1 / (1 + Math.exp(-v));
  const z = Float64Array.from({ length: n }, () => -4 + 5 * random());
  const y = Uint8Array.from(z, (v) => (random() < sigmoid(2 * v - 3) ? 1 : 0));
  return { z, y };
}
