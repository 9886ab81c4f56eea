import { mulberry32 } from '../metrics.js';
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
