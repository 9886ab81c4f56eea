import * as tf from '@tensorflow/tfjs';
import { RiskfuseError } from '../../core/errors.js';
import { mulberry32 } from '../../core/random.js';
import { auc } from '../metrics.js';
import { ensureBackend } from './backend.js';
import { createClassifier } from './classifier.js';
import { checkMatrix, fitNormalisation, standardise } from './matrix.js';
import type { EpochReport, Matrix, TrainOptions, TrainResult } from './types.js';

export const TRAIN_DEFAULTS = {
  hidden: [32, 16],
  maxEpochs: 100,
  patience: 8,
  batchSize: 256,
  /** Adam step size: logistic 1e-2 (convex, few weights), mlp 3e-3. */
  learningRate: { logistic: 1e-2, mlp: 3e-3 },
  l2: 1e-4,
  dropout: 0,
} as const;

/** Validation AUCs closer than this are a tie (broken by validation loss). */
const AUC_TIE = 1e-3;

/**
 * Trains a logistic model or an MLP that outputs one logit, by Adam on the mean sigmoid cross-entropy
 * (+ L2 on the kernels), with a seeded shuffle and early stopping on validation AUC.
 *
 * Class imbalance (1–5 % defaults) is deliberately not reweighted: weighting the positives up inflates every
 * PD by the same odds factor, and the PD is what risk pricing and provisioning use. Instead the output bias
 * starts at logit(training default rate), so the network is calibrated from the first step and does not
 * spend its first epochs learning the intercept, and after training the intercept is refitted so the mean PD
 * on the training set equals its default rate (see `recalibrateIntercept`); ranking quality is judged by
 * AUC, which is insensitive to the base rate.
 *
 * Reproducibility: the initialisers, the shuffle and the dropout masks all derive from `seed` (mulberry32),
 * never Math.random, so the same seed gives the same weights on the same backend.
 */
