import type { AlertSeverity, SubjectKind } from '../alerts/alert-repository.js';
import type { Database, Row } from '../database.js';
import type {
  SuppressedAlert,
  SuppressedCause,
  Suppression,
  SuppressionKind,
  SuppressionQuery,
  SuppressionRepository,
  SuppressionScope,
} from './suppression-repository.js';

/** String() of a column value narrowed to non-null (the lint rule would take `{}` for an object). */
const text = (v: unknown): string => String(v);
const toSuppression = (r: Row): Suppression => ({
  id: String(r.id),
  kind: String(r.kind) as SuppressionKind,
  scopeKind: String(r.scope_kind) as SuppressionScope,
  scopeId: String(r.scope_id),
  ...(r.rule_id == null ? {} : { ruleId: text(r.rule_id) }),
  reason: String(r.reason),
  fromMs: Number(r.from_ms),
  untilMs: Number(r.until_ms),
  createdBy: String(r.created_by),
  createdAt: Number(r.created_at),
  ...(r.revoked_at == null ? {} : { revokedAt: Number(r.revoked_at) }),
  ...(r.revoked_by == null ? {} : { revokedBy: text(r.revoked_by) }),
  suppressed: Number(r.suppressed),
});
const toSuppressed = (r: Row): SuppressedAlert => ({
  id: String(r.id),
  cause: String(r.cause) as SuppressedCause,
  ...(r.suppression_id == null ? {} : { suppressionId: text(r.suppression_id) }),
  ruleId: String(r.rule_id),
  severity: String(r.severity) as AlertSeverity,
  subjectKind: String(r.subject_kind) as SubjectKind,
  subjectId: String(r.subject_id),
  ...(r.borrower_id == null ? {} : { borrowerId: text(r.borrower_id) }),
  ...(r.device_id == null ? {} : { deviceId: text(r.device_id) }),
  ...(r.lot_id == null ? {} : { lotId: text(r.lot_id) }),
  title: String(r.title),
  evidence: JSON.parse(String(r.evidence)) as Record<string, unknown>,
  at: Number(r.at),
});

/** Suppressions and suppressed alerts on the state database; the same SQL on SQLite and PostgreSQL. */
export class SqlSuppressionRepository implements SuppressionRepository {
  constructor(private readonly db: Database) {}

  async insertSuppression(s: Suppression): Promise<void> {
    await this.db.run(
      `INSERT INTO alert_suppressions (id, kind, scope_kind, scope_id, rule_id, reason, from_ms, until_ms,
         created_by, created_at, revoked_at, revoked_by, suppressed)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      [
        s.id,
        s.kind,
        s.scopeKind,
        s.scopeId,
        s.ruleId ?? null,
        s.reason,
        s.fromMs,
        s.untilMs,
        s.createdBy,
        s.createdAt,
        s.revokedAt ?? null,
        s.revokedBy ?? null,
        s.suppressed,
      ],
    );
  }

  async getSuppression(id: string): Promise<Suppression | undefined> {
    const r = await this.db.get('SELECT * FROM alert_suppressions WHERE id = ?', [id]);
    return r && toSuppression(r);
  }

  async listSuppressions(q: SuppressionQuery): Promise<Suppression[]> {
    const rows = await this.db.all(
      `SELECT * FROM alert_suppressions
       WHERE (CAST(@activeAt AS BIGINT) IS NULL
              OR (revoked_at IS NULL AND from_ms <= @activeAt AND until_ms > @activeAt))
         AND (CAST(@scopeKind AS TEXT) IS NULL OR scope_kind = @scopeKind)
         AND (CAST(@scopeId AS TEXT) IS NULL OR scope_id = @scopeId)
       ORDER BY created_at DESC, id DESC LIMIT @limit`,
      {
        activeAt: q.activeAt ?? null,
        scopeKind: q.scopeKind ?? null,
        scopeId: q.scopeId ?? null,
        limit: q.limit,
      },
    );
    return rows.map(toSuppression);
  }

  async listCurrent(atMs: number): Promise<Suppression[]> {
    const rows = await this.db.all(
      `SELECT * FROM alert_suppressions WHERE revoked_at IS NULL AND until_ms > ? ORDER BY from_ms, id`,
      [atMs],
    );
    return rows.map(toSuppression);
  }

  async revokeSuppression(id: string, by: string, atMs: number): Promise<boolean> {
    const changes = await this.db.run(
      `UPDATE alert_suppressions SET revoked_at = ?, revoked_by = ? WHERE id = ? AND revoked_at IS NULL`,
      [atMs, by, id],
    );
    return changes > 0;
  }

  async recordSuppressed(a: SuppressedAlert): Promise<void> {
    await this.db.run(
      `INSERT INTO suppressed_alerts (id, cause, suppression_id, rule_id, severity, subject_kind, subject_id,
         borrower_id, device_id, lot_id, title, evidence, at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      [
        a.id,
        a.cause,
        a.suppressionId ?? null,
        a.ruleId,
        a.severity,
        a.subjectKind,
        a.subjectId,
        a.borrowerId ?? null,
        a.deviceId ?? null,
        a.lotId ?? null,
        a.title,
        JSON.stringify(a.evidence),
        a.at,
      ],
    );
    if (a.suppressionId !== undefined)
      await this.db.run('UPDATE alert_suppressions SET suppressed = suppressed + 1 WHERE id = ?', [
        a.suppressionId,
      ]);
  }

  async listSuppressed(q: {
    limit: number;
    suppressionId?: string;
    borrowerId?: string;
  }): Promise<SuppressedAlert[]> {
    const rows = await this.db.all(
      `SELECT * FROM suppressed_alerts
       WHERE (CAST(@suppressionId AS TEXT) IS NULL OR suppression_id = @suppressionId)
         AND (CAST(@borrowerId AS TEXT) IS NULL OR borrower_id = @borrowerId)
       ORDER BY at DESC, id DESC LIMIT @limit`,
      { suppressionId: q.suppressionId ?? null, borrowerId: q.borrowerId ?? null, limit: q.limit },
    );
    return rows.map(toSuppressed);
  }
}
