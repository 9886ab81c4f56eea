import { RiskfuseError } from '../core/errors.js';
import type { ReasonCode } from '../core/state/index.js';
import { inputNames, toMatrix, type Imputer } from './features/dataset.js';
import type { FeatureRow } from './features/extract.js';
import { FEATURE_NAMES, featureDef } from './features/spec.js';
import { gradeFor, pointsFor } from './grades.js';
import { loadClassifier } from './model/artifact.js';
import {
  calibratedPd,
  checkCalibration,
  DEFAULT_PD_FLOOR,
  type CalibrationJson,
} from './model/calibration.js';
import type { Classifier, ModelArtifact } from './model/types.js';
import type { ModelReference } from './monitoring/reference.js';

/**
 * A loadable risk model: the trained network plus everything needed to turn feature rows into its inputs
 * (imputer) and to explain it (feature spec). One JSON file per version in the registry.
 */
export const RISK_MODEL_FORMAT = 'riskfuse-risk-model/1';

export interface RiskModelFile {
  readonly format: typeof RISK_MODEL_FORMAT;
  readonly name: string;
  readonly horizonDays: number;
  readonly population: 'performing' | 'all';
  readonly imputer: Imputer;
  readonly artifact: ModelArtifact;
  readonly dataHash: string;
  readonly backend: string;
  readonly createdAt: number;
  readonly metrics: Readonly<Record<string, unknown>>;
  /**
   * Logit → PD map fitted on held-out borrowers (model/calibration.ts). Files written before recalibration
   * existed have none: their PD stays σ(logit).
   */
  readonly calibration?: CalibrationJson;
  /** Lowest PD the model reports; absent = the scorer's floor (RISK_PD_FLOOR, default 0.03 %). */
  readonly pdFloor?: number;
  /**
   * The training population's bins per input and for the PD (monitoring/reference.ts), what drift is measured
   * against; files written before monitoring have none and get one from their first scored population.
   */
  readonly reference?: ModelReference;
}

export interface RiskModelOptions {
  /** PD floor when the file has none; default DEFAULT_PD_FLOOR. */
  readonly pdFloor?: number;
}

export interface Scored {
  readonly borrowerId: string;
  readonly t: number;
  readonly pd: number;
  readonly score: number;
  readonly grade: string;
  readonly reasons: ReasonCode[];
  /** Per base feature (missing flags folded in), logit units. */
  readonly contributions: Record<string, number>;
  readonly baselineLogit: number;
  readonly logit: number;
}

export const TOP_REASONS = 4;

export class RiskModel {
  /** The floor applied to every PD: the file's own, else the scorer's configured one. */
  readonly pdFloor: number;

  private constructor(
    readonly file: RiskModelFile,
    readonly classifier: Classifier,
    options: RiskModelOptions,
  ) {
    this.pdFloor = file.pdFloor ?? options.pdFloor ?? DEFAULT_PD_FLOOR;
  }

  static async load(file: RiskModelFile, options: RiskModelOptions = {}): Promise<RiskModel> {
    if (file.format !== RISK_MODEL_FORMAT) {
      throw new RiskfuseError(
        'VALIDATION_FAILED',
        `not a riskfuse risk model (format ${String(file.format)})`,
      );
    }
    const names = inputNames(file.imputer);
    if (
      names.length !== file.artifact.featureNames.length ||
      names.some((n, i) => n !== file.artifact.featureNames[i])
    ) {
      throw new RiskfuseError('VALIDATION_FAILED', 'the model inputs do not match its imputer');
    }
    for (const f of file.imputer.features) {
      if (!FEATURE_NAMES.includes(f)) {
        throw new RiskfuseError(
          'VALIDATION_FAILED',
          `the model uses feature ${f}, which this riskfuse does not compute`,
        );
      }
    }
    if (file.calibration !== undefined) checkCalibration(file.calibration, `model ${file.name}`);
    if (file.pdFloor !== undefined && !(file.pdFloor >= 0 && file.pdFloor < 0.5))
      throw new RiskfuseError('VALIDATION_FAILED', `model ${file.name}: pdFloor must be in [0, 0.5)`);
    return new RiskModel(file, await loadClassifier(file.artifact), options);
  }

  static async fromClassifier(
    file: Omit<RiskModelFile, 'artifact'>,
    classifier: Classifier,
    options: RiskModelOptions = {},
  ): Promise<RiskModel> {
    return Promise.resolve(
      new RiskModel({ ...file, artifact: classifier.toArtifact() }, classifier, options),
    );
  }

  /** The network's logits → recalibrated, floored PDs. */
  private pds(logits: Float32Array): Float32Array {
    const c = this.file.calibration;
    return Float32Array.from(logits, (z) => calibratedPd(z, c, this.pdFloor));
  }

  /** PDs only (fast path, e.g. shadow scoring). */
  predict(rows: readonly FeatureRow[]): Float32Array {
    if (rows.length === 0) return new Float32Array(0);
    return this.pds(this.classifier.predictLogit(toMatrix(rows, this.file.imputer)));
  }

  /** PDs with integrated-gradients contributions and reason codes. */
  score(rows: readonly FeatureRow[]): Scored[] {
    if (rows.length === 0) return [];
    const x = toMatrix(rows, this.file.imputer);
    const pds = this.pds(this.classifier.predictLogit(x));
    const explanations = this.classifier.explain(x);
    const names = this.classifier.featureNames;
    return rows.map((r, i) => {
      const e = explanations[i];
      if (e === undefined) throw new RiskfuseError('INTERNAL', 'missing explanation');
      const contributions: Record<string, number> = {};
      names.forEach((n, j) => {
        const base = n.endsWith('__missing') ? n.slice(0, -'__missing'.length) : n;
        contributions[base] = (contributions[base] ?? 0) + (e.contributions[j] ?? 0);
      });
      const pd = pds[i] as number;
      return {
        borrowerId: r.borrowerId,
        t: r.t,
        pd,
        score: pointsFor(pd),
        grade: gradeFor(pd),
        reasons: reasonCodes(contributions, r),
        contributions,
        baselineLogit: e.baselineLogit,
        logit: e.logit,
      };
    });
  }

  dispose(): void {
    this.classifier.dispose();
  }
}

/** The features that raise the PD most, in plain words (adverse-action reasons). */
export function reasonCodes(
  contributions: Readonly<Record<string, number>>,
  row: FeatureRow,
  top = TOP_REASONS,
): ReasonCode[] {
  const na = new Set(row.notApplicable ?? []);
  return Object.entries(contributions)
    .filter(([feature, c]) => c > 0 && !na.has(feature))
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([feature, contribution]) => {
      const def = featureDef(feature);
      const v = row.values[FEATURE_NAMES.indexOf(feature)];
      const missing = v === undefined || Number.isNaN(v);
      return {
        feature,
        contribution,
        value: missing ? null : v,
        text: missing ? `No data: ${def?.description ?? feature}` : (def?.reasonUp ?? feature),
      };
    });
}