export async function trainClassifier(opts: TrainOptions): Promise<TrainResult> {
  const cols = opts.featureNames.length;
  validate(opts, cols);
  const hidden = opts.kind === 'mlp' ? (opts.hidden ?? TRAIN_DEFAULTS.hidden) : [];
  const maxEpochs = opts.maxEpochs ?? TRAIN_DEFAULTS.maxEpochs;
  const patience = opts.patience ?? TRAIN_DEFAULTS.patience;
  const batchSize = opts.batchSize ?? TRAIN_DEFAULTS.batchSize;
  const l2 = opts.l2 ?? TRAIN_DEFAULTS.l2;
  const dropout = opts.dropout ?? TRAIN_DEFAULTS.dropout;
  positiveInts({
    maxEpochs,
    patience,
    batchSize,
    ...Object.fromEntries(hidden.map((h, i) => [`hidden[${i}]`, h])),
  });
  if (!(dropout >= 0 && dropout < 1)) throw invalid(`dropout must be in [0, 1), got ${dropout}`);
  if (!(l2 >= 0)) throw invalid(`l2 must be ≥ 0, got ${l2}`);

  await ensureBackend();
  const rand = mulberry32(opts.seed);
  const seed = (): number => Math.floor(rand() * 2 ** 31);

  const normalisation = fitNormalisation(opts.x);
  const zTrain = standardise(opts.x, normalisation);
  const zVal = standardise(opts.xVal, normalisation);
  const baseRate = opts.y.reduce((a, b) => a + b, 0) / opts.y.length;

  const model = tf.sequential();
  hidden.forEach((units, i) => {
    model.add(
      tf.layers.dense({
        name: `hidden_${i + 1}`,
        units,
        // tanh rather than relu: the network is smooth, so integrated gradients converge at the trapezoid
        // rule's O(1/steps²) instead of O(1/steps) across relu kinks, and no unit can die in a small net.
        activation: 'tanh',
        kernelInitializer: tf.initializers.glorotUniform({ seed: seed() }),
        biasInitializer: 'zeros',
        ...(i === 0 ? { inputShape: [cols] } : {}),
      }),
    );
  });
  model.add(
    tf.layers.dense({
      name: 'logit',
      units: 1,
      activation: 'linear',
      // Logistic: zeros, the convex problem's natural start (the intercept-only model, AUC 0.5); random
      // signs would start it anti-correlated on some features and waste epochs. MLP: Glorot, to break symmetry.
      kernelInitializer: hidden.length === 0 ? 'zeros' : tf.initializers.glorotUniform({ seed: seed() }),
      biasInitializer: tf.initializers.constant({ value: Math.log(baseRate / (1 - baseRate)) }),
      ...(hidden.length === 0 ? { inputShape: [cols] } : {}),
    }),
  );

  const optimizer = tf.train.adam(opts.learningRate ?? TRAIN_DEFAULTS.learningRate[opts.kind]);
  const variables = model.trainableWeights.map((w) => w.read() as tf.Variable);
  const kernels = model.trainableWeights
    .filter((w) => w.originalName.endsWith('/kernel'))
    .map((w) => w.read());
  const xVal = tf.tensor2d(zVal, [opts.xVal.rows, cols]);
  let best: tf.Tensor[] | undefined;

  const forward = (xb: tf.Tensor, training: boolean): tf.Tensor => {
    let h = xb;
    model.layers.forEach((layer, i) => {
      h = layer.apply(h) as tf.Tensor;
      // Dropout is applied here, not as a layer: a seeded tfjs Dropout layer reuses one mask every batch.
      if (training && dropout > 0 && i < model.layers.length - 1)
        h = tf.dropout(h, dropout, undefined, seed());
    });
    return h;
  };

  try {
    const epochs: EpochReport[] = [];
    let bestAuc = -Infinity;
    /** Highest AUC among kept epochs: ties are judged against it, so the kept AUC cannot drift down. */
    let recordAuc = -Infinity;
    let bestValLoss = Infinity;
    let bestEpoch = 0;
    let sinceBest = 0;
    let stoppedEarly = false;
    const order = Uint32Array.from({ length: opts.x.rows }, (_, i) => i);

    for (let epoch = 1; epoch <= maxEpochs; epoch++) {
      const t0 = performance.now();
      shuffle(order, rand);
      let lossSum = 0;
      for (let start = 0; start < order.length; start += batchSize) {
        const rows = order.subarray(start, Math.min(order.length, start + batchSize));
        const xb = new Float32Array(rows.length * cols);
        const yb = new Float32Array(rows.length);
        rows.forEach((r, k) => {
          xb.set(zTrain.subarray(r * cols, (r + 1) * cols), k * cols);
          yb[k] = opts.y[r] as number;
        });
        lossSum +=
          rows.length *
          tf.tidy(() => {
            const xt = tf.tensor2d(xb, [rows.length, cols]);
            const yt = tf.tensor2d(yb, [rows.length, 1]);
            let crossEntropy: tf.Scalar | undefined;
            optimizer.minimize(
              () => {
                const ce = sigmoidCrossEntropy(yt, forward(xt, true));
                crossEntropy = tf.keep(ce);
                if (l2 === 0) return ce;
                return tf.addN([ce, ...kernels.map((k) => tf.sum(tf.square(k)).mul(l2))]) as tf.Scalar;
              },
              false,
              variables,
            );
            const value = (crossEntropy as tf.Scalar).dataSync()[0] as number;
            (crossEntropy as tf.Scalar).dispose();
            return value;
          });
      }

      const valLogits = tf.tidy(() =>
        Float32Array.from((model.predict(xVal, { batchSize: 4096 }) as tf.Tensor).dataSync()),
      );
      const valAuc = auc(valLogits, opts.yVal);
      const valLoss = meanLogLoss(valLogits, opts.yVal);
      // Better AUC wins; an AUC tie (within AUC_TIE, a tenth of its sampling error on a few thousand
      // rows) goes to the lower validation loss. AUC ignores the scale of the logits, so it plateaus while a logistic model's
      // slopes are still growing towards the likelihood optimum; the tie-break lets those epochs count.
      const isBest = valAuc > bestAuc + AUC_TIE || (valAuc >= recordAuc - AUC_TIE && valLoss < bestValLoss);
      if (isBest) {
        bestAuc = valAuc;
        recordAuc = Math.max(recordAuc, valAuc);
        bestValLoss = valLoss;
        bestEpoch = epoch;
        sinceBest = 0;
        best?.forEach((t) => t.dispose());
        best = model.getWeights().map((w) => w.clone());
      } else {
        sinceBest++;
      }
      const report: EpochReport = {
        epoch,
        loss: lossSum / order.length,
        valLoss,
        valAuc,
        ms: performance.now() - t0,
        best: isBest,
      };
      epochs.push(report);
      opts.onEpoch?.(report);
      if (sinceBest >= patience) {
        stoppedEarly = epoch < maxEpochs;
        break;
      }
      // Let timers and I/O run between epochs when training inside a server.
      await new Promise<void>((resolve) => setImmediate(resolve));
    }

    if (best !== undefined) model.setWeights(best);
    recalibrateIntercept(model, zTrain, opts.y);
    const classifier = await createClassifier(model, {
      kind: opts.kind,
      featureNames: opts.featureNames,
      normalisation,
      baseline: normalisation.mean,
    });
    return { model: classifier, epochs, bestEpoch, stoppedEarly };
  } catch (err) {
    model.dispose();
    throw err;
  } finally {
    best?.forEach((t) => t.dispose());
    optimizer.dispose();
    xVal.dispose();
  }
}

