import type { Loan, Repayment, State } from '../core/state/index.js';
import type { LoanBook } from './loan-book.js';

/**
 * Writes the loan book into the state store as simulated time advances, sending only rows that changed
 * since the last write (a payment made, a loan defaulted or renewed).
 */
export class LoanBookWriter {
  private readonly loans = new Map<string, string>();
  private readonly repayments = new Map<string, string>();

  constructor(
    private readonly book: LoanBook,
    private readonly store: Pick<State, 'loans'>,
  ) {}

  /**
   * Writes the book as of `ms`; resolves with how many rows changed. One call at a time: rows count as written
   * once handed over, so a failed write is not retried (the rows go again when they next change).
   */
  async writeAt(ms: number): Promise<{ loans: number; repayments: number }> {
    const snap = this.book.snapshotAt(ms);
    const loans = changed(snap.loans, this.loans);
    const repayments = changed(snap.repayments, this.repayments);
    // Loans first: repayments refer to them.
    if (loans.length > 0) await this.store.loans.upsertLoans(loans);
    if (repayments.length > 0) await this.store.loans.upsertRepayments(repayments);
    return { loans: loans.length, repayments: repayments.length };
  }
}

function changed<T extends Loan | Repayment>(rows: readonly T[], seen: Map<string, string>): T[] {
  const out: T[] = [];
  for (const row of rows) {
    const sig = JSON.stringify(row);
    if (seen.get(row.id) === sig) continue;
    seen.set(row.id, sig);
    out.push(row);
  }
  return out;
}
