import type { Database, Row } from '../database.js';
import type { AuditEntry, AuditQuery, AuditRepository, NewAuditEntry } from './audit-repository.js';

/** A column's value as text (rows are `Record<string, unknown>`). */
const text = (v: unknown): string => String(v);

const toAudit = (r: Row): AuditEntry => ({
  id: Number(r.id),
  at: Number(r.at),
  ...(r.actor_key_id == null ? {} : { actorKeyId: text(r.actor_key_id) }),
  ...(r.actor_role == null ? {} : { actorRole: text(r.actor_role) }),
  action: text(r.action),
  resource: text(r.resource),
  ...(r.resource_id == null ? {} : { resourceId: text(r.resource_id) }),
  ...(r.before_json == null ? {} : { before: JSON.parse(text(r.before_json)) as unknown }),
  ...(r.after_json == null ? {} : { after: JSON.parse(text(r.after_json)) as unknown }),
  ...(r.request_id == null ? {} : { requestId: text(r.request_id) }),
});

/**
 * The audit log on the state database (SQLite or PostgreSQL, one SQL text). Append-only: both engines' triggers
 * refuse UPDATE and DELETE (a ConstraintError 'append-only'), so this class only inserts and reads.
 */
export class SqlAuditRepository implements AuditRepository {
  constructor(private readonly db: Database) {}

  async appendAudit(entry: NewAuditEntry): Promise<number> {
    const r = await this.db.get(
      `INSERT INTO audit_log (at, actor_key_id, actor_role, action, resource, resource_id, before_json, after_json,
         request_id)
       VALUES (@at, @actorKeyId, @actorRole, @action, @resource, @resourceId, @before, @after, @requestId)
       RETURNING id`,
      {
        at: entry.at,
        actorKeyId: entry.actorKeyId ?? null,
        actorRole: entry.actorRole ?? null,
        action: entry.action,
        resource: entry.resource,
        resourceId: entry.resourceId ?? null,
        before: entry.before === undefined ? null : JSON.stringify(entry.before),
        after: entry.after === undefined ? null : JSON.stringify(entry.after),
        requestId: entry.requestId ?? null,
      },
    );
    return Number(r?.id);
  }

  async listAudit(query: AuditQuery): Promise<AuditEntry[]> {
    const rows = await this.db.all(
      `SELECT * FROM audit_log
       WHERE (CAST(@beforeId AS BIGINT) IS NULL OR id < @beforeId)
         AND (CAST(@action AS TEXT) IS NULL OR action = @action)
         AND (CAST(@resource AS TEXT) IS NULL OR resource = @resource)
         AND (CAST(@resourceId AS TEXT) IS NULL OR resource_id = @resourceId)
         AND (CAST(@actorKeyId AS TEXT) IS NULL OR actor_key_id = @actorKeyId)
       ORDER BY id DESC LIMIT @limit`,
      {
        beforeId: query.beforeId ?? null,
        action: query.action ?? null,
        resource: query.resource ?? null,
        resourceId: query.resourceId ?? null,
        actorKeyId: query.actorKeyId ?? null,
        limit: query.limit,
      },
    );
    return rows.map(toAudit);
  }
}
