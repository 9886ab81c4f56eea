import type { Loan, Repayment, StateStore } from '../core/storage/state-store.js';
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
    private readonly store: StateStore,
  ) {}

  /** Writes the book as of `ms`; returns how many rows changed. */
  writeAt(ms: number): { loans: number; repayments: number } {
    const snap = this.book.snapshotAt(ms);
    const loans = changed(snap.loans, this.loans);
    const repayments = changed(snap.repayments, this.repayments);
    if (loans.length > 0) this.store.upsertLoans(loans);
    if (repayments.length > 0) this.store.upsertRepayments(repayments);
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
