/**
 * The contract between the parts of risk/: feature matrices in, a trained classifier out. Networks output a
 * logit; PD = sigmoid(logit). Inputs are already numeric and finite (missing values imputed and flagged by
 * the caller) and are standardised by the model's own `Normalisation`, so callers pass raw feature values.
 */

/** Row-major feature matrix: `rows × cols` values. */
export interface Matrix {
  readonly rows: number;
  readonly cols: number;
  readonly data: Float32Array;
}

export type ModelKind = 'logistic' | 'mlp';

export interface Normalisation {
  readonly mean: readonly number[];
  /** Standard deviation, never 0 (constant columns get 1). */
  readonly std: readonly number[];
}

export interface TrainOptions {
  readonly kind: ModelKind;
  readonly featureNames: readonly string[];
  readonly x: Matrix;
  /** 0/1 labels, one per row. */
  readonly y: Uint8Array;
  /** Validation set for early stopping (by validation AUC). */
  readonly xVal: Matrix;
  readonly yVal: Uint8Array;
  readonly seed: number;
  /** Hidden layer widths for 'mlp'; default [32, 16]. */
  readonly hidden?: readonly number[];
  readonly maxEpochs?: number;
  /** Epochs without a better validation AUC before stopping; default 8. */
  readonly patience?: number;
  readonly batchSize?: number;
  readonly learningRate?: number;
  /** L2 penalty on weights; default 1e-4. */
  readonly l2?: number;
  readonly dropout?: number;
  readonly onEpoch?: (e: EpochReport) => void;
}

export interface EpochReport {
  readonly epoch: number;
  readonly loss: number;
  readonly valLoss: number;
  readonly valAuc: number;
  readonly ms: number;
  /** True when this epoch is the best so far (its weights are kept). */
  readonly best: boolean;
}

export interface TrainResult {
  readonly model: Classifier;
  readonly epochs: readonly EpochReport[];
  readonly bestEpoch: number;
  readonly stoppedEarly: boolean;
}

/** Signed per-feature contributions to the logit, relative to the baseline input. */
export interface Explanation {
  readonly logit: number;
  readonly baselineLogit: number;
  /** One per feature, same order as `featureNames`; sums to logit − baselineLogit (integrated gradients). */
  readonly contributions: readonly number[];
  /** Integration intervals actually used (more than requested when completeness needed them). */
  readonly steps?: number;
}

export interface Classifier {
  readonly kind: ModelKind;
  readonly featureNames: readonly string[];
  readonly normalisation: Normalisation;
  /** Raw-feature baseline for explanations (the training mean). */
  readonly baseline: readonly number[];
  /** PD per row (batched inference). */
  predict(x: Matrix): Float32Array;
  /** Logit per row. */
  predictLogit(x: Matrix): Float32Array;
  explain(x: Matrix, steps?: number): Explanation[];
  /** Serialisable artifact (topology + weights + normalisation), loadable on any backend. */
  toArtifact(): ModelArtifact;
  dispose(): void;
}

export interface ModelArtifact {
  readonly format: 'riskfuse-model/1';
  readonly kind: ModelKind;
  readonly featureNames: readonly string[];
  readonly normalisation: Normalisation;
  readonly baseline: readonly number[];
  /** tf.io ModelArtifacts topology (JSON). */
  readonly topology: unknown;
  readonly weightSpecs: unknown;
  /** Weights as base64 of the concatenated little-endian float32 buffer. */
  readonly weightsBase64: string;
}
