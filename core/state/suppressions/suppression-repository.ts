import type { AlertSeverity, SubjectKind } from '../alerts/alert-repository.js';

/**
 * Alert suppressions: maintenance windows (planned: a stake recalibrated, a warehouse restocked) and snoozes
 * (an officer who knows why a device is noisy) per device, lot or borrower, optionally for one rule. An alert a
 * suppression (or the engine's flapping hold) keeps out of the officer's list is recorded here as a suppressed
 * alert with its cause, never silently dropped; each suppression counts what it held back.
 */
export const SUPPRESSION_KINDS = ['maintenance', 'snooze'] as const;
export type SuppressionKind = (typeof SUPPRESSION_KINDS)[number];
export const SUPPRESSION_SCOPES = ['device', 'lot', 'borrower'] as const;
export type SuppressionScope = (typeof SUPPRESSION_SCOPES)[number];
/** Why an opening was held back: a suppression of either kind, or the engine's flapping hold. */
export type SuppressedCause = SuppressionKind | 'flapping';

export interface Suppression {
  /** `sup_` + 24 hex characters. */
  readonly id: string;
  readonly kind: SuppressionKind;
  readonly scopeKind: SuppressionScope;
  readonly scopeId: string;
  /** Only this rule's alerts; every rule when unset. */
  readonly ruleId?: string;
  readonly reason: string;
  /** In force from (inclusive) until (exclusive), epoch ms, on the alert's own time (its reading's). */
  readonly fromMs: number;
  readonly untilMs: number;
  /** Who: an API key id. */
  readonly createdBy: string;
  readonly createdAt: number;
  /** Ended early (by whom, when); it no longer holds anything back. */
  readonly revokedAt?: number;
  readonly revokedBy?: string;
  /** Alert openings it held back. */
  readonly suppressed: number;
}

export interface SuppressedAlert {
  /** `sal_` + 24 hex characters. */
  readonly id: string;
  readonly cause: SuppressedCause;
  /** The suppression that held it (absent for the flapping hold). */
  readonly suppressionId?: string;
  readonly ruleId: string;
  readonly severity: AlertSeverity;
  readonly subjectKind: SubjectKind;
  readonly subjectId: string;
  readonly borrowerId?: string;
  readonly deviceId?: string;
  readonly lotId?: string;
  readonly title: string;
  readonly evidence: Readonly<Record<string, unknown>>;
  /** When the alert would have opened (its reading's time), epoch ms. */
  readonly at: number;
}

export interface SuppressionQuery {
  readonly limit: number;
  /** Only those in force at this time (not revoked, fromMs ≤ t < untilMs). */
  readonly activeAt?: number;
  readonly scopeKind?: SuppressionScope;
  readonly scopeId?: string;
}

export interface SuppressionRepository {
  insertSuppression(s: Suppression): Promise<void>;
  getSuppression(id: string): Promise<Suppression | undefined>;
  /** Newest first (createdAt, id). */
  listSuppressions(query: SuppressionQuery): Promise<Suppression[]>;
  /** Not revoked and not over by `atMs` (for the engine's in-memory gate; includes those starting later). */
  listCurrent(atMs: number): Promise<Suppression[]>;
  /** Ends a suppression; false when it does not exist or is already revoked (compare-and-set). */
  revokeSuppression(id: string, by: string, atMs: number): Promise<boolean>;
  /** Records a held-back opening and, when a suppression held it, counts it there (one transaction: the caller's). */
  recordSuppressed(a: SuppressedAlert): Promise<void>;
  /** Newest first. */
  listSuppressed(query: {
    limit: number;
    suppressionId?: string;
    borrowerId?: string;
  }): Promise<SuppressedAlert[]>;
}
