import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { auc, expectedCalibrationError, logLoss } from '../metrics.js';
import { initBackend } from '../model/backend.js';
import { trainClassifier } from '../model/train.js';
import type { EpochReport, TrainOptions } from '../model/types.js';
import { featureNames, synthetic } from './synthetic.js';

const COLS = 6;
const W = [1.2, -0.8, 0.5, 0, 0, 0.3];
const linear = (intercept: number) => (z: Float64Array) =>
  intercept + W.reduce((s, w, c) => s + w * (z[c] as number), 0);

beforeAll(async () => {
  expect(['tensorflow', 'wasm']).toContain(await initBackend());
});

describe('initBackend', () => {
  it('when called again, then it shares the first initialisation and keeps the backend', async () => {
    const first = initBackend();
    expect(initBackend()).toBe(first);
    expect(await first).toBe(tf.getBackend());
  });
});

describe('trainClassifier', () => {
  it('when y follows a logistic model, then a logistic fit ranks about as well as the truth and stays calibrated', async () => {
    // Intercept −3: about 6 % defaulters, the imbalance the platform sees.
    const train = synthetic(6000, COLS, 1, linear(-3));
    const val = synthetic(3000, COLS, 2, linear(-3));
    const { model } = await trainClassifier({
      kind: 'logistic',
      featureNames: featureNames(COLS),
      x: train.x,
      y: train.y,
      xVal: val.x,
      yVal: val.y,
      seed: 1,
      maxEpochs: 25,
    });
    const p = model.predict(val.x);
    const trueAuc = auc(val.trueLogit, val.y);
    const fitAuc = auc(p, val.y);
    expect(fitAuc).toBeGreaterThan(0.75);
    expect(Math.abs(fitAuc - trueAuc)).toBeLessThan(0.01);
    // No class reweighting, intercept refitted: the mean PD on the training set is its default rate, and
    // on the validation set it is calibrated about as well as the true model.
    const mean = (a: ArrayLike<number>) => {
      let sum = 0;
      for (let i = 0; i < a.length; i++) sum += a[i] as number;
      return sum / a.length;
    };
    expect(mean(model.predict(train.x))).toBeCloseTo(mean(train.y), 5);
    const truth = val.trueLogit.map((z) => 1 / (1 + Math.exp(-z)));
    const ece = (q: ArrayLike<number>) => expectedCalibrationError(q, val.y, 10, 'quantile');
    expect(ece(p)).toBeLessThan(ece(truth) + 0.01);
    expect(logLoss(p, val.y) - logLoss(truth, val.y)).toBeLessThan(0.005);
    model.dispose();
  });

  it('when defaults depend on an XOR-like interaction, then the MLP learns it and logistic cannot', async () => {
    const xor = (z: Float64Array) => -1 + 2.5 * Math.sign((z[0] as number) * (z[1] as number));
    const train = synthetic(4000, 4, 3, xor);
    const val = synthetic(2000, 4, 4, xor);
    const common = {
      featureNames: featureNames(4),
      x: train.x,
      y: train.y,
      xVal: val.x,
      yVal: val.y,
      seed: 5,
      maxEpochs: 30,
    } as const;
    const mlp = await trainClassifier({ ...common, kind: 'mlp', hidden: [16, 8] });
    const logistic = await trainClassifier({ ...common, kind: 'logistic' });
    const mlpAuc = auc(mlp.model.predict(val.x), val.y);
    const logisticAuc = auc(logistic.model.predict(val.x), val.y);
    expect(mlpAuc).toBeGreaterThan(0.8);
    expect(logisticAuc).toBeLessThan(0.6);
    expect(mlpAuc - logisticAuc).toBeGreaterThan(0.2);
    mlp.model.dispose();
    logistic.model.dispose();
  });

  describe('reproducibility', () => {
    const train = synthetic(1500, COLS, 6, linear(-1.5));
    const val = synthetic(800, COLS, 7, linear(-1.5));
    const opts = (seed: number): TrainOptions => ({
      kind: 'mlp',
      featureNames: featureNames(COLS),
      x: train.x,
      y: train.y,
      xVal: val.x,
      yVal: val.y,
      seed,
      maxEpochs: 4,
      dropout: 0.2,
    });

    it('when trained twice with one seed, then predictions are bitwise identical; another seed differs', async () => {
      const a = await trainClassifier(opts(11));
      const b = await trainClassifier(opts(11));
      const c = await trainClassifier(opts(12));
      const pa = a.model.predictLogit(val.x);
      expect(b.model.predictLogit(val.x)).toEqual(pa);
      expect(b.epochs.map((e) => e.valAuc)).toEqual(a.epochs.map((e) => e.valAuc));
      const pc = c.model.predictLogit(val.x);
      expect(Math.max(...pa.map((v, i) => Math.abs(v - (pc[i] as number))))).toBeGreaterThan(1e-3);
      for (const r of [a, b, c]) r.model.dispose();
    });

    it('when training runs many epochs, then the tensor count does not grow and dispose frees everything', async () => {
      const before = tf.memory().numTensors;
      const counts: number[] = [];
      const { model } = await trainClassifier({
        ...opts(1),
        maxEpochs: 6,
        patience: 100,
        onEpoch: () => counts.push(tf.memory().numTensors),
      });
      expect(counts).toHaveLength(6);
      // Epoch 1 creates Adam's moment variables and the best-weights copy; after that nothing accumulates.
      expect(new Set(counts.slice(1)).size).toBe(1);
      model.dispose();
      expect(tf.memory().numTensors).toBe(before);
    });
  });

  it('when validation AUC stops improving, then training stops after `patience` epochs with the best weights', async () => {
    // Labels are pure noise: the validation AUC wanders around 0.5 and soon stops setting records.
    const noise = () => 0;
    const train = synthetic(600, COLS, 8, noise);
    const val = synthetic(600, COLS, 9, noise);
    const reports: EpochReport[] = [];
    const result = await trainClassifier({
      kind: 'mlp',
      featureNames: featureNames(COLS),
      x: train.x,
      y: train.y,
      xVal: val.x,
      yVal: val.y,
      seed: 3,
      maxEpochs: 60,
      patience: 2,
      learningRate: 0.03,
      onEpoch: (e) => reports.push(e),
    });
    expect(result.stoppedEarly).toBe(true);
    expect(result.epochs).toEqual(reports);
    expect(result.epochs).toHaveLength(result.bestEpoch + 2);
    const kept = reports[result.bestEpoch - 1] as EpochReport;
    expect(kept.best).toBe(true);
    expect(reports.slice(result.bestEpoch).every((e) => !e.best)).toBe(true);
    // Ties within 1e-3 go to the lower validation loss, so the kept AUC is the best up to that.
    expect(kept.valAuc).toBeGreaterThanOrEqual(Math.max(...reports.map((e) => e.valAuc)) - 1e-3);
    // The returned model is the best epoch's, not the last one's (the intercept refit keeps the ranking).
    expect(auc(result.model.predictLogit(val.x), val.y)).toBeCloseTo(kept.valAuc, 6);
    expect(auc(result.model.predictLogit(val.x), val.y)).not.toBeCloseTo(reports.at(-1)?.valAuc ?? NaN, 6);
    result.model.dispose();
  });

  it('when inputs are inconsistent, then training refuses with a clear VALIDATION_FAILED error', async () => {
    const d = synthetic(50, 3, 1, (z) => 2 * (z[0] as number));
    const base = {
      kind: 'logistic',
      featureNames: featureNames(3),
      x: d.x,
      y: d.y,
      xVal: d.x,
      yVal: d.y,
      seed: 1,
    } as const;
    await expect(trainClassifier({ ...base, featureNames: featureNames(4) })).rejects.toThrow(
      /3 features, the model expects 4/,
    );
    await expect(trainClassifier({ ...base, yVal: new Uint8Array(50) })).rejects.toThrow(
      /yVal has only one class/,
    );
    await expect(trainClassifier({ ...base, y: new Uint8Array(49) })).rejects.toThrow(
      /49 labels for 50 rows/,
    );
    const bad = d.x.data.slice();
    bad[4] = NaN;
    await expect(trainClassifier({ ...base, x: { ...d.x, data: bad } })).rejects.toThrow(/row 1, column 1/);
  });
});
