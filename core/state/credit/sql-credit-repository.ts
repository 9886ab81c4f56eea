import type { Database, Row, SqlValue } from '../database.js';
import { isConstraintError } from '../database.js';
import type { FunderShare } from '../lending/lending-repository.js';
import { textListSql } from '../sql-text-list.js';
import { upsertRows } from '../sql-upsert.js';
import type {
  ApplicationQuery,
  ApplicationStatus,
  CreditApplication,
  CreditDecision,
  CreditExposure,
  CreditRepository,
  DecisionOutcome,
  LimitReview,
} from './credit-repository.js';

/** A column's value as text (rows are `Record<string, unknown>`). */
const text = (v: unknown): string => String(v);
const json = <T>(v: unknown): T => JSON.parse(String(v)) as T;
const optNum = (v: unknown): number | undefined => (v == null ? undefined : Number(v));

const toApplication = (r: Row): CreditApplication => ({
  id: String(r.id),
  borrowerId: String(r.borrower_id),
  amount: Number(r.amount),
  currency: String(r.currency),
  tenorDays: Number(r.tenor_days),
  lotIds: json<string[]>(r.lot_ids),
  funders: json<FunderShare[]>(r.funders),
  status: String(r.status) as ApplicationStatus,
  ...(r.recommendation == null ? {} : { recommendation: json<unknown>(r.recommendation) }),
  createdAt: Number(r.created_at),
  ...(r.created_by == null ? {} : { createdBy: text(r.created_by) }),
  ...(r.decided_at == null ? {} : { decidedAt: Number(r.decided_at) }),
  ...(r.decided_amount == null ? {} : { decidedAmount: Number(r.decided_amount) }),
});

const toDecision = (r: Row): CreditDecision => ({
  id: String(r.id),
  applicationId: text(r.application_id),
  approverKeyId: String(r.approver_key_id),
  outcome: String(r.outcome) as DecisionOutcome,
  ...(r.amount == null ? {} : { amount: Number(r.amount) }),
  reasons: json<string[]>(r.reasons),
  ...(r.comment == null ? {} : { comment: text(r.comment) }),
  at: Number(r.at),
});

const toReview = (r: Row): LimitReview => ({
  id: String(r.id),
  borrowerId: String(r.borrower_id),
  reason: String(r.reason),
  evidence: json<Record<string, unknown>>(r.evidence),
  status: String(r.status) as LimitReview['status'],
  openedAt: Number(r.opened_at),
  ...(r.closed_at == null ? {} : { closedAt: Number(r.closed_at) }),
  ...(r.closed_by == null ? {} : { closedBy: text(r.closed_by) }),
});

const toExposure = (r: Row): CreditExposure => {
  const claimedCoverage = optNum(r.claimed_coverage);
  const verifiedCoverage = optNum(r.verified_coverage);
  const pd = optNum(r.pd);
  const el = optNum(r.el);
  return {
    borrowerId: String(r.borrower_id),
    currency: String(r.currency),
    outstanding: Number(r.outstanding),
    undrawn: Number(r.undrawn),
    ead: Number(r.ead),
    claimedValue: Number(r.claimed_value),
    verifiedValue: Number(r.verified_value),
    ...(claimedCoverage === undefined ? {} : { claimedCoverage }),
    ...(verifiedCoverage === undefined ? {} : { verifiedCoverage }),
    lgd: Number(r.lgd),
    ...(pd === undefined ? {} : { pd }),
    ...(el === undefined ? {} : { el }),
    breaches: json<CreditExposure['breaches']>(r.breaches),
    lots: json<unknown[]>(r.lots),
    computedAt: Number(r.computed_at),
  };
};

const EXPOSURE_COLUMNS = [
  'borrower_id',
  'currency',
  'outstanding',
  'undrawn',
  'ead',
  'claimed_value',
  'verified_value',
  'claimed_coverage',
  'verified_coverage',
  'lgd',
  'pd',
  'el',
  'breaches',
  'lots',
  'computed_at',
] as const;
const upsertExposureRows = upsertRows({
  table: 'credit_exposures',
  columns: EXPOSURE_COLUMNS,
  key: 'borrower_id',
  update: EXPOSURE_COLUMNS.filter((c) => c !== 'borrower_id'),
});

/** Applications, decisions, reviews and exposures on the state database (one SQL text for both engines). */
export class SqlCreditRepository implements CreditRepository {
  constructor(private readonly db: Database) {}

