import type { Database, Row } from '../database.js';
import type { ApiKey, ApiKeyCredentials, ApiKeyRepository, ApiRole } from './api-key-repository.js';

/** A column's value as text (rows are `Record<string, unknown>`). */
const text = (v: unknown): string => String(v);

const toApiKey = (r: Row): ApiKey => ({
  id: text(r.id),
  name: text(r.name),
  role: text(r.role) as ApiRole,
  createdAt: Number(r.created_at),
  ...(r.revoked_at == null ? {} : { revokedAt: Number(r.revoked_at) }),
  ...(r.last_used_at == null ? {} : { lastUsedAt: Number(r.last_used_at) }),
  ...(r.rotated_from == null ? {} : { rotatedFrom: text(r.rotated_from) }),
});

/** API keys on the state database (SQLite or PostgreSQL, one SQL text): secrets only as salted hashes. */
export class SqlApiKeyRepository implements ApiKeyRepository {
  constructor(private readonly db: Database) {}

  async createApiKey(key: ApiKey, credentials: ApiKeyCredentials): Promise<void> {
    await this.db.run(
      `INSERT INTO api_keys (id, name, role, salt, key_hash, created_at, revoked_at, last_used_at, rotated_from)
       VALUES (@id, @name, @role, @salt, @keyHash, @createdAt, @revokedAt, @lastUsedAt, @rotatedFrom)`,
      {
        id: key.id,
        name: key.name,
        role: key.role,
        salt: credentials.salt,
        keyHash: credentials.keyHash,
        createdAt: key.createdAt,
        revokedAt: key.revokedAt ?? null,
        lastUsedAt: key.lastUsedAt ?? null,
        rotatedFrom: key.rotatedFrom ?? null,
      },
    );
  }

  async getApiKey(id: string): Promise<ApiKey | undefined> {
    const r = await this.db.get('SELECT * FROM api_keys WHERE id = ?', [id]);
    return r && toApiKey(r);
  }

  async getApiKeyCredentials(id: string): Promise<ApiKeyCredentials | undefined> {
    const r = await this.db.get('SELECT salt, key_hash FROM api_keys WHERE id = ? AND revoked_at IS NULL', [
      id,
    ]);
    return r && { salt: text(r.salt), keyHash: text(r.key_hash) };
  }

  async getActiveApiKey(id: string): Promise<{ key: ApiKey; credentials: ApiKeyCredentials } | undefined> {
    const r = await this.db.get('SELECT * FROM api_keys WHERE id = ? AND revoked_at IS NULL', [id]);
    return r && { key: toApiKey(r), credentials: { salt: text(r.salt), keyHash: text(r.key_hash) } };
  }

  async listApiKeys(): Promise<ApiKey[]> {
    return (await this.db.all('SELECT * FROM api_keys ORDER BY created_at, id')).map(toApiKey);
  }

  async revokeApiKey(id: string, atMs: number): Promise<boolean> {
    const changed = await this.db.run(
      'UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL',
      [atMs, id],
    );
    return changed > 0;
  }

  async touchApiKey(id: string, atMs: number): Promise<void> {
    await this.db.run('UPDATE api_keys SET last_used_at = ? WHERE id = ?', [atMs, id]);
  }

  async countActiveApiKeys(role?: ApiRole): Promise<number> {
    const r = await this.db.get(
      'SELECT count(*) AS c FROM api_keys WHERE revoked_at IS NULL AND (CAST(@role AS TEXT) IS NULL OR role = @role)',
      { role: role ?? null },
    );
    return Number(r?.c ?? 0);
  }
}
