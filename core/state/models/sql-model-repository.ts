import { RiskfuseError } from '../../errors.js';
import { isConstraintError, type Database, type Row } from '../database.js';
import type { ModelRecord, ModelRepository } from './model-repository.js';

const toModel = (r: Row): ModelRecord => ({
  version: String(r.version),
  name: String(r.name),
  kind: String(r.kind),
  status: String(r.status) as ModelRecord['status'],
  createdAt: Number(r.created_at),
  ...(r.activated_at == null ? {} : { activatedAt: Number(r.activated_at) }),
  artifactPath: String(r.artifact_path),
  dataHash: String(r.data_hash),
  backend: String(r.backend),
  meta: JSON.parse(String(r.meta)) as Record<string, unknown>,
});

/**
 * The model registry on the state database (SQLite or PostgreSQL). At most one champion: the partial unique
 * index `models_one_champion` refuses a second, and `activateModel` swaps champions in one transaction.
 */
export class SqlModelRepository implements ModelRepository {
  constructor(private readonly db: Database) {}

  async addModel(m: ModelRecord, artifact?: string): Promise<void> {
    if (m.status === 'champion')
      throw new RiskfuseError('VALIDATION_FAILED', 'add a model, then activate it');
    try {
      await this.db.transaction(async () => {
        await this.insert(m);
        if (artifact !== undefined)
          await this.db.run('INSERT INTO model_artifacts (version, body) VALUES (?, ?)', [
            m.version,
            artifact,
          ]);
      });
    } catch (err) {
      if (isConstraintError(err, 'unique'))
        throw new RiskfuseError('CONFLICT', `model version ${m.version} already exists`, { cause: err });
      throw err;
    }
  }

  async getArtifact(version: string): Promise<string | undefined> {
    const r = await this.db.get<{ body: string }>('SELECT body FROM model_artifacts WHERE version = ?', [
      version,
    ]);
    return r?.body;
  }

  private async insert(m: ModelRecord): Promise<void> {
    await this.db.run(
      `INSERT INTO models (version, name, kind, status, created_at, activated_at, artifact_path, data_hash, backend,
         meta)
       VALUES (@version, @name, @kind, @status, @createdAt, NULL, @artifactPath, @dataHash, @backend, @meta)`,
      {
        version: m.version,
        name: m.name,
        kind: m.kind,
        status: m.status,
        createdAt: m.createdAt,
        artifactPath: m.artifactPath,
        dataHash: m.dataHash,
        backend: m.backend,
        meta: JSON.stringify(m.meta),
      },
    );
  }

  async getModel(version: string): Promise<ModelRecord | undefined> {
    const r = await this.db.get('SELECT * FROM models WHERE version = ?', [version]);
    return r === undefined ? undefined : toModel(r);
  }

  async listModels(): Promise<ModelRecord[]> {
    return (await this.db.all('SELECT * FROM models ORDER BY created_at, version')).map(toModel);
  }

  async champion(): Promise<ModelRecord | undefined> {
    const r = await this.db.get(`SELECT * FROM models WHERE status = 'champion'`);
    return r === undefined ? undefined : toModel(r);
  }

  async activateModel(version: string, atMs: number): Promise<ModelRecord> {
    return this.db.transaction(async () => {
      if (this.db.dialect === 'postgres') {
        // Two activations at once under READ COMMITTED: the second's demoting UPDATE waits for the first, then
        // skips the row the first demoted and misses the champion the first made (not one in its snapshot), so
        // its promotion would break the one-champion index. This lock (it conflicts with itself, not with
        // readers) lets one activation run at a time; SQLite's single writer already does.
        await this.db.run('LOCK TABLE models IN SHARE ROW EXCLUSIVE MODE');
      }
      const m = await this.getModel(version);
      if (m === undefined) throw new RiskfuseError('NOT_FOUND', `no model version ${version}`);
      await this.db.run(`UPDATE models SET status = 'challenger' WHERE status = 'champion'`);
      await this.db.run(`UPDATE models SET status = 'champion', activated_at = ? WHERE version = ?`, [
        atMs,
        version,
      ]);
      return { ...m, status: 'champion', activatedAt: atMs };
    });
  }

  async setModelStatus(version: string, status: 'challenger' | 'retired'): Promise<void> {
    // One guarded UPDATE, so a model activated meanwhile is never demoted behind the registry's back.
    const changed = await this.db.run(
      `UPDATE models SET status = ? WHERE version = ? AND status <> 'champion'`,
      [status, version],
    );
    if (changed > 0) return;
    const m = await this.getModel(version);
    if (m === undefined) throw new RiskfuseError('NOT_FOUND', `no model version ${version}`);
    throw new RiskfuseError('CONFLICT', `${version} is the champion; activate another model first`);
  }
}
