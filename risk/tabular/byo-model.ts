import { readFile } from 'node:fs/promises';
import { errorMessage, RiskfuseError } from '../../core/errors.js';
import { loadClassifier } from '../model/artifact.js';
import type { Classifier, ModelArtifact } from '../model/types.js';
import { TabularEncoder, type CellTable } from './encode.js';
import type { ByoModelFile } from './report.js';

/** A model trained by `riskfuse train`, reloaded with its encoder, ready to score rows of the same layout. */
export interface ByoModel {
  readonly label: string;
  /** Label value the PD is the probability of. */
  readonly positive: string;
  readonly encoder: TabularEncoder;
  readonly classifier: Classifier;
  /** PD per row of `table` (columns matched by name; extra columns, including the label, are ignored). */
  score(table: CellTable): Float32Array;
  dispose(): void;
}

export async function loadByoModel(json: unknown): Promise<ByoModel> {
  const file = json as Partial<ByoModelFile> | null;
  if (file === null || typeof file !== 'object' || file.format !== 'riskfuse-byo-model/1')
    throw new RiskfuseError('VALIDATION_FAILED', 'not a riskfuse-byo-model/1 file');
  if (typeof file.label !== 'string' || typeof file.positive !== 'string')
    throw new RiskfuseError('VALIDATION_FAILED', 'riskfuse-byo-model/1: label and positive must be strings');
  const encoder = TabularEncoder.fromJSON(file.encoder);
  const classifier = await loadClassifier(file.model as ModelArtifact);
  if (classifier.featureNames.join('\u0000') !== encoder.featureNames.join('\u0000')) {
    classifier.dispose();
    throw new RiskfuseError(
      'VALIDATION_FAILED',
      'riskfuse-byo-model/1: the model and the encoder disagree on features',
    );
  }
  return {
    label: file.label,
    positive: file.positive,
    encoder,
    classifier,
    score: (table) => classifier.predict(encoder.transform(table)),
    dispose: () => classifier.dispose(),
  };
}

export async function readByoModelFile(path: string): Promise<ByoModel> {
  let json: unknown;
  try {
    json = JSON.parse(await readFile(path, 'utf8'));
  } catch (err) {
    throw new RiskfuseError('VALIDATION_FAILED', `cannot read model file ${path}: ${errorMessage(err)}`, {
      cause: err,
    });
  }
  return loadByoModel(json);
}
