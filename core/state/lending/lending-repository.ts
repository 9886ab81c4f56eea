/**
 * Lending terms around the loan book: who funds each loan and in what share (co-lending), the lending
 * policy's versions (documents validated by risk/policy/policy.ts; the state stores them as given), and each
 * borrower's committed limit (what an approved application grants; its undrawn part enters EAD).
 */
export interface FunderShare {
  readonly funderId: string;
  readonly sharePct: number;
}

export interface StoredPolicy {
  readonly version: number;
  readonly policy: unknown;
  readonly createdAt: number;
  readonly createdBy?: string;
}

export interface CreditLimit {
  readonly borrowerId: string;
  readonly currency: string;
  readonly amount: number;
  /** The application whose approval set it. */
  readonly applicationId?: string;
  readonly updatedAt: number;
}

export interface LendingRepository {
  /** Replaces the funders of each loan named (an empty list: the loan is the lender's alone). */
  replaceFunders(byLoan: ReadonlyMap<string, readonly FunderShare[]>): Promise<void>;
  /** Funders per loan, of the loans named or of all; loans without recorded funders are absent. */
  listFunders(loanIds?: readonly string[]): Promise<Map<string, FunderShare[]>>;
  /** Saves the next version of the policy (1 + the newest); two saves at once get distinct versions. */
  savePolicy(policy: unknown, atMs: number, createdBy?: string): Promise<StoredPolicy>;
  /** The newest saved version, or undefined while none was saved (the built-in default applies). */
  currentPolicy(): Promise<StoredPolicy | undefined>;
  /** Saved versions, newest first. */
  listPolicies(limit: number): Promise<StoredPolicy[]>;
  setLimit(limit: CreditLimit): Promise<void>;
  /** Limits by borrower, of the borrowers named or of all. */
  listLimits(borrowerIds?: readonly string[]): Promise<Map<string, CreditLimit>>;
}
