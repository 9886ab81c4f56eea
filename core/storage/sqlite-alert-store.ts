import type { Alert, AlertQuery, AlertStore, SubjectKind } from './alert-store.js';
import type { SqliteStateStore } from './sqlite-state-store.js';

type Row = Record<string, unknown>;

const opt = <K extends string, T>(key: K, v: unknown, f: (x: unknown) => T): { [P in K]?: T } =>
  (v == null ? {} : { [key]: f(v) }) as { [P in K]?: T };

const toAlert = (r: Row): Alert => ({
  id: String(r.id),
  ruleId: String(r.rule_id),
  severity: String(r.severity) as Alert['severity'],
  status: String(r.status) as Alert['status'],
  subjectKind: String(r.subject_kind) as SubjectKind,
  subjectId: String(r.subject_id),
  ...opt('borrowerId', r.borrower_id, String),
  ...opt('deviceId', r.device_id, String),
  ...opt('lotId', r.lot_id, String),
  title: String(r.title),
  evidence: JSON.parse(String(r.evidence)) as Record<string, unknown>,
  openedAt: Number(r.opened_at),
  updatedAt: Number(r.updated_at),
  ...opt('acknowledgedAt', r.acknowledged_at, Number),
  ...opt('acknowledgedBy', r.acknowledged_by, String),
  ...opt('acknowledgeComment', r.acknowledge_comment, String),
  ...opt('resolvedAt', r.resolved_at, Number),
  ...opt('resolvedBy', r.resolved_by, String),
  ...opt('resolveComment', r.resolve_comment, String),
});

const bind = (a: Alert): Record<string, unknown> => ({
  id: a.id,
  ruleId: a.ruleId,
  severity: a.severity,
  status: a.status,
  subjectKind: a.subjectKind,
  subjectId: a.subjectId,
  borrowerId: a.borrowerId ?? null,
  deviceId: a.deviceId ?? null,
  lotId: a.lotId ?? null,
  title: a.title,
  evidence: JSON.stringify(a.evidence),
  openedAt: a.openedAt,
  updatedAt: a.updatedAt,
  acknowledgedAt: a.acknowledgedAt ?? null,
  acknowledgedBy: a.acknowledgedBy ?? null,
  acknowledgeComment: a.acknowledgeComment ?? null,
  resolvedAt: a.resolvedAt ?? null,
  resolvedBy: a.resolvedBy ?? null,
  resolveComment: a.resolveComment ?? null,
});

/** Alerts on the state store's SQLite database (migration 6 creates the tables). */
export class SqliteAlertStore implements AlertStore {
  constructor(private readonly state: SqliteStateStore) {}

  private get db(): SqliteStateStore['db'] {
    return this.state.db;
  }

  insertAlert(alert: Alert): boolean {
    // The partial unique index (one not-resolved alert per rule and subject) makes a duplicate a no-op.
    const res = this.db
      .prepare(
        `INSERT INTO alerts (id, rule_id, severity, status, subject_kind, subject_id, borrower_id, device_id, lot_id,
           title, evidence, opened_at, updated_at, acknowledged_at, acknowledged_by, acknowledge_comment,
           resolved_at, resolved_by, resolve_comment)
         VALUES (@id, @ruleId, @severity, @status, @subjectKind, @subjectId, @borrowerId, @deviceId, @lotId,
           @title, @evidence, @openedAt, @updatedAt, @acknowledgedAt, @acknowledgedBy, @acknowledgeComment,
           @resolvedAt, @resolvedBy, @resolveComment)
         ON CONFLICT DO NOTHING`,
      )
      .run(bind(alert));
    return res.changes > 0;
  }

  getAlert(id: string): Alert | undefined {
    const r = this.db.prepare('SELECT * FROM alerts WHERE id = ?').get(id) as Row | undefined;
    return r === undefined ? undefined : toAlert(r);
  }

