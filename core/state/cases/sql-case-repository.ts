import type { Database, Row } from '../database.js';
import type {
  Case,
  CaseAlertLink,
  CaseNote,
  CaseOutcome,
  CaseRepository,
  CaseStatus,
} from './case-repository.js';

/** String() of a column value narrowed to non-null (the lint rule would take `{}` for an object). */
const text = (v: unknown): string => String(v);
const toCase = (r: Row): Case => ({
  id: String(r.id),
  borrowerId: String(r.borrower_id),
  status: String(r.status) as CaseStatus,
  ...(r.owner == null ? {} : { owner: text(r.owner) }),
  ...(r.outcome == null ? {} : { outcome: text(r.outcome) as CaseOutcome }),
  openedAt: Number(r.opened_at),
  updatedAt: Number(r.updated_at),
  ...(r.closed_at == null ? {} : { closedAt: Number(r.closed_at) }),
  ...(r.closed_by == null ? {} : { closedBy: text(r.closed_by) }),
  alertCount: Number(r.alert_count),
  maxSeverity: String(r.max_severity),
  lastAlertAt: Number(r.last_alert_at),
});

/** Cases on the state database; the same SQL on SQLite and PostgreSQL. */
export class SqlCaseRepository implements CaseRepository {
  constructor(private readonly db: Database) {}

  async findOpenCase(borrowerId: string): Promise<Case | undefined> {
    const r = await this.db.get(`SELECT * FROM cases WHERE borrower_id = ? AND status <> 'closed'`, [
      borrowerId,
    ]);
    return r && toCase(r);
  }

  async getCase(id: string): Promise<Case | undefined> {
    const r = await this.db.get('SELECT * FROM cases WHERE id = ?', [id]);
    return r && toCase(r);
  }

  async insertCase(c: Case): Promise<boolean> {
    // ON CONFLICT DO NOTHING (both engines): the partial unique index keeps one not-closed case per borrower.
    const changes = await this.db.run(
      `INSERT INTO cases (id, borrower_id, status, owner, outcome, opened_at, updated_at, closed_at, closed_by,
         alert_count, max_severity, last_alert_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
      [
        c.id,
        c.borrowerId,
        c.status,
        c.owner ?? null,
        c.outcome ?? null,
        c.openedAt,
        c.updatedAt,
        c.closedAt ?? null,
        c.closedBy ?? null,
        c.alertCount,
        c.maxSeverity,
        c.lastAlertAt,
      ],
    );
    return changes > 0;
  }

  async updateCase(c: Case, expectedStatus?: CaseStatus): Promise<boolean> {
    const changes = await this.db.run(
      `UPDATE cases SET status = @status, owner = @owner, outcome = @outcome, updated_at = @updatedAt,
         closed_at = @closedAt, closed_by = @closedBy, alert_count = @alertCount, max_severity = @maxSeverity,
         last_alert_at = @lastAlertAt
       WHERE id = @id AND (CAST(@expected AS TEXT) IS NULL OR status = @expected)`,
      {
        id: c.id,
        status: c.status,
        owner: c.owner ?? null,
        outcome: c.outcome ?? null,
        updatedAt: c.updatedAt,
        closedAt: c.closedAt ?? null,
        closedBy: c.closedBy ?? null,
        alertCount: c.alertCount,
        maxSeverity: c.maxSeverity,
        lastAlertAt: c.lastAlertAt,
        expected: expectedStatus ?? null,
      },
    );
    return changes > 0;
  }

  async linkAlert(l: CaseAlertLink): Promise<void> {
    await this.db.run(
      `INSERT INTO case_alerts (case_id, alert_id, rule_id, added_at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING`,
      [l.caseId, l.alertId, l.ruleId, l.addedAt],
    );
  }

  async caseAlerts(caseId: string): Promise<CaseAlertLink[]> {
    const rows = await this.db.all(
      'SELECT * FROM case_alerts WHERE case_id = ? ORDER BY added_at, alert_id',
      [caseId],
    );
    return rows.map((r) => ({
      caseId: String(r.case_id),
      alertId: String(r.alert_id),
      ruleId: String(r.rule_id),
      addedAt: Number(r.added_at),
    }));
  }

  async addNote(n: CaseNote): Promise<void> {
    await this.db.run(
      'INSERT INTO case_notes (id, case_id, author, body, created_at) VALUES (?, ?, ?, ?, ?)',
      [n.id, n.caseId, n.author, n.body, n.createdAt],
    );
  }

  async notes(caseId: string): Promise<CaseNote[]> {
    const rows = await this.db.all('SELECT * FROM case_notes WHERE case_id = ? ORDER BY created_at, id', [
      caseId,
    ]);
    return rows.map((r) => ({
      id: String(r.id),
      caseId: String(r.case_id),
      author: String(r.author),
      body: String(r.body),
      createdAt: Number(r.created_at),
    }));
  }

  async listCases(query: { status?: CaseStatus; limit: number }): Promise<Case[]> {
    const rows = await this.db.all(
      `SELECT * FROM cases WHERE (CAST(@status AS TEXT) IS NULL OR status = @status)
       ORDER BY updated_at DESC, id DESC LIMIT @limit`,
      { status: query.status ?? null, limit: query.limit },
    );
    return rows.map(toCase);
  }

  async outcomesByRule(): Promise<{ ruleId: string; outcome: CaseOutcome; alerts: number }[]> {
    const rows = await this.db.all(
      `SELECT ca.rule_id, c.outcome, count(*) AS n FROM case_alerts ca JOIN cases c ON c.id = ca.case_id
       WHERE c.status = 'closed' AND c.outcome IS NOT NULL GROUP BY ca.rule_id, c.outcome ORDER BY ca.rule_id, c.outcome`,
    );
    return rows.map((r) => ({
      ruleId: String(r.rule_id),
      outcome: text(r.outcome) as CaseOutcome,
      alerts: Number(r.n),
    }));
  }
}
