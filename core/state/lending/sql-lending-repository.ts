import type { Database, Row } from '../database.js';
import { textListSql } from '../sql-text-list.js';
import type { CreditLimit, FunderShare, LendingRepository, StoredPolicy } from './lending-repository.js';

const text = (v: unknown): string => String(v);

const toPolicy = (r: Row): StoredPolicy => ({
  version: Number(r.version),
  policy: JSON.parse(String(r.policy)) as unknown,
  createdAt: Number(r.created_at),
  ...(r.created_by == null ? {} : { createdBy: text(r.created_by) }),
});

const toLimit = (r: Row): CreditLimit => ({
  borrowerId: String(r.borrower_id),
  currency: String(r.currency),
  amount: Number(r.amount),
  ...(r.application_id == null ? {} : { applicationId: text(r.application_id) }),
  updatedAt: Number(r.updated_at),
});

/** Loan funders, policy versions and committed limits on the state database (one SQL text for both engines). */
export class SqlLendingRepository implements LendingRepository {
  constructor(private readonly db: Database) {}

  async replaceFunders(byLoan: ReadonlyMap<string, readonly FunderShare[]>): Promise<void> {
    if (byLoan.size === 0) return;
    await this.db.transaction(async () => {
      await this.db.run(`DELETE FROM loan_funders WHERE loan_id IN (${textListSql(this.db.dialect)})`, [
        JSON.stringify([...byLoan.keys()]),
      ]);
      const rows = [...byLoan].flatMap(([loanId, funders]) =>
        funders.map((f) => [loanId, f.funderId, f.sharePct] as const),
      );
      if (rows.length > 0)
        await this.db.insertMany('loan_funders', ['loan_id', 'funder_id', 'share_pct'], rows);
    });
  }

  async listFunders(loanIds?: readonly string[]): Promise<Map<string, FunderShare[]>> {
    const rows =
      loanIds === undefined
        ? await this.db.all('SELECT * FROM loan_funders ORDER BY loan_id, funder_id')
        : await this.db.all(
            `SELECT * FROM loan_funders WHERE loan_id IN (${textListSql(this.db.dialect)})
             ORDER BY loan_id, funder_id`,
            [JSON.stringify([...new Set(loanIds)])],
          );
    const out = new Map<string, FunderShare[]>();
    for (const r of rows) {
      const id = String(r.loan_id);
      const list = out.get(id) ?? [];
      list.push({ funderId: String(r.funder_id), sharePct: Number(r.share_pct) });
      out.set(id, list);
    }
    return out;
  }

  async savePolicy(policy: unknown, atMs: number, createdBy?: string): Promise<StoredPolicy> {
    // Serializable on PostgreSQL: two saves at once both read the same newest version; the loser's insert hits
    // the primary key and its transaction re-runs (SQLite writes one at a time already).
    return this.db.transaction(
      async () => {
        const r = await this.db.get<{ v: number | string | null }>(
          'SELECT max(version) AS v FROM lending_policies',
        );
        const version = Number(r?.v ?? 0) + 1;
        await this.db.run(
          'INSERT INTO lending_policies (version, policy, created_at, created_by) VALUES (?, ?, ?, ?)',
          [version, JSON.stringify(policy), atMs, createdBy ?? null],
        );
        return { version, policy, createdAt: atMs, ...(createdBy === undefined ? {} : { createdBy }) };
      },
      { isolation: 'serializable' },
    );
  }

  async currentPolicy(): Promise<StoredPolicy | undefined> {
    const r = await this.db.get('SELECT * FROM lending_policies ORDER BY version DESC LIMIT 1');
    return r === undefined ? undefined : toPolicy(r);
  }

  async listPolicies(limit: number): Promise<StoredPolicy[]> {
    return (await this.db.all('SELECT * FROM lending_policies ORDER BY version DESC LIMIT ?', [limit])).map(
      toPolicy,
    );
  }

  async setLimit(limit: CreditLimit): Promise<void> {
    await this.db.run(
      `INSERT INTO credit_limits (borrower_id, currency, amount, application_id, updated_at) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (borrower_id) DO UPDATE SET currency = excluded.currency, amount = excluded.amount,
         application_id = excluded.application_id, updated_at = excluded.updated_at`,
      [limit.borrowerId, limit.currency, limit.amount, limit.applicationId ?? null, limit.updatedAt],
    );
  }

  async listLimits(borrowerIds?: readonly string[]): Promise<Map<string, CreditLimit>> {
    const rows =
      borrowerIds === undefined
        ? await this.db.all('SELECT * FROM credit_limits')
        : await this.db.all(
            `SELECT * FROM credit_limits WHERE borrower_id IN (${textListSql(this.db.dialect)})`,
            [JSON.stringify([...new Set(borrowerIds)])],
          );
    return new Map(rows.map((r) => [String(r.borrower_id), toLimit(r)]));
  }
}
