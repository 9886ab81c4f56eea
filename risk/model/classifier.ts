import * as tf from '@tensorflow/tfjs';
import { RiskfuseError } from '../../core/errors.js';
import { denseStackOf, pathGradientSums, type DenseLayer } from './dense-path-gradients.js';
import { checkMatrix, standardise } from './matrix.js';
import type { Classifier, Explanation, Matrix, ModelArtifact, ModelKind, Normalisation } from './types.js';

/**
 * Rows per `model.predict` batch. Without `batchSize`, tfjs runs 32 rows at a time and scoring is about
 * 20× slower; 4096 × a few dozen features is a few hundred kB per batch.
 */
export const PREDICT_BATCH_ROWS = 4096;
/** Interpolation points per integrated-gradients gradient call (rows × (steps + 1) ≤ this). */
const IG_POINTS_PER_CALL = 16_384;
export const IG_DEFAULT_STEPS = 16;
export const IG_MAX_STEPS = 1024;

export const ARTIFACT_FORMAT = 'riskfuse-model/1';

export interface ClassifierMeta {
  readonly kind: ModelKind;
  readonly featureNames: readonly string[];
  readonly normalisation: Normalisation;
  readonly baseline: readonly number[];
}

/**
 * Wraps a trained network whose input is the standardised features and whose single output is the logit.
 * The classifier owns `model` and never changes its weights; `dispose()` frees them.
 */
export async function createClassifier(model: tf.LayersModel, meta: ClassifierMeta): Promise<Classifier> {
  // The artifact is built once, here: model.save is asynchronous but toArtifact() is not, and the weights
  // never change after training.
  const artifact = await saveArtifact(model, meta);
  return new TfClassifier(model, meta, artifact);
}

async function saveArtifact(model: tf.LayersModel, meta: ClassifierMeta): Promise<ModelArtifact> {
  let saved: tf.io.ModelArtifacts | undefined;
  await model.save(
    tf.io.withSaveHandler((a) => {
      saved = a;
      return Promise.resolve({ modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(a) });
    }),
  );
  if (saved?.weightData === undefined || saved.weightSpecs === undefined) {
    throw new RiskfuseError('INTERNAL', 'tfjs saved the model without weights');
  }
  const weights = tf.io.CompositeArrayBuffer.join(saved.weightData);
  return {
    format: ARTIFACT_FORMAT,
    kind: meta.kind,
    featureNames: [...meta.featureNames],
    normalisation: { mean: [...meta.normalisation.mean], std: [...meta.normalisation.std] },
    baseline: [...meta.baseline],
    topology: saved.modelTopology,
    weightSpecs: saved.weightSpecs,
    // tfjs stores float32 in platform order; every platform Node supports for tfjs is little-endian.
    weightsBase64: Buffer.from(weights).toString('base64'),
  };
}

class TfClassifier implements Classifier {
  readonly kind: ModelKind;
  readonly featureNames: readonly string[];
  readonly normalisation: Normalisation;
  readonly baseline: readonly number[];
  private readonly baselineLogit: number;
  private readonly gradOfSum: (x: tf.Tensor) => tf.Tensor;
  /** The network as dense layers when it is one (every network train.ts builds), for path gradients in JS. */
  private readonly dense: readonly DenseLayer[] | undefined;
  private disposed = false;

  constructor(
    private readonly model: tf.LayersModel,
    meta: ClassifierMeta,
    private readonly artifact: ModelArtifact,
  ) {
    this.kind = meta.kind;
    this.featureNames = Object.freeze([...meta.featureNames]);
    this.normalisation = Object.freeze({
      mean: Object.freeze([...meta.normalisation.mean]),
      std: Object.freeze([...meta.normalisation.std]),
    });
    this.baseline = Object.freeze([...meta.baseline]);
    // Rows do not interact (no batch statistics, dropout is off at inference), so the gradient of the
    // summed logits with respect to the input batch is each row's own gradient.
    this.gradOfSum = tf.grad((x: tf.Tensor) => (this.model.apply(x) as tf.Tensor).sum());
    this.dense = denseStackOf(model);
    const base: Matrix = { rows: 1, cols: this.baseline.length, data: Float32Array.from(this.baseline) };
    this.baselineLogit = this.predictLogit(base)[0] as number;
  }

  predict(x: Matrix): Float32Array {
    const logits = this.predictLogit(x);
    for (let i = 0; i < logits.length; i++) logits[i] = 1 / (1 + Math.exp(-(logits[i] as number)));
    return logits;
  }

  predictLogit(x: Matrix): Float32Array {
    this.assertLive();
    checkMatrix(x, 'predict', this.featureNames.length);
    return this.logitsOfStandardised(standardise(x, this.normalisation), x.rows);
  }

  private logitsOfStandardised(z: Float32Array, rows: number): Float32Array {
    if (rows === 0) return new Float32Array(0);
    const cols = this.featureNames.length;
    return tf.tidy(() => {
      const out = this.model.predict(tf.tensor2d(z, [rows, cols]), { batchSize: PREDICT_BATCH_ROWS });
      return Float32Array.from((out as tf.Tensor).dataSync());
    });
  }

