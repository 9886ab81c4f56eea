import type * as tf from '@tensorflow/tfjs';

/**
 * Integrated-gradients path sums of a network that is a plain stack of dense layers (what `train.ts` builds:
 * logistic = one linear layer, mlp = tanh hidden layers and a linear logit), computed in float64 JavaScript
 * from the layers' weights instead of by TensorFlow.js autodiff.
 *
 * Why: explaining a portfolio of 10,000 borrowers takes 16 interpolation points per row. On the WASM backend
 * the tape's backward pass over those 160,000 points cost most of a cold portfolio run (`npm run bench:score`:
 * 26–41 s of 10,000 rows explained against 0.1 s of inference, on a loaded machine), while the network is a
 * few thousand multiply-adds per point. Two facts of IG on a dense stack make it cheap here:
 * - on the straight path from the baseline (0 in standardised space) to z, the first layer's pre-activation is
 *   α·(W₁ᵀz) + b₁, so W₁ᵀz is computed once per row and each point costs one scaled add for that layer;
 * - the gradient with respect to the input is W₁·δ₁ (δ₁ the gradient at the first pre-activation), which is
 *   linear in δ₁, so Σₚ wₚ∇f(αₚz) = W₁·(Σₚ wₚδ₁,ₚ): one W₁ product per row, not per point.
 * The results equal tfjs's autodiff to float32 rounding (risk/test/dense-path-gradients.test.ts compares them
 * on tanh, relu, sigmoid and linear stacks); a network of any other shape keeps the autodiff path
 * (`classifier.ts`).
 */
export type DenseActivation = 'linear' | 'tanh' | 'relu' | 'sigmoid';

export interface DenseLayer {
  readonly inputs: number;
  readonly units: number;
  /** Kernel, row-major [inputs][units], as tfjs stores it. */
  readonly kernel: Float64Array;
  readonly bias: Float64Array;
  readonly activation: DenseActivation;
}

const ACTIVATIONS: ReadonlySet<string> = new Set<DenseActivation>(['linear', 'tanh', 'relu', 'sigmoid']);

/**
 * The network as dense layers, or undefined when it is anything else (another layer class, another activation,
 * no bias, more than one output): those are explained by autodiff.
 */
export function denseStackOf(model: tf.LayersModel): DenseLayer[] | undefined {
  const layers: DenseLayer[] = [];
  let inputs = model.inputs[0]?.shape[1];
  if (typeof inputs !== 'number') return undefined;
  for (const layer of model.layers) {
    if (layer.getClassName() === 'InputLayer') continue;
    if (layer.getClassName() !== 'Dense') return undefined;
    const config = layer.getConfig();
    const activation = config.activation ?? 'linear';
    if (typeof activation !== 'string' || !ACTIVATIONS.has(activation) || config.useBias === false)
      return undefined;
    const weights = layer.getWeights();
    const [k, b] = weights;
    if (weights.length !== 2 || k === undefined || b === undefined) return undefined;
    const [rows, units] = k.shape;
    if (rows !== inputs || units === undefined || b.shape[0] !== units) return undefined;
    layers.push({
      inputs,
      units,
      kernel: Float64Array.from(k.dataSync()),
      bias: Float64Array.from(b.dataSync()),
      activation: activation as DenseActivation,
    });
    inputs = units;
  }
  const last = layers[layers.length - 1];
  return last === undefined || last.units !== 1 ? undefined : layers;
}

function activate(a: DenseActivation, pre: Float64Array, out: Float64Array, slope: Float64Array): void {
  for (let j = 0; j < pre.length; j++) {
    const x = pre[j] as number;
    switch (a) {
      case 'linear':
        out[j] = x;
        slope[j] = 1;
        break;
      case 'tanh': {
        const y = Math.tanh(x);
        out[j] = y;
        slope[j] = 1 - y * y;
        break;
      }
      case 'relu':
        out[j] = x > 0 ? x : 0;
        slope[j] = x > 0 ? 1 : 0;
        break;
      case 'sigmoid': {
        const y = 1 / (1 + Math.exp(-x));
        out[j] = y;
        slope[j] = y * (1 - y);
        break;
      }
    }
  }
}

