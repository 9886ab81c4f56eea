import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RiskfuseError } from '../../core/errors.js';
import { initBackend } from '../model/backend.js';
import { loadClassifier, readArtifactFile, saveArtifactFile } from '../model/artifact.js';
import { trainClassifier } from '../model/train.js';
import type { Classifier, ModelArtifact } from '../model/types.js';
import { featureNames, rowsOf, synthetic } from './synthetic.js';

const COLS = 5;
const logit = (z: Float64Array) => -2 + (z[0] as number) - 0.5 * (z[1] as number) * (z[2] as number);
let dir: string;
let model: Classifier;
const data = synthetic(3000, COLS, 21, logit);
const probe = rowsOf(data.x, 2000, 3000);

beforeAll(async () => {
  await initBackend();
  dir = await mkdtemp(path.join(tmpdir(), 'riskfuse-artifact-'));
  ({ model } = await trainClassifier({
    kind: 'mlp',
    featureNames: featureNames(COLS),
    x: rowsOf(data.x, 0, 1500),
    y: data.y.slice(0, 1500),
    xVal: rowsOf(data.x, 1500, 2000),
    yVal: data.y.slice(1500, 2000),
    seed: 2,
    maxEpochs: 5,
  }));
});

afterAll(async () => {
  model.dispose();
  await rm(dir, { recursive: true, force: true });
});

async function expectInvalid(a: unknown, message: RegExp): Promise<void> {
  const err: unknown = await loadClassifier(a as ModelArtifact).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(RiskfuseError);
  expect((err as RiskfuseError).code).toBe('MODEL_INVALID');
  expect((err as RiskfuseError).message).toMatch(message);
}

describe('model artifacts', () => {
  it('when saved to a JSON file and loaded, then 1,000 predictions and explanations are unchanged', async () => {
    const file = path.join(dir, 'model.json');
    await saveArtifactFile(file, model.toArtifact());
    expect(await readdir(dir)).toEqual(['model.json']);
    const loaded = await loadClassifier(await readArtifactFile(file));
    expect(loaded.kind).toBe('mlp');
    expect(loaded.featureNames).toEqual(model.featureNames);
    expect(loaded.normalisation).toEqual(model.normalisation);
    const before = model.predict(probe);
    const after = loaded.predict(probe);
    expect(after).toHaveLength(1000);
    for (let i = 0; i < after.length; i++)
      expect(Math.abs((after[i] as number) - (before[i] as number))).toBeLessThan(1e-6);
    const row = rowsOf(probe, 0, 1);
    expect(loaded.explain(row)[0]?.contributions).toEqual(model.explain(row)[0]?.contributions);
    loaded.dispose();
  });

  it('when saved again over an existing file, then the file is replaced whole and no temp file is left', async () => {
    const file = path.join(dir, 'again.json');
    await writeFile(file, 'old');
    await saveArtifactFile(file, model.toArtifact());
    expect((await readArtifactFile(file)).format).toBe('riskfuse-model/1');
    expect((await readdir(dir)).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('when loaded on the cpu backend after training on another, then it scores the same to float rounding', async () => {
    const before = model.predictLogit(probe);
    const original = tf.getBackend();
    await tf.setBackend('cpu');
    try {
      const onCpu = await loadClassifier(model.toArtifact());
      const after = onCpu.predictLogit(probe);
      for (let i = 0; i < after.length; i++) expect(after[i]).toBeCloseTo(before[i] as number, 4);
      onCpu.dispose();
    } finally {
      await tf.setBackend(original);
    }
  });

  it('when the artifact is corrupted, then loading fails with MODEL_INVALID saying what is wrong', async () => {
    const a = model.toArtifact();
    await expectInvalid({ ...a, format: 'riskfuse-model/0' }, /format is "riskfuse-model\/0"/);
    await expectInvalid({ ...a, kind: 'forest' }, /unknown kind "forest"/);
    const bytes = Buffer.from(a.weightsBase64, 'base64');
    await expectInvalid(
      { ...a, weightsBase64: bytes.subarray(0, bytes.length - 4).toString('base64') },
      new RegExp(`weights hold ${bytes.length - 4} bytes, weightSpecs describe ${bytes.length}`),
    );
    await expectInvalid({ ...a, weightsBase64: '%%%' }, /base64/);
    // One more feature, consistently in every per-feature list: only the network can tell.
    const extra = {
      ...a,
      featureNames: [...a.featureNames, 'extra'],
      normalisation: { mean: [...a.normalisation.mean, 0], std: [...a.normalisation.std, 1] },
      baseline: [...a.baseline, 0],
    };
    await expectInvalid(extra, /takes input \[null,5\], the artifact lists 6 features/);
    await expectInvalid({ ...a, baseline: a.baseline.slice(1) }, /baseline must be an array of 5 numbers/);
    await expectInvalid(
      { ...a, normalisation: { ...a.normalisation, std: a.normalisation.std.map(() => 0) } },
      /normalisation.std\[0\] = 0 is not a positive finite number/,
    );
    await expectInvalid({ ...a, topology: { nonsense: true } }, /tfjs could not build the model/);
  });

  it('when the file is not JSON, then reading it fails with MODEL_INVALID', async () => {
    const file = path.join(dir, 'broken.json');
    await writeFile(file, '{"format": "riskfuse-mo');
    await expect(readArtifactFile(file)).rejects.toMatchObject({ code: 'MODEL_INVALID' });
  });

  it('when scoring rows with the wrong feature count, then predict refuses', () => {
    expect(() => model.predict({ rows: 1, cols: 4, data: new Float32Array(4) })).toThrow(
      /4 features, the model expects 5/,
    );
  });
});
