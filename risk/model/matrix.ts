import { RiskfuseError } from '../../core/errors.js';
import type { Matrix, Normalisation } from './types.js';

/** Throws VALIDATION_FAILED unless `m` is a well-formed, finite `rows × cols` matrix. */
export function checkMatrix(m: Matrix, what: string, cols?: number): void {
  if (!Number.isInteger(m.rows) || !Number.isInteger(m.cols) || m.rows < 0 || m.cols < 1) {
    throw new RiskfuseError('VALIDATION_FAILED', `${what}: bad shape ${m.rows} × ${m.cols}`);
  }
  if (m.data.length !== m.rows * m.cols) {
    throw new RiskfuseError(
      'VALIDATION_FAILED',
      `${what}: ${m.data.length} values for a ${m.rows} × ${m.cols} matrix (expected ${m.rows * m.cols})`,
    );
  }
  if (cols !== undefined && m.cols !== cols) {
    throw new RiskfuseError('VALIDATION_FAILED', `${what}: ${m.cols} features, the model expects ${cols}`);
  }
  for (let i = 0; i < m.data.length; i++) {
    if (!Number.isFinite(m.data[i])) {
      throw new RiskfuseError(
        'VALIDATION_FAILED',
        `${what}: non-finite value at row ${Math.floor(i / m.cols)}, column ${i % m.cols} (impute before training or scoring)`,
      );
    }
  }
}

/**
 * Column mean and population standard deviation (two-pass, float64). A column whose spread is below float32
 * resolution of its mean is constant for our purposes and gets std 1, so it standardises to 0.
 */
export function fitNormalisation(x: Matrix): Normalisation {
  const { rows, cols, data } = x;
  const mean = new Float64Array(cols);
  const sq = new Float64Array(cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) mean[c]! += data[r * cols + c] as number;
  for (let c = 0; c < cols; c++) mean[c]! /= Math.max(rows, 1);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) sq[c]! += ((data[r * cols + c] as number) - (mean[c] as number)) ** 2;
  }
  const std: number[] = [];
  for (let c = 0; c < cols; c++) {
    const s = Math.sqrt((sq[c] as number) / Math.max(rows, 1));
    std.push(s > 1e-6 * Math.max(Math.abs(mean[c] as number), 1e-6) ? s : 1);
  }
  return { mean: Array.from(mean), std };
}

/** (x − mean) / std per column, as a new row-major Float32Array. */
export function standardise(x: Matrix, n: Normalisation): Float32Array {
  const { rows, cols, data } = x;
  const out = new Float32Array(rows * cols);
  const inv = n.std.map((s) => 1 / s);
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    for (let c = 0; c < cols; c++) {
      out[o + c] = ((data[o + c] as number) - (n.mean[c] as number)) * (inv[c] as number);
    }
  }
  return out;
}