/**
 * For each row r of `rows` (indexes into the row-major standardised matrix `z` of `cols` columns):
 * Σₚ weights[p]·∇f(nodes[p]·z_r), the quadrature of the path integral of the gradient, per input column.
 * Multiplying by z_r gives the row's integrated-gradients contributions.
 */
export function pathGradientSums(
  layers: readonly DenseLayer[],
  z: Float32Array,
  cols: number,
  rows: readonly number[],
  nodes: Float64Array,
  weights: Float64Array,
): Float64Array[] {
  const first = layers[0];
  if (first === undefined || first.inputs !== cols) throw new Error('dense stack does not take these inputs');
  const L = layers.length;
  const pre = layers.map((l) => new Float64Array(l.units));
  const act = layers.map((l) => new Float64Array(l.units));
  const slope = layers.map((l) => new Float64Array(l.units));
  const delta = layers.map((l) => new Float64Array(l.units));
  const projected = new Float64Array(first.units);
  const acc = new Float64Array(first.units);
  const out: Float64Array[] = [];
  for (const r of rows) {
    const o = r * cols;
    // W₁ᵀz once per row.
    projected.fill(0);
    for (let i = 0; i < cols; i++) {
      const zi = z[o + i] as number;
      if (zi === 0) continue;
      const k = i * first.units;
      for (let j = 0; j < first.units; j++) projected[j]! += zi * (first.kernel[k + j] as number);
    }
    acc.fill(0);
    for (let p = 0; p < nodes.length; p++) {
      const alpha = nodes[p] as number;
      // Forward.
      const p0 = pre[0] as Float64Array;
      for (let j = 0; j < first.units; j++)
        p0[j] = alpha * (projected[j] as number) + (first.bias[j] as number);
      activate(first.activation, p0, act[0] as Float64Array, slope[0] as Float64Array);
      for (let l = 1; l < L; l++) {
        const layer = layers[l] as DenseLayer;
        const input = act[l - 1] as Float64Array;
        const pl = pre[l] as Float64Array;
        pl.set(layer.bias);
        for (let i = 0; i < layer.inputs; i++) {
          const v = input[i] as number;
          const k = i * layer.units;
          for (let j = 0; j < layer.units; j++) pl[j]! += v * (layer.kernel[k + j] as number);
        }
        activate(layer.activation, pl, act[l] as Float64Array, slope[l] as Float64Array);
      }
      // Backward to the first layer's pre-activation: δ_L = f'(pre_L) (one output), δ_l = (W_{l+1} δ_{l+1}) ⊙ f'.
      const dL = delta[L - 1] as Float64Array;
      dL[0] = (slope[L - 1] as Float64Array)[0] as number;
      for (let l = L - 2; l >= 0; l--) {
        const next = layers[l + 1] as DenseLayer;
        const dn = delta[l + 1] as Float64Array;
        const dl = delta[l] as Float64Array;
        const sl = slope[l] as Float64Array;
        for (let i = 0; i < next.inputs; i++) {
          const k = i * next.units;
          let s = 0;
          for (let j = 0; j < next.units; j++) s += (next.kernel[k + j] as number) * (dn[j] as number);
          dl[i] = s * (sl[i] as number);
        }
      }
      const w = weights[p] as number;
      const d0 = delta[0] as Float64Array;
      for (let j = 0; j < first.units; j++) acc[j]! += w * (d0[j] as number);
    }
    // ∇z = W₁·acc.
    const g = new Float64Array(cols);
    for (let i = 0; i < cols; i++) {
      const k = i * first.units;
      let s = 0;
      for (let j = 0; j < first.units; j++) s += (first.kernel[k + j] as number) * (acc[j] as number);
      g[i] = s;
    }
    out.push(g);
  }
  return out;
}