  async insertApplication(a: CreditApplication): Promise<void> {
    await this.db.run(
      `INSERT INTO credit_applications (id, borrower_id, amount, currency, tenor_days, lot_ids, funders, status,
         recommendation, created_at, created_by, decided_at, decided_amount)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      [
        a.id,
        a.borrowerId,
        a.amount,
        a.currency,
        a.tenorDays,
        JSON.stringify(a.lotIds),
        JSON.stringify(a.funders),
        a.status,
        a.recommendation === undefined ? null : JSON.stringify(a.recommendation),
        a.createdAt,
        a.createdBy ?? null,
        a.decidedAt ?? null,
        a.decidedAmount ?? null,
      ],
    );
  }

  async getApplication(id: string): Promise<CreditApplication | undefined> {
    const r = await this.db.get('SELECT * FROM credit_applications WHERE id = ?', [id]);
    return r === undefined ? undefined : toApplication(r);
  }

  async queryApplications(q: ApplicationQuery): Promise<CreditApplication[]> {
    const statuses = q.status === undefined ? [] : typeof q.status === 'string' ? [q.status] : [...q.status];
    const sort = q.sort ?? 'id';
    // Keyset pagination in the list's order; the key column is a fixed identifier, never user text.
    const order =
      sort === 'amount'
        ? { by: 'amount DESC, id', after: '(amount < @afterKey OR (amount = @afterKey AND id > @afterId))' }
        : sort === 'age'
          ? {
              by: 'created_at, id',
              after: '(created_at > @afterKey OR (created_at = @afterKey AND id > @afterId))',
            }
          : { by: 'id', after: 'id > @afterId' };
    const afterId = sort === 'id' ? q.afterId : q.after?.id;
    const rows = await this.db.all(
      `SELECT * FROM credit_applications
       WHERE (CAST(@s0 AS TEXT) IS NULL OR status IN (@s0, @s1, @s2, @s3, @s4))
         AND (CAST(@borrowerId AS TEXT) IS NULL OR borrower_id = @borrowerId)
         AND (CAST(@afterId AS TEXT) IS NULL OR ${order.after})
       ORDER BY ${order.by} LIMIT @limit`,
      {
        // At most the five statuses there are; the unused places repeat the first.
        s0: statuses[0] ?? null,
        s1: statuses[1] ?? statuses[0] ?? null,
        s2: statuses[2] ?? statuses[0] ?? null,
        s3: statuses[3] ?? statuses[0] ?? null,
        s4: statuses[4] ?? statuses[0] ?? null,
        borrowerId: q.borrowerId ?? null,
        afterId: afterId ?? null,
        afterKey: q.after?.key ?? null,
        limit: q.limit,
      },
    );
    return rows.map(toApplication);
  }

  async updateApplicationStatus(
    id: string,
    from: ApplicationStatus,
    next: { status: ApplicationStatus; decidedAt?: number; decidedAmount?: number },
  ): Promise<boolean> {
    const n = await this.db.run(
      `UPDATE credit_applications SET status = ?, decided_at = ?, decided_amount = ? WHERE id = ? AND status = ?`,
      [next.status, next.decidedAt ?? null, next.decidedAmount ?? null, id, from],
    );
    return n === 1;
  }

  async insertDecision(d: CreditDecision): Promise<void> {
    await this.db.run(
      `INSERT INTO credit_decisions (id, application_id, approver_key_id, outcome, amount, reasons, comment, at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
      [
        d.id,
        d.applicationId,
        d.approverKeyId,
        d.outcome,
        d.amount ?? null,
        JSON.stringify(d.reasons),
        d.comment ?? null,
        d.at,
      ],
    );
  }

  async listDecisions(applicationId: string): Promise<CreditDecision[]> {
    const rows = await this.db.all(
      'SELECT * FROM credit_decisions WHERE application_id = ? ORDER BY at, id',
      [applicationId],
    );
    return rows.map(toDecision);
  }

  async openReview(r: LimitReview): Promise<boolean> {
    try {
      // The partial unique index keeps one open review per borrower across processes; inside a caller's
      // transaction a refused insert must not abort it (PostgreSQL), hence ON CONFLICT DO NOTHING.
      const n = await this.db.run(
        `INSERT INTO limit_reviews (id, borrower_id, reason, evidence, status, opened_at, closed_at, closed_by)
         VALUES (?, ?, ?, ?, 'open', ?, NULL, NULL)
         ON CONFLICT (borrower_id) WHERE status = 'open' DO NOTHING`,
        [r.id, r.borrowerId, r.reason, JSON.stringify(r.evidence), r.openedAt],
      );
      return n === 1;
    } catch (err) {
      if (isConstraintError(err, 'unique')) return false;
      throw err;
    }
  }

  async listReviews(q: {
    limit: number;
    status?: LimitReview['status'];
    borrowerId?: string;
  }): Promise<LimitReview[]> {
    const rows = await this.db.all(
      `SELECT * FROM limit_reviews
       WHERE (CAST(@status AS TEXT) IS NULL OR status = @status)
         AND (CAST(@borrowerId AS TEXT) IS NULL OR borrower_id = @borrowerId)
       ORDER BY opened_at DESC, id LIMIT @limit`,
      { status: q.status ?? null, borrowerId: q.borrowerId ?? null, limit: q.limit },
    );
    return rows.map(toReview);
  }

  async getReview(id: string): Promise<LimitReview | undefined> {
    const row = await this.db.get('SELECT * FROM limit_reviews WHERE id = ?', [id]);
    return row === undefined ? undefined : toReview(row);
  }

  async closeReview(id: string, by: string, atMs: number): Promise<boolean> {
    const n = await this.db.run(
      `UPDATE limit_reviews SET status = 'closed', closed_at = ?, closed_by = ? WHERE id = ? AND status = 'open'`,
      [atMs, by, id],
    );
    return n === 1;
  }

  async upsertExposures(items: readonly CreditExposure[]): Promise<void> {
    if (items.length === 0) return;
    const rows = items.map((e): SqlValue[] => [
      e.borrowerId,
      e.currency,
      e.outstanding,
      e.undrawn,
      e.ead,
      e.claimedValue,
      e.verifiedValue,
      e.claimedCoverage ?? null,
      e.verifiedCoverage ?? null,
      e.lgd,
      e.pd ?? null,
      e.el ?? null,
      JSON.stringify(e.breaches),
      JSON.stringify(e.lots),
      e.computedAt,
    ]);
    await upsertExposureRows(this.db, rows);
  }

  async getExposures(borrowerIds?: readonly string[]): Promise<Map<string, CreditExposure>> {
    const rows =
      borrowerIds === undefined
        ? await this.db.all('SELECT * FROM credit_exposures')
        : await this.db.all(
            `SELECT * FROM credit_exposures WHERE borrower_id IN (${textListSql(this.db.dialect)})`,
            [JSON.stringify([...new Set(borrowerIds)])],
          );
    return new Map(rows.map((r) => [String(r.borrower_id), toExposure(r)]));
  }
}
