/** The model registry: versioned artifacts, one champion (a partial unique index), challengers in shadow. */
export type ModelStatus = 'champion' | 'challenger' | 'retired';

export interface ModelRecord {
  readonly version: string;
  /** What the model is, e.g. `fused-mlp`. */
  readonly name: string;
  readonly kind: string;
  readonly status: ModelStatus;
  readonly createdAt: number;
  readonly activatedAt?: number;
  /**
   * Where the artifact (weights, normalisation, imputer, feature spec) was written on the registering host; the
   * state keeps the artifact itself (`getArtifact`) since schema version 9, and older models are read from here.
   */
  readonly artifactPath: string;
  readonly dataHash: string;
  readonly backend: string;
  /** Metrics, horizon, feature list and anything else worth showing (JSON). */
  readonly meta: Readonly<Record<string, unknown>>;
}

export interface ModelRepository {
  /** Adds a model (not as champion) and, when given, its artifact (the model file's JSON), in one transaction. */
  addModel(m: ModelRecord, artifact?: string): Promise<void>;
  /** The artifact stored with a model; undefined for models added without one (before schema version 9). */
  getArtifact(version: string): Promise<string | undefined>;
  getModel(version: string): Promise<ModelRecord | undefined>;
  listModels(): Promise<ModelRecord[]>;
  champion(): Promise<ModelRecord | undefined>;
  /** Makes `version` the champion in one transaction; the previous champion becomes a challenger. */
  activateModel(version: string, atMs: number): Promise<ModelRecord>;
  setModelStatus(version: string, status: Exclude<ModelStatus, 'champion'>): Promise<void>;
}
