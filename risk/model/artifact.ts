import { randomBytes } from 'node:crypto';
import { readFile, rename, rm, writeFile } from 'node:fs/promises';
import * as tf from '@tensorflow/tfjs';
import { RiskfuseError, errorMessage } from '../../core/errors.js';
import { ensureBackend } from './backend.js';
import { ARTIFACT_FORMAT, createClassifier } from './classifier.js';
import type { Classifier, ModelArtifact, ModelKind } from './types.js';

/**
 * Loading and storing model artifacts. An artifact is checked before any tensor is made, so a wrong,
 * truncated or hand-edited file fails with MODEL_INVALID saying what is wrong, not with a tfjs stack trace.
 */
export async function loadClassifier(a: ModelArtifact): Promise<Classifier> {
  const { kind, featureNames, weightSpecs, weightData } = checkArtifact(a);
  await ensureBackend();
  let model: tf.LayersModel;
  try {
    model = await tf.loadLayersModel(
      tf.io.fromMemory({
        modelTopology: a.topology as tf.io.ModelJSON['modelTopology'],
        weightSpecs,
        weightData,
      }),
    );
  } catch (err) {
    throw invalid(`tfjs could not build the model: ${errorMessage(err)}`, err);
  }
  const inShape = model.inputs[0]?.shape;
  const outShape = model.outputs[0]?.shape;
  if (model.inputs.length !== 1 || inShape?.length !== 2 || inShape[1] !== featureNames.length) {
    model.dispose();
    throw invalid(
      `the network takes input ${JSON.stringify(inShape)}, the artifact lists ${featureNames.length} features`,
    );
  }
  if (model.outputs.length !== 1 || outShape?.length !== 2 || outShape[1] !== 1) {
    model.dispose();
    throw invalid(`the network outputs ${JSON.stringify(outShape)}, expected one logit per row`);
  }
  return createClassifier(model, {
    kind,
    featureNames,
    normalisation: { mean: a.normalisation.mean, std: a.normalisation.std },
    baseline: a.baseline,
  });
}

function invalid(message: string, cause?: unknown): RiskfuseError {
  return new RiskfuseError(
    'MODEL_INVALID',
    `model artifact: ${message}`,
    cause === undefined ? {} : { cause },
  );
}

function finiteVector(v: unknown, length: number, name: string, positive = false): void {
  if (!Array.isArray(v) || v.length !== length) {
    throw invalid(`${name} must be an array of ${length} numbers (one per feature)`);
  }
  v.forEach((x, i) => {
    if (typeof x !== 'number' || !Number.isFinite(x) || (positive && x <= 0)) {
      throw invalid(
        `${name}[${i}] = ${JSON.stringify(x)} is not a ${positive ? 'positive ' : ''}finite number`,
      );
    }
  });
}

function checkArtifact(a: ModelArtifact): {
  kind: ModelKind;
  featureNames: string[];
  weightSpecs: tf.io.WeightsManifestEntry[];
  weightData: ArrayBuffer;
} {
  const raw = a as unknown as Record<string, unknown>;
  if (typeof raw !== 'object' || raw === null) throw invalid('not an object');
  if (raw.format !== ARTIFACT_FORMAT) {
    throw invalid(
      `format is ${JSON.stringify(raw.format)}, this version reads ${JSON.stringify(ARTIFACT_FORMAT)}`,
    );
  }
  if (raw.kind !== 'logistic' && raw.kind !== 'mlp')
    throw invalid(`unknown kind ${JSON.stringify(raw.kind)}`);
  const names = raw.featureNames;
  if (!Array.isArray(names) || names.length === 0 || !names.every((n) => typeof n === 'string')) {
    throw invalid('featureNames must be a non-empty array of strings');
  }
  const featureNames: string[] = names;
  const norm = raw.normalisation as Record<string, unknown> | null | undefined;
  if (typeof norm !== 'object' || norm === null) throw invalid('normalisation is missing');
  finiteVector(norm.mean, featureNames.length, 'normalisation.mean');
  finiteVector(norm.std, featureNames.length, 'normalisation.std', true);
  finiteVector(raw.baseline, featureNames.length, 'baseline');
  if (typeof raw.topology !== 'object' || raw.topology === null) throw invalid('topology is missing');

  if (!Array.isArray(raw.weightSpecs)) throw invalid('weightSpecs must be an array');
  let expectedBytes = 0;
  const weightSpecs = raw.weightSpecs.map((s: unknown, i): tf.io.WeightsManifestEntry => {
    const spec = s as Record<string, unknown> | null;
    const shape = spec?.shape;
    if (
      typeof spec?.name !== 'string' ||
      spec.dtype !== 'float32' ||
      spec.quantization !== undefined ||
      !Array.isArray(shape) ||
      !shape.every((d) => Number.isInteger(d) && (d as number) > 0)
    ) {
      throw invalid(`weightSpecs[${i}] must be {name, shape: positive integers, dtype: 'float32'}`);
    }
    expectedBytes += 4 * (shape as number[]).reduce((p, d) => p * d, 1);
    return { name: spec.name, shape: shape as number[], dtype: 'float32' };
  });
  if (typeof raw.weightsBase64 !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(raw.weightsBase64)) {
    throw invalid('weightsBase64 must be a base64 string');
  }
  const bytes = Buffer.from(raw.weightsBase64, 'base64');
  if (bytes.length !== expectedBytes) {
    throw invalid(`weights hold ${bytes.length} bytes, weightSpecs describe ${expectedBytes}`);
  }
  const weightData = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length);
  return { kind: raw.kind, featureNames, weightSpecs, weightData };
}

/**
 * Writes `a` as JSON next to `path` and renames it into place: rename is atomic within a file system, so a
 * crash leaves either the old file or the new one, never half of one.
 */
export async function saveArtifactFile(path: string, a: ModelArtifact): Promise<void> {
  const tmp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    await writeFile(tmp, JSON.stringify(a), { flush: true });
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

/** Reads a JSON artifact; shape checks happen in `loadClassifier`. */
export async function readArtifactFile(path: string): Promise<ModelArtifact> {
  const text = await readFile(path, 'utf8');
  try {
    return JSON.parse(text) as ModelArtifact;
  } catch (err) {
    throw invalid(`${path} is not JSON: ${errorMessage(err)}`, err);
  }
}