  findActive(ruleId: string, subjectKind: SubjectKind, subjectId: string): Alert | undefined {
    const r = this.db
      .prepare(
        `SELECT * FROM alerts WHERE rule_id = ? AND subject_kind = ? AND subject_id = ? AND status <> 'resolved'`,
      )
      .get(ruleId, subjectKind, subjectId) as Row | undefined;
    return r === undefined ? undefined : toAlert(r);
  }

  listActive(): Alert[] {
    return (
      this.db.prepare(`SELECT * FROM alerts WHERE status <> 'resolved' ORDER BY opened_at, id`).all() as Row[]
    ).map(toAlert);
  }

  updateAlert(alert: Alert): boolean {
    return (
      this.db
        .prepare(
          `UPDATE alerts SET status = @status, severity = @severity, evidence = @evidence, updated_at = @updatedAt,
             acknowledged_at = @acknowledgedAt, acknowledged_by = @acknowledgedBy,
             acknowledge_comment = @acknowledgeComment, resolved_at = @resolvedAt, resolved_by = @resolvedBy,
             resolve_comment = @resolveComment
           WHERE id = @id`,
        )
        .run(bind(alert)).changes > 0
    );
  }

  queryAlerts(q: AlertQuery): Alert[] {
    const rows = this.db
      .prepare(
        `SELECT * FROM alerts WHERE (@status IS NULL OR status = @status) AND (@severity IS NULL OR severity = @severity)
           AND (@ruleId IS NULL OR rule_id = @ruleId) AND (@borrowerId IS NULL OR borrower_id = @borrowerId)
           AND (@subjectId IS NULL OR subject_id = @subjectId)
           AND (@fromMs IS NULL OR opened_at >= @fromMs) AND (@toMs IS NULL OR opened_at < @toMs)
           AND (@beforeAt IS NULL OR opened_at < @beforeAt OR (opened_at = @beforeAt AND id < @beforeId))
         ORDER BY opened_at DESC, id DESC LIMIT @limit`,
      )
      .all({
        status: q.status ?? null,
        severity: q.severity ?? null,
        ruleId: q.ruleId ?? null,
        borrowerId: q.borrowerId ?? null,
        subjectId: q.subjectId ?? null,
        fromMs: q.fromMs ?? null,
        toMs: q.toMs ?? null,
        beforeAt: q.before?.openedAt ?? null,
        beforeId: q.before?.id ?? null,
        limit: q.limit,
      }) as Row[];
    return rows.map(toAlert);
  }

  countAlerts(status?: Alert['status']): number {
    const r = this.db
      .prepare(
        status === undefined
          ? `SELECT count(*) AS c FROM alerts WHERE status <> 'resolved'`
          : 'SELECT count(*) AS c FROM alerts WHERE status = ?',
      )
      .get(...(status === undefined ? [] : [status])) as Row;
    return Number(r.c);
  }

  countActiveByBorrower(): Map<string, number> {
    const rows = this.db
      .prepare(
        `SELECT borrower_id, count(*) AS c FROM alerts
         WHERE status <> 'resolved' AND borrower_id IS NOT NULL GROUP BY borrower_id`,
      )
      .all() as Row[];
    return new Map(rows.map((r) => [String(r.borrower_id), Number(r.c)]));
  }

  listRuleSettings(): { ruleId: string; settings: unknown; updatedAt: number }[] {
    return (this.db.prepare('SELECT * FROM alert_rule_settings ORDER BY rule_id').all() as Row[]).map(
      (r) => ({
        ruleId: String(r.rule_id),
        settings: JSON.parse(String(r.settings)) as unknown,
        updatedAt: Number(r.updated_at),
      }),
    );
  }

  saveRuleSettings(ruleId: string, settings: unknown, atMs: number): void {
    this.db
      .prepare(
        `INSERT INTO alert_rule_settings (rule_id, settings, updated_at) VALUES (?, ?, ?)
         ON CONFLICT(rule_id) DO UPDATE SET settings = excluded.settings, updated_at = excluded.updated_at`,
      )
      .run(ruleId, JSON.stringify(settings), atMs);
  }
}
