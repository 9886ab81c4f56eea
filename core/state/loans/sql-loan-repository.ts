import type { Database, Row } from '../database.js';
import type { ListQuery } from '../portfolio/portfolio-repository.js';
import { textListSql } from '../sql-text-list.js';
import { upsertRows } from '../sql-upsert.js';
import type { Loan, LoanRepository, Repayment } from './loan-repository.js';

const toLoan = (r: Row): Loan => ({
  id: String(r.id),
  borrowerId: String(r.borrower_id),
  principal: Number(r.principal),
  currency: String(r.currency),
  annualRatePct: Number(r.annual_rate_pct),
  startAt: Number(r.start_at),
  termDays: Number(r.term_days),
  status: String(r.status) as Loan['status'],
  ...(r.defaulted_at == null ? {} : { defaultedAt: Number(r.defaulted_at) }),
});
const toRepayment = (r: Row): Repayment => ({
  id: String(r.id),
  loanId: String(r.loan_id),
  dueAt: Number(r.due_at),
  amountDue: Number(r.amount_due),
  ...(r.paid_at == null ? {} : { paidAt: Number(r.paid_at) }),
  amountPaid: Number(r.amount_paid),
});

const upsertLoanRows = upsertRows({
  table: 'loans',
  columns: [
    'id',
    'borrower_id',
    'principal',
    'currency',
    'annual_rate_pct',
    'start_at',
    'term_days',
    'status',
    'defaulted_at',
  ],
  key: 'id',
  update: ['principal', 'currency', 'annual_rate_pct', 'start_at', 'term_days', 'status', 'defaulted_at'],
});
const upsertRepaymentRows = upsertRows({
  table: 'repayments',
  columns: ['id', 'loan_id', 'due_at', 'amount_due', 'paid_at', 'amount_paid'],
  key: 'id',
  update: ['due_at', 'amount_due', 'paid_at', 'amount_paid'],
});

/**
 * What active loans still owe, per borrower and currency; `where` narrows the loans. A loan with a repayment
 * schedule owes what its schedule still has due (due − paid); a loan without one (a bullet loan or a revolving
 * draw imported with no instalments, or instalments all of amount 0) owes its principal less the repayments
 * received, never below 0 — without this its EAD was 0. Pinned by core/state/test/loans.contract.test.ts
 * ("a loan without a schedule owes its principal less what was repaid").
 */
const exposuresSql = (where: string): string =>
  `SELECT l.borrower_id, l.currency,
     coalesce(sum(CASE WHEN coalesce(r.due, 0) > 0 THEN r.due - r.paid
                       WHEN l.principal > coalesce(r.paid, 0) THEN l.principal - coalesce(r.paid, 0)
                       ELSE 0 END), 0) AS outstanding
   FROM loans l LEFT JOIN (SELECT loan_id, sum(amount_due) AS due, sum(amount_paid) AS paid
                           FROM repayments GROUP BY loan_id) r ON r.loan_id = l.id
   WHERE l.status = 'active'${where} GROUP BY l.borrower_id, l.currency ORDER BY l.borrower_id, l.currency`;

/** The loan book on the state database (SQLite or PostgreSQL). */
export class SqlLoanRepository implements LoanRepository {
  constructor(private readonly db: Database) {}

  async upsertLoans(items: readonly Loan[]): Promise<void> {
    await upsertLoanRows(
      this.db,
      items.map((x) => [
        x.id,
        x.borrowerId,
        x.principal,
        x.currency,
        x.annualRatePct,
        x.startAt,
        x.termDays,
        x.status,
        x.defaultedAt ?? null,
      ]),
    );
  }

  async upsertRepayments(items: readonly Repayment[]): Promise<void> {
    await upsertRepaymentRows(
      this.db,
      items.map((x) => [x.id, x.loanId, x.dueAt, x.amountDue, x.paidAt ?? null, x.amountPaid]),
    );
  }

  async listLoans(borrowerId?: string): Promise<Loan[]> {
    const rows =
      borrowerId === undefined
        ? await this.db.all('SELECT * FROM loans ORDER BY id')
        : await this.db.all('SELECT * FROM loans WHERE borrower_id = ? ORDER BY id', [borrowerId]);
    return rows.map(toLoan);
  }

  async listRepayments(loanId: string): Promise<Repayment[]> {
    const rows = await this.db.all('SELECT * FROM repayments WHERE loan_id = ? ORDER BY due_at, id', [
      loanId,
    ]);
    return rows.map(toRepayment);
  }

  async getLoan(id: string): Promise<Loan | undefined> {
    const r = await this.db.get('SELECT * FROM loans WHERE id = ?', [id]);
    return r && toLoan(r);
  }

  async getRepayment(id: string): Promise<Repayment | undefined> {
    const r = await this.db.get('SELECT * FROM repayments WHERE id = ?', [id]);
    return r && toRepayment(r);
  }

  async getLoans(ids: readonly string[]): Promise<Map<string, Loan>> {
    const rows = await this.#byIds('loans', ids);
    return new Map(rows.map((r) => [String(r.id), toLoan(r)]));
  }

  async getRepayments(ids: readonly string[]): Promise<Map<string, Repayment>> {
    const rows = await this.#byIds('repayments', ids);
    return new Map(rows.map((r) => [String(r.id), toRepayment(r)]));
  }

  async queryLoans(query: ListQuery & { borrowerId?: string; status?: Loan['status'] }): Promise<Loan[]> {
    const rows = await this.db.all(
      `SELECT * FROM loans WHERE (CAST(@borrowerId AS TEXT) IS NULL OR borrower_id = @borrowerId)
         AND (CAST(@status AS TEXT) IS NULL OR status = @status)
         AND (CAST(@afterId AS TEXT) IS NULL OR id > @afterId) ORDER BY id LIMIT @limit`,
      {
        borrowerId: query.borrowerId ?? null,
        status: query.status ?? null,
        afterId: query.afterId ?? null,
        limit: query.limit,
      },
    );
    return rows.map(toLoan);
  }

  async borrowerExposures(
    borrowerIds?: readonly string[],
  ): Promise<Map<string, { currency: string; outstanding: number }[]>> {
    // A page of borrowers: their loans by index (one statement, the ids as one JSON array); the whole book in
    // one pass otherwise.
    let rows: Row[];
    if (borrowerIds === undefined) rows = await this.db.all(exposuresSql(''));
    else if (borrowerIds.length === 0) rows = [];
    else {
      rows = await this.db.all(exposuresSql(` AND l.borrower_id IN (${textListSql(this.db.dialect)})`), [
        JSON.stringify([...new Set(borrowerIds)]),
      ]);
    }
    const out = new Map<string, { currency: string; outstanding: number }[]>();
    for (const r of rows) {
      const id = String(r.borrower_id);
      let list = out.get(id);
      if (list === undefined) out.set(id, (list = []));
      list.push({ currency: String(r.currency), outstanding: Number(r.outstanding) });
    }
    return out;
  }

  /**
   * Rows of `table` by primary key, the ids as one JSON array parameter: one SQL text for any number of ids (no
   * statement per list length, no parameter limit), each id sought through the primary key's index.
   */
  async #byIds(table: 'loans' | 'repayments', ids: readonly string[]): Promise<Row[]> {
    if (ids.length === 0) return [];
    return this.db.all(`SELECT * FROM ${table} WHERE id IN (${textListSql(this.db.dialect)})`, [
      JSON.stringify([...new Set(ids)]),
    ]);
  }
}