  /**
   * Integrated gradients (Sundararajan et al. 2017) of the logit along the straight line from the baseline
   * (the training mean, i.e. 0 in standardised space) to each row, by `steps`-point Gauss–Legendre quadrature:
   * the path integrand of a tanh network is smooth, so it converges far faster than the trapezoid rule (16
   * points usually meet completeness where the trapezoid rule needed 64–1,024). With z = (x − μ)/σ, IG in z equals IG in x (the 1/σ of the chain rule cancels the σ of
   * z − 0 = (x − μ)/σ), so contributions are per raw feature. Rows whose contributions miss completeness
   * (sum = logit − baselineLogit) by more than 1 % (or 1e-3 when the difference is tiny) are redone with
   * twice the steps, up to 1024.
   */
  explain(x: Matrix, steps = IG_DEFAULT_STEPS): Explanation[] {
    this.assertLive();
    checkMatrix(x, 'explain', this.featureNames.length);
    if (!Number.isInteger(steps) || steps < 1 || steps > IG_MAX_STEPS) {
      throw new RiskfuseError('VALIDATION_FAILED', `explain: steps must be an integer in 1..${IG_MAX_STEPS}`);
    }
    const cols = x.cols;
    const z = standardise(x, this.normalisation);
    const logits = this.logitsOfStandardised(z, x.rows);
    const out = new Array<Explanation>(x.rows);
    let todo = Array.from({ length: x.rows }, (_, r) => r);
    for (let m = steps; todo.length > 0; m *= 2) {
      const contributions = this.integratedGradients(z, cols, todo, m);
      const retry: number[] = [];
      todo.forEach((r, k) => {
        const c = contributions[k] as number[];
        const logit = logits[r] as number;
        const gap = logit - this.baselineLogit;
        const sum = c.reduce((a, b) => a + b, 0);
        const tolerance = Math.max(0.01 * Math.abs(gap), 1e-3);
        if (Math.abs(sum - gap) > tolerance && m * 2 <= IG_MAX_STEPS) retry.push(r);
        else out[r] = { logit, baselineLogit: this.baselineLogit, contributions: c, steps: m };
      });
      todo = retry;
    }
    return out;
  }

  private integratedGradients(z: Float32Array, cols: number, rows: readonly number[], m: number): number[][] {
    const { nodes, weights } = gaussLegendre(m);
    if (this.dense !== undefined) {
      // A dense stack: the path sums in float64 JavaScript (dense-path-gradients.ts), far cheaper than autodiff.
      return pathGradientSums(this.dense, z, cols, rows, nodes, weights).map((g, k) => {
        const o = (rows[k] as number) * cols;
        return Array.from(g, (v, c) => v * (z[o + c] as number));
      });
    }
    const rowsPerCall = Math.max(1, Math.floor(IG_POINTS_PER_CALL / m));
    const result: number[][] = [];
    for (let start = 0; start < rows.length; start += rowsPerCall) {
      const chunk = rows.slice(start, start + rowsPerCall);
      const path = new Float32Array(chunk.length * m * cols);
      chunk.forEach((r, k) => {
        for (let p = 0; p < m; p++) {
          const alpha = nodes[p] as number;
          const o = (k * m + p) * cols;
          for (let c = 0; c < cols; c++) path[o + c] = alpha * (z[r * cols + c] as number);
        }
      });
      const grads = tf.tidy(() =>
        this.gradOfSum(tf.tensor2d(path, [chunk.length * m, cols])).dataSync(),
      ) as Float32Array;
      chunk.forEach((r, k) => {
        const contrib = new Array<number>(cols).fill(0);
        for (let p = 0; p < m; p++) {
          const w = weights[p] as number;
          const o = (k * m + p) * cols;
          for (let c = 0; c < cols; c++) contrib[c] = (contrib[c] as number) + w * (grads[o + c] as number);
        }
        for (let c = 0; c < cols; c++) contrib[c] = (contrib[c] as number) * (z[r * cols + c] as number);
        result.push(contrib);
      });
    }
    return result;
  }

  toArtifact(): ModelArtifact {
    return this.artifact;
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.model.dispose();
  }

  private assertLive(): void {
    if (this.disposed) throw new RiskfuseError('INTERNAL', 'classifier used after dispose()');
  }
}

const GL_CACHE = new Map<number, { nodes: Float64Array; weights: Float64Array }>();

/** Gauss–Legendre nodes and weights on [0, 1] (Newton iteration on the Legendre polynomial P_n). */
export function gaussLegendre(n: number): { nodes: Float64Array; weights: Float64Array } {
  const hit = GL_CACHE.get(n);
  if (hit !== undefined) return hit;
  const nodes = new Float64Array(n);
  const weights = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let x = Math.cos((Math.PI * (i + 0.75)) / (n + 0.5));
    let dp = 0;
    for (let iter = 0; iter < 100; iter++) {
      let p0 = 1;
      let p1 = x;
      for (let k = 2; k <= n; k++) {
        const p2 = ((2 * k - 1) * x * p1 - (k - 1) * p0) / k;
        p0 = p1;
        p1 = p2;
      }
      const pn = n === 1 ? x : p1;
      const pnm1 = n === 1 ? 1 : p0;
      dp = (n * (x * pn - pnm1)) / (x * x - 1);
      const dx = pn / dp;
      x -= dx;
      if (Math.abs(dx) < 1e-15) break;
    }
    // Map [-1, 1] → [0, 1].
    nodes[i] = (1 - x) / 2;
    weights[i] = 1 / ((1 - x * x) * dp * dp);
  }
  const out = { nodes, weights };
  GL_CACHE.set(n, out);
  return out;
}
