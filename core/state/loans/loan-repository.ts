import type { ListQuery } from '../portfolio/portfolio-repository.js';

/** The loan book: loans, their repayment schedules and what each borrower still owes. */
export interface Loan {
  readonly id: string;
  readonly borrowerId: string;
  readonly principal: number;
  readonly currency: string;
  readonly annualRatePct: number;
  readonly startAt: number;
  readonly termDays: number;
  readonly status: 'active' | 'repaid' | 'defaulted';
  readonly defaultedAt?: number;
}

export interface Repayment {
  readonly id: string;
  readonly loanId: string;
  readonly dueAt: number;
  readonly amountDue: number;
  readonly paidAt?: number;
  readonly amountPaid: number;
}

export interface LoanRepository {
  upsertLoans(items: readonly Loan[]): Promise<void>;
  upsertRepayments(items: readonly Repayment[]): Promise<void>;
  listLoans(borrowerId?: string): Promise<Loan[]>;
  listRepayments(loanId: string): Promise<Repayment[]>;
  getLoan(id: string): Promise<Loan | undefined>;
  getRepayment(id: string): Promise<Repayment | undefined>;
  /**
   * The stored loans of the ids named (any number, repeats allowed), by id; an unknown id is simply absent. One
   * statement whatever the count: what a bulk import checks its rows against, without a round trip per row.
   */
  getLoans(ids: readonly string[]): Promise<Map<string, Loan>>;
  /** The stored repayments of the ids named, by id; like `getLoans`. */
  getRepayments(ids: readonly string[]): Promise<Map<string, Repayment>>;
  queryLoans(query: ListQuery & { borrowerId?: string; status?: Loan['status'] }): Promise<Loan[]>;

  /**
   * Per borrower with active loans: what is still due on their schedules (due − paid), per currency; a loan
   * without a schedule counts its principal less the repayments received. Of every borrower, or of the ones
   * named.
   */
  borrowerExposures(
    borrowerIds?: readonly string[],
  ): Promise<Map<string, { currency: string; outstanding: number }[]>>;
}
