import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { errorMessage, RiskfuseError } from '../core/errors.js';
import type { ModelRecord, RiskStore } from '../core/storage/risk-store.js';
import { RiskModel, RISK_MODEL_FORMAT, type RiskModelFile } from './scorer.js';

/**
 * The model registry: each version's artifact is a JSON file under `dir` (weights, normalisation, imputer,
 * metrics), listed in the risk store with its status. Exactly one champion scores for real; challengers score
 * in shadow. Versions are `v1`, `v2`, … in registration order.
 */
export class ModelRegistry {
  private readonly cache = new Map<string, Promise<RiskModel>>();

  constructor(
    private readonly store: RiskStore,
    readonly dir: string,
  ) {}

  list(): ModelRecord[] {
    return this.store.listModels();
  }

  get(version: string): ModelRecord | undefined {
    return this.store.getModel(version);
  }

  championRecord(): ModelRecord | undefined {
    return this.store.champion();
  }

  challengerRecords(): ModelRecord[] {
    return this.store.listModels().filter((m) => m.status === 'challenger');
  }

  async register(file: RiskModelFile, opts: { activate?: boolean; now?: number } = {}): Promise<ModelRecord> {
    // Validate by loading before anything is written.
    const model = await RiskModel.load(file);
    const existing = this.store.listModels();
    const n = existing.reduce((m, r) => Math.max(m, Number(/^v(\d+)$/.exec(r.version)?.[1] ?? 0)), 0) + 1;
    const version = `v${n}`;
    await mkdir(this.dir, { recursive: true });
    const path = join(resolve(this.dir), `${version}-${file.name}.json`);
    const tmp = `${path}.${randomBytes(4).toString('hex')}.tmp`;
    await writeFile(tmp, JSON.stringify(file), { flush: true });
    await rename(tmp, path);
    const now = opts.now ?? Date.now();
    try {
      this.store.addModel({
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
      });
    } catch (err) {
      await rm(path, { force: true });
      throw err;
    }
    this.cache.set(version, Promise.resolve(model));
    if (opts.activate === true) return this.activate(version, now);
    return this.store.getModel(version) as ModelRecord;
  }

  activate(version: string, now = Date.now()): ModelRecord {
    return this.store.activateModel(version, now);
  }

  retire(version: string): void {
    this.store.setModelStatus(version, 'retired');
    void this.cache.get(version)?.then((m) => m.dispose());
    this.cache.delete(version);
  }

  /** The model of `version`, loaded once and kept. */
  load(version: string): Promise<RiskModel> {
    let p = this.cache.get(version);
    if (p === undefined) {
      const rec = this.store.getModel(version);
      if (rec === undefined)
        return Promise.reject(new RiskfuseError('NOT_FOUND', `no model version ${version}`));
      p = readModelFile(rec.artifactPath).then((f) => RiskModel.load(f));
      this.cache.set(version, p);
      p.catch(() => this.cache.delete(version));
    }
    return p;
  }

  /** Registers and activates the shipped default model when the registry is empty; returns its record. */
  async ensureDefault(defaultPath: string): Promise<ModelRecord | undefined> {
    if (this.store.champion() !== undefined) return undefined;
    const challengers = this.challengerRecords();
    const first = challengers[0];
    if (first !== undefined) return this.activate(first.version);
    const file = await readModelFile(defaultPath);
    return this.register(file, { activate: true });
  }
}

export async function readModelFile(path: string): Promise<RiskModelFile> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new RiskfuseError('NOT_FOUND', `cannot read model file ${path}: ${errorMessage(err)}`);
  }
  let file: RiskModelFile;
  try {
    file = JSON.parse(text) as RiskModelFile;
  } catch (err) {
    throw new RiskfuseError('VALIDATION_FAILED', `${path} is not JSON: ${errorMessage(err)}`);
  }
  if (file.format !== RISK_MODEL_FORMAT) {
    throw new RiskfuseError('VALIDATION_FAILED', `${path} is not a riskfuse risk model`);
  }
  return file;
}
