/**
 * Cases: an officer's investigation of one borrower's alerts. At most one case per borrower is not closed (the
 * store's partial unique index): each new alert on the borrower joins it. open → investigating → closed, with an
 * outcome; notes by who and when.
 */
export const CASE_STATUSES = ['open', 'investigating', 'closed'] as const;
export type CaseStatus = (typeof CASE_STATUSES)[number];
export const CASE_OUTCOMES = ['confirmed-fraud', 'false-alarm', 'operational-issue'] as const;
export type CaseOutcome = (typeof CASE_OUTCOMES)[number];

export interface Case {
  /** `case_` + 24 hex characters. */
  readonly id: string;
  readonly borrowerId: string;
  readonly status: CaseStatus;
  /** The officer (API key id) who owns it; unset until someone takes it. */
  readonly owner?: string;
  readonly outcome?: CaseOutcome;
  readonly openedAt: number;
  readonly updatedAt: number;
  readonly closedAt?: number;
  readonly closedBy?: string;
  readonly alertCount: number;
  readonly maxSeverity: string;
  readonly lastAlertAt: number;
}

export interface CaseNote {
  readonly id: string;
  readonly caseId: string;
  readonly author: string;
  readonly body: string;
  readonly createdAt: number;
}

export interface CaseAlertLink {
  readonly caseId: string;
  readonly alertId: string;
  readonly ruleId: string;
  readonly addedAt: number;
}

export interface CaseRepository {
  /** The borrower's case that is not closed, if any. */
  findOpenCase(borrowerId: string): Promise<Case | undefined>;
  getCase(id: string): Promise<Case | undefined>;
  /** Inserts a new case; false when the borrower already has one not closed (the unique index). */
  insertCase(c: Case): Promise<boolean>;
  /** Writes status, owner, outcome, counters; compare-and-set on the status when given. */
  updateCase(c: Case, expectedStatus?: CaseStatus): Promise<boolean>;
  linkAlert(link: CaseAlertLink): Promise<void>;
  caseAlerts(caseId: string): Promise<CaseAlertLink[]>;
  addNote(note: CaseNote): Promise<void>;
  notes(caseId: string): Promise<CaseNote[]>;
  /** Cases by status (all when unset), most recently updated first. */
  listCases(query: { status?: CaseStatus; limit: number }): Promise<Case[]>;
  /** Per rule, over closed cases: alerts in cases of each outcome (a rule's observed precision). */
  outcomesByRule(): Promise<{ ruleId: string; outcome: CaseOutcome; alerts: number }[]>;
}
