import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { errorMessage, RiskfuseError } from '../core/errors.js';
import type { ModelRecord, ModelRepository } from '../core/state/index.js';
import { RiskModel, RISK_MODEL_FORMAT, type RiskModelFile, type RiskModelOptions } from './scorer.js';

/**
 * The model registry: each version's artifact (weights, normalisation, imputer, metrics: the model file's JSON)
 * is stored in the state with its record and status, so every replica on a shared PostgreSQL loads the same
 * model without sharing a folder; a copy is written under `dir` for operators. Models registered before the
 * state kept artifacts are read from their file. Exactly one champion scores for real; challengers score in
 * shadow. Versions are `v1`, `v2`, … in registration order.
 */
export class ModelRegistry {
  private readonly cache = new Map<string, Promise<RiskModel>>();

  constructor(
    private readonly models: ModelRepository,
    readonly dir: string,
    private readonly modelOptions: RiskModelOptions = {},
  ) {}

  list(): Promise<ModelRecord[]> {
    return this.models.listModels();
  }

  get(version: string): Promise<ModelRecord | undefined> {
    return this.models.getModel(version);
  }

  championRecord(): Promise<ModelRecord | undefined> {
    return this.models.champion();
  }

  async challengerRecords(): Promise<ModelRecord[]> {
    return (await this.models.listModels()).filter((m) => m.status === 'challenger');
  }

  async register(file: RiskModelFile, opts: { activate?: boolean; now?: number } = {}): Promise<ModelRecord> {
    // Validate by loading before anything is written.
    const model = await RiskModel.load(file, this.modelOptions);
    const existing = await this.models.listModels();
    const n = existing.reduce((m, r) => Math.max(m, Number(/^v(\d+)$/.exec(r.version)?.[1] ?? 0)), 0) + 1;
    const version = `v${n}`;
    await mkdir(this.dir, { recursive: true });
    // A name of its own per registration: two processes registering `v1` at once (one loses on the version's
    // unique key) must not overwrite or delete each other's copy.
    const path = join(resolve(this.dir), `${version}-${file.name}-${randomBytes(4).toString('hex')}.json`);
    const body = JSON.stringify(file);
    const tmp = `${path}.tmp`;
    await writeFile(tmp, body, { flush: true });
    await rename(tmp, path);
    const now = opts.now ?? Date.now();
    try {
      await this.models.addModel(
        {
          version,
          name: file.name,
          kind: file.artifact.kind,
          status: 'challenger',
          createdAt: file.createdAt,
          artifactPath: path,
          dataHash: file.dataHash,
          backend: file.backend,
          meta: {
            horizonDays: file.horizonDays,
            population: file.population,
            features: file.imputer.features,
            inputs: file.artifact.featureNames.length,
            sha256: createHash('sha256').update(JSON.stringify(file)).digest('hex').slice(0, 16),
            metrics: file.metrics,
          },
        },
        body,
      );
    } catch (err) {
      await rm(path, { force: true });
      throw err;
    }
    this.cache.set(version, Promise.resolve(model));
    if (opts.activate === true) return this.activate(version, now);
    return (await this.models.getModel(version)) as ModelRecord;
  }

  activate(version: string, now = Date.now()): Promise<ModelRecord> {
    return this.models.activateModel(version, now);
  }

  async retire(version: string): Promise<void> {
    await this.models.setModelStatus(version, 'retired');
    // A load that failed has nothing to dispose (and was reported to its caller).
    void this.cache.get(version)?.then(
      (m) => m.dispose(),
      () => undefined,
    );
    this.cache.delete(version);
  }

  /** The model of `version`, loaded once and kept. */
  load(version: string): Promise<RiskModel> {
    let p = this.cache.get(version);
    if (p === undefined) {
      // Cached before the record is read, so that concurrent loads of one version share one read and one model.
      p = this.models.getModel(version).then(async (rec) => {
        if (rec === undefined) throw new RiskfuseError('NOT_FOUND', `no model version ${version}`);
        const stored = await this.models.getArtifact(version);
        return RiskModel.load(
          stored === undefined
            ? await readModelFile(rec.artifactPath)
            : parseModelFile(stored, `model ${version}`),
          this.modelOptions,
        );
      });
      this.cache.set(version, p);
      p.catch(() => this.cache.delete(version));
    }
    return p;
  }

  /** Registers and activates the shipped default model when the registry is empty; returns its record. */
  async ensureDefault(defaultPath: string): Promise<ModelRecord | undefined> {
    if ((await this.models.champion()) !== undefined) return undefined;
    const challengers = await this.challengerRecords();
    const first = challengers[0];
    if (first !== undefined) return this.activate(first.version);
    const file = await readModelFile(defaultPath);
    try {
      return await this.register(file, { activate: true });
    } catch (err) {
      // Another process (an API replica, the scoring service) installed it first: theirs is the champion.
      if (
        err instanceof RiskfuseError &&
        err.code === 'CONFLICT' &&
        (await this.models.champion()) !== undefined
      )
        return undefined;
      throw err;
    }
  }
}

export async function readModelFile(path: string): Promise<RiskModelFile> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new RiskfuseError('NOT_FOUND', `cannot read model file ${path}: ${errorMessage(err)}`);
  }
  return parseModelFile(text, path);
}

/** A model file's JSON, checked to be a riskfuse model; `what` names it in errors. */
export function parseModelFile(text: string, what: string): RiskModelFile {
  let file: RiskModelFile;
  try {
    file = JSON.parse(text) as RiskModelFile;
  } catch (err) {
    throw new RiskfuseError('VALIDATION_FAILED', `${what} is not JSON: ${errorMessage(err)}`);
  }
  if (file.format !== RISK_MODEL_FORMAT) {
    throw new RiskfuseError('VALIDATION_FAILED', `${what} is not a riskfuse risk model`);
  }
  return file;
}