/**
 * Shifts the output bias so that the mean PD on the training set equals its default rate (the intercept's
 * maximum-likelihood condition). Weights are chosen by validation AUC, which ignores the intercept, and the
 * best-AUC epoch often comes before the intercept has settled; a shift of every logit by one constant leaves
 * the ranking (and so the AUC) exactly as it was. Newton's method on a convex 1-D problem: a few steps.
 */
function recalibrateIntercept(model: tf.LayersModel, zTrain: Float32Array, y: Uint8Array): void {
  const rows = y.length;
  const logits = tf.tidy(() => {
    const x = tf.tensor2d(zTrain, [rows, zTrain.length / rows]);
    return Float32Array.from((model.predict(x, { batchSize: 4096 }) as tf.Tensor).dataSync());
  });
  const positives = y.reduce((a, b) => a + b, 0);
  let shift = 0;
  for (let iteration = 0; iteration < 50; iteration++) {
    let excess = -positives;
    let slope = 0;
    for (let i = 0; i < rows; i++) {
      const p = 1 / (1 + Math.exp(-((logits[i] as number) + shift)));
      excess += p;
      slope += p * (1 - p);
    }
    const step = excess / Math.max(slope, 1e-12);
    shift -= step;
    if (Math.abs(step) < 1e-7) break;
  }
  const layer = model.layers[model.layers.length - 1] as tf.layers.Layer;
  const [kernel, bias] = layer.getWeights();
  if (kernel === undefined || bias === undefined)
    throw new RiskfuseError('INTERNAL', 'output layer has no bias');
  tf.tidy(() => layer.setWeights([kernel, bias.add(shift)]));
}

/** Mean of max(z, 0) − z·y + log(1 + e^−|z|): the numerically stable form of sigmoid cross-entropy. */
function sigmoidCrossEntropy(y: tf.Tensor, logits: tf.Tensor): tf.Scalar {
  return tf.mean(
    tf
      .relu(logits)
      .sub(logits.mul(y))
      .add(tf.log1p(tf.exp(tf.neg(tf.abs(logits))))),
  );
}

function meanLogLoss(logits: Float32Array, y: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i < logits.length; i++) {
    const z = logits[i] as number;
    sum += Math.max(z, 0) - z * (y[i] as number) + Math.log1p(Math.exp(-Math.abs(z)));
  }
  return sum / logits.length;
}

function shuffle(a: Uint32Array, rand: () => number): void {
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    const t = a[i] as number;
    a[i] = a[j] as number;
    a[j] = t;
  }
}

function invalid(message: string): RiskfuseError {
  return new RiskfuseError('VALIDATION_FAILED', `trainClassifier: ${message}`);
}

function positiveInts(values: Record<string, number>): void {
  for (const [name, v] of Object.entries(values)) {
    if (!Number.isInteger(v) || v < 1) throw invalid(`${name} must be a positive integer, got ${v}`);
  }
}

function validate(opts: TrainOptions, cols: number): void {
  if (opts.kind !== 'logistic' && opts.kind !== 'mlp') throw invalid(`unknown kind ${String(opts.kind)}`);
  if (cols === 0) throw invalid('no features');
  if (new Set(opts.featureNames).size !== cols) throw invalid('feature names must be unique');
  checkMatrix(opts.x, 'trainClassifier x', cols);
  checkMatrix(opts.xVal, 'trainClassifier xVal', cols);
  checkLabels(opts.y, opts.x, 'y');
  checkLabels(opts.yVal, opts.xVal, 'yVal');
}

function checkLabels(y: Uint8Array, x: Matrix, name: string): void {
  if (y.length !== x.rows) throw invalid(`${name} has ${y.length} labels for ${x.rows} rows`);
  let positives = 0;
  for (let i = 0; i < y.length; i++) {
    const v = y[i] as number;
    if (v > 1) throw invalid(`${name}[${i}] = ${v} is not 0 or 1`);
    positives += v;
  }
  // Both sets need both classes: training for a non-degenerate intercept, validation for AUC.
  if (positives === 0 || positives === y.length) {
    throw invalid(
      `${name} has only one class (${positives} of ${y.length} positive); need defaults and non-defaults`,
    );
  }
}
