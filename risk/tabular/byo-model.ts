import { readFile } from 'node:fs/promises';
import { errorMessage, RiskfuseError } from '../../core/errors.js';
import { loadClassifier } from '../model/artifact.js';
import { applyCalibration, checkCalibration, type CalibrationJson } from '../model/calibration.js';
import type { ModelArtifact } from '../model/types.js';
import { TabularEncoder, type CellTable } from './encode.js';
import { loadTabularModel, type TabularModel } from './models.js';
import type { ByoModelFile, ByoModelFileV1 } from './report.js';

/**
 * A model trained by `riskfuse train`, reloaded with its encoder, ready to score rows of the same layout.
 * Reads both file versions: /2 (any model kind, its recalibration and PD floor) and /1 (a tfjs classifier
 * without either, scored as it was: σ(logit), no floor).
 */
export interface ByoModel {
  readonly label: string;
  /** Label value the PD is the probability of. */
  readonly positive: string;
  readonly encoder: TabularEncoder;
  readonly model: TabularModel;
  readonly calibration?: CalibrationJson;
  readonly pdFloor: number;
  /** PD per row of `table` (columns matched by name; extra columns, including the label, are ignored). */
  score(table: CellTable): Float64Array;
  dispose(): void;
}

const invalid = (why: string): RiskfuseError => new RiskfuseError('VALIDATION_FAILED', why);

export async function loadByoModel(json: unknown): Promise<ByoModel> {
  const file = json as Partial<ByoModelFile> | Partial<ByoModelFileV1> | null;
  if (
    file === null ||
    typeof file !== 'object' ||
    (file.format !== 'riskfuse-byo-model/1' && file.format !== 'riskfuse-byo-model/2')
  )
    throw invalid('not a riskfuse-byo-model/1 or /2 file');
  if (typeof file.label !== 'string' || typeof file.positive !== 'string')
    throw invalid(`${file.format}: label and positive must be strings`);
  const encoder = TabularEncoder.fromJSON(file.encoder);
  let model: TabularModel;
  let calibration: CalibrationJson | undefined;
  let pdFloor = 0;
  if (file.format === 'riskfuse-byo-model/1') {
    const c = await loadClassifier(file.model as ModelArtifact);
    model = {
      kind: c.kind,
      featureNames: c.featureNames,
      predictLogit: (x) => Float64Array.from(c.predictLogit(x)),
      toJSON: () => ({ kind: c.kind, artifact: c.toArtifact() }),
      dispose: () => c.dispose(),
      notes: {},
    };
  } else {
    const f = file as Partial<ByoModelFile>;
    calibration = checkCalibration(f.calibration, 'riskfuse-byo-model/2');
    if (typeof f.pdFloor !== 'number' || !(f.pdFloor >= 0 && f.pdFloor < 0.5))
      throw invalid('riskfuse-byo-model/2: pdFloor must be a number in [0, 0.5)');
    pdFloor = f.pdFloor;
    model = await loadTabularModel(f.model);
  }
  if (model.featureNames.join('\u0000') !== encoder.featureNames.join('\u0000')) {
    model.dispose();
    throw invalid(`${file.format}: the model and the encoder disagree on features`);
  }
  return {
    label: file.label,
    positive: file.positive,
    encoder,
    model,
    ...(calibration === undefined ? {} : { calibration }),
    pdFloor,
    score: (table) => applyCalibration(model.predictLogit(encoder.transform(table)), calibration, pdFloor),
    dispose: () => model.dispose(),
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
