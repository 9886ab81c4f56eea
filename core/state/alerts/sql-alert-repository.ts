import type { Database, Row, SqlValue } from '../database.js';
import type { Alert, AlertQuery, AlertRepository, AlertStatus, SubjectKind } from './alert-repository.js';

const opt = <K extends string, T>(key: K, v: unknown, f: (x: unknown) => T): { [P in K]?: T } =>
  (v == null ? {} : { [key]: f(v) }) as { [P in K]?: T };

const toAlert = (r: Row): Alert => ({
  id: String(r.id),
  ruleId: String(r.rule_id),
  severity: String(r.severity) as Alert['severity'],
  status: String(r.status) as AlertStatus,
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

/** The lifecycle fields an update writes (the identity, subject and title never change). */
const lifecycle = (a: Alert): Record<string, SqlValue> => ({
  id: a.id,
  status: a.status,
  severity: a.severity,
  evidence: JSON.stringify(a.evidence),
  updatedAt: a.updatedAt,
  acknowledgedAt: a.acknowledgedAt ?? null,
  acknowledgedBy: a.acknowledgedBy ?? null,
  acknowledgeComment: a.acknowledgeComment ?? null,
  resolvedAt: a.resolvedAt ?? null,
  resolvedBy: a.resolvedBy ?? null,
  resolveComment: a.resolveComment ?? null,
});

const UPDATE_LIFECYCLE = `UPDATE alerts SET status = @status, severity = @severity, evidence = @evidence,
    updated_at = @updatedAt, acknowledged_at = @acknowledgedAt, acknowledged_by = @acknowledgedBy,
    acknowledge_comment = @acknowledgeComment, resolved_at = @resolvedAt, resolved_by = @resolvedBy,
    resolve_comment = @resolveComment
  WHERE id = @id`;

/**
 * Alerts and the alert rules' settings on the state database (SQLite or PostgreSQL, one SQL text each; migration
 * 6 creates the tables). Every method joins the caller's transaction, so an alert commits with its event.
 */
export class SqlAlertRepository implements AlertRepository {
  constructor(private readonly db: Database) {}

  async insertAlert(alert: Alert): Promise<boolean> {
    // The partial unique index (one not-resolved alert per rule and subject) makes a duplicate a no-op. Without
    // a conflict target, ON CONFLICT DO NOTHING covers every unique index on both engines, partial ones included;
    // on PostgreSQL a concurrent insert of the same alert waits for the first to commit, then does nothing.
    const changed = await this.db.run(
      `INSERT INTO alerts (id, rule_id, severity, status, subject_kind, subject_id, borrower_id, device_id, lot_id,
         title, evidence, opened_at, updated_at, acknowledged_at, acknowledged_by, acknowledge_comment,
         resolved_at, resolved_by, resolve_comment)
       VALUES (@id, @ruleId, @severity, @status, @subjectKind, @subjectId, @borrowerId, @deviceId, @lotId,
         @title, @evidence, @openedAt, @updatedAt, @acknowledgedAt, @acknowledgedBy, @acknowledgeComment,
         @resolvedAt, @resolvedBy, @resolveComment)
       ON CONFLICT DO NOTHING`,
      {
        ...lifecycle(alert),
        ruleId: alert.ruleId,
        subjectKind: alert.subjectKind,
        subjectId: alert.subjectId,
        borrowerId: alert.borrowerId ?? null,
        deviceId: alert.deviceId ?? null,
        lotId: alert.lotId ?? null,
        title: alert.title,
        openedAt: alert.openedAt,
      },
    );
    return changed > 0;
  }

  async getAlert(id: string): Promise<Alert | undefined> {
    const r = await this.db.get('SELECT * FROM alerts WHERE id = ?', [id]);
    return r === undefined ? undefined : toAlert(r);
  }

  async findActive(ruleId: string, subjectKind: SubjectKind, subjectId: string): Promise<Alert | undefined> {
    const r = await this.db.get(
      `SELECT * FROM alerts WHERE rule_id = ? AND subject_kind = ? AND subject_id = ? AND status <> 'resolved'`,
      [ruleId, subjectKind, subjectId],
    );
    return r === undefined ? undefined : toAlert(r);
  }

  async listActive(): Promise<Alert[]> {
    return (await this.db.all(`SELECT * FROM alerts WHERE status <> 'resolved' ORDER BY opened_at, id`)).map(
      toAlert,
    );
  }

  async updateAlert(alert: Alert, expectedStatus?: AlertStatus): Promise<boolean> {
    // Compare-and-set: the status check is in the UPDATE itself, so of two concurrent updates from the same
    // status one changes the row and the other changes nothing (on PostgreSQL the second waits for the first's
    // row lock, then re-checks the condition against the committed row; SQLite runs one writer at a time).
    const changed =
      expectedStatus === undefined
        ? await this.db.run(UPDATE_LIFECYCLE, lifecycle(alert))
        : await this.db.run(`${UPDATE_LIFECYCLE} AND status = @expectedStatus`, {
            ...lifecycle(alert),
            expectedStatus,
          });
    return changed > 0;
  }

  async queryAlerts(q: AlertQuery): Promise<Alert[]> {
    const rows = await this.db.all(
      `SELECT * FROM alerts
       WHERE (CAST(@status AS TEXT) IS NULL OR status = @status)
         AND (CAST(@severity AS TEXT) IS NULL OR severity = @severity)
         AND (CAST(@ruleId AS TEXT) IS NULL OR rule_id = @ruleId)
         AND (CAST(@borrowerId AS TEXT) IS NULL OR borrower_id = @borrowerId)
         AND (CAST(@subjectId AS TEXT) IS NULL OR subject_id = @subjectId)
         AND (CAST(@fromMs AS BIGINT) IS NULL OR opened_at >= @fromMs)
         AND (CAST(@toMs AS BIGINT) IS NULL OR opened_at < @toMs)
         AND (CAST(@beforeAt AS BIGINT) IS NULL OR opened_at < @beforeAt
           OR (opened_at = @beforeAt AND id < @beforeId))
       ORDER BY opened_at DESC, id DESC LIMIT @limit`,
      {
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
      },
    );
    return rows.map(toAlert);
  }

  async countAlerts(status?: AlertStatus): Promise<number> {
    const r =
      status === undefined
        ? await this.db.get(`SELECT count(*) AS c FROM alerts WHERE status <> 'resolved'`)
        : await this.db.get('SELECT count(*) AS c FROM alerts WHERE status = ?', [status]);
    return Number(r?.c ?? 0);
  }

  async countActiveByBorrower(): Promise<Map<string, number>> {
    const rows = await this.db.all(
      `SELECT borrower_id, count(*) AS c FROM alerts
       WHERE status <> 'resolved' AND borrower_id IS NOT NULL GROUP BY borrower_id`,
    );
    return new Map(rows.map((r) => [String(r.borrower_id), Number(r.c)]));
  }

  async listRuleSettings(): Promise<{ ruleId: string; settings: unknown; updatedAt: number }[]> {
    return (await this.db.all('SELECT * FROM alert_rule_settings ORDER BY rule_id')).map((r) => ({
      ruleId: String(r.rule_id),
      settings: JSON.parse(String(r.settings)) as unknown,
      updatedAt: Number(r.updated_at),
    }));
  }

  async saveRuleSettings(ruleId: string, settings: unknown, atMs: number): Promise<void> {
    await this.db.run(
      `INSERT INTO alert_rule_settings (rule_id, settings, updated_at) VALUES (?, ?, ?)
       ON CONFLICT (rule_id) DO UPDATE SET settings = excluded.settings, updated_at = excluded.updated_at`,
      [ruleId, JSON.stringify(settings), atMs],
    );
  }
}
