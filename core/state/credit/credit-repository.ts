import type { FunderShare } from '../lending/lending-repository.js';

/**
 * Credit applications, the approvers' decisions on them, limit reviews, and each borrower's latest computed
 * exposure (EAD, claimed and verified coverage, LGD, EL, policy breaches). Decisions are append-only (both
 * engines' triggers refuse UPDATE and DELETE) and unique per approver and application: a second decision of
 * the same approver is a ConstraintError 'unique', which is how four-eyes refuses one person signing twice.
 */
export type ApplicationStatus = 'pending' | 'awaiting-second' | 'approved' | 'declined' | 'referred';
export type DecisionOutcome = 'approve' | 'approve-lower' | 'decline' | 'refer';

export interface CreditApplication {
  readonly id: string;
  readonly borrowerId: string;
  readonly amount: number;
  readonly currency: string;
  readonly tenorDays: number;
  readonly lotIds: readonly string[];
  readonly funders: readonly FunderShare[];
  readonly status: ApplicationStatus;
  /** The platform's recommendation when the application was filed (risk/decisions/recommend.ts). */
  readonly recommendation?: unknown;
  readonly createdAt: number;
  readonly createdBy?: string;
  readonly decidedAt?: number;
  readonly decidedAmount?: number;
}

export interface CreditDecision {
  readonly id: string;
  readonly applicationId: string;
  readonly approverKeyId: string;
  readonly outcome: DecisionOutcome;
  /** The amount approved (approve, approve-lower). */
  readonly amount?: number;
  /** Reason codes: adverse-action reasons of a decline, the approver's own otherwise. */
  readonly reasons: readonly string[];
  readonly comment?: string;
  readonly at: number;
}

export interface LimitReview {
  readonly id: string;
  readonly borrowerId: string;
  /** `GRADE_DOWN` or a policy code such as `POLICY_MIN_COVERAGE`. */
  readonly reason: string;
  readonly evidence: Readonly<Record<string, unknown>>;
  readonly status: 'open' | 'closed';
  readonly openedAt: number;
  readonly closedAt?: number;
  readonly closedBy?: string;
}

export interface CreditExposure {
  readonly borrowerId: string;
  readonly currency: string;
  readonly outstanding: number;
  readonly undrawn: number;
  readonly ead: number;
  readonly claimedValue: number;
  readonly verifiedValue: number;
  readonly claimedCoverage?: number;
  readonly verifiedCoverage?: number;
  readonly lgd: number;
  readonly pd?: number;
  readonly el?: number;
  /** Policy violations of the borrower's exposure now (code, message, limit, actual). */
  readonly breaches: readonly { code: string; message: string; limit: number; actual: number }[];
  /** Per-lot valuation (lot id, claimed, verified, conditions). */
  readonly lots: readonly unknown[];
  readonly computedAt: number;
}

/**
 * The order of an applications list: by id (default), by amount (largest first) or by age (oldest first); ties
 * by id, so a page boundary is exact (keyset pagination).
 */
export type ApplicationSort = 'id' | 'amount' | 'age';

export interface ApplicationQuery {
  readonly limit: number;
  /** One status, or several (the open queue: pending, awaiting-second, referred). */
  readonly status?: ApplicationStatus | readonly ApplicationStatus[];
  readonly borrowerId?: string;
  readonly sort?: ApplicationSort;
  /** Applications with an id greater than this (sort by id). */
  readonly afterId?: string;
  /** Applications after this one in the list's order (sort by amount or age): its sort key and id. */
  readonly after?: { readonly key: number; readonly id: string };
}

export interface CreditRepository {
  insertApplication(a: CreditApplication): Promise<void>;
  getApplication(id: string): Promise<CreditApplication | undefined>;
  queryApplications(q: ApplicationQuery): Promise<CreditApplication[]>;
  /**
   * Moves an application from `from` to the next status (compare-and-set): resolves false when it is no longer
   * in `from` (another decision got there first), changing nothing.
   */
  updateApplicationStatus(
    id: string,
    from: ApplicationStatus,
    next: { status: ApplicationStatus; decidedAt?: number; decidedAmount?: number },
  ): Promise<boolean>;
  /** Appends a decision; a second one by the same approver on the application is a ConstraintError 'unique'. */
  insertDecision(d: CreditDecision): Promise<void>;
  listDecisions(applicationId: string): Promise<CreditDecision[]>;
  /** Opens a review unless the borrower has one open; resolves whether it opened. */
  openReview(r: LimitReview): Promise<boolean>;
  listReviews(q: {
    limit: number;
    status?: LimitReview['status'];
    borrowerId?: string;
  }): Promise<LimitReview[]>;
  getReview(id: string): Promise<LimitReview | undefined>;
  closeReview(id: string, by: string, atMs: number): Promise<boolean>;
  upsertExposures(items: readonly CreditExposure[]): Promise<void>;
  /** Latest exposures by borrower, of the borrowers named or of all. */
  getExposures(borrowerIds?: readonly string[]): Promise<Map<string, CreditExposure>>;
}
