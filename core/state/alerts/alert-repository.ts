/**
 * The alert store port: alerts with their lifecycle (open → acknowledged → resolved), at most one not-resolved
 * alert per rule and subject, and the alert rules' settings as changed over the API. Alert writes join the
 * caller's transaction, so an alert and the event announcing it commit together.
 */
export const ALERT_SEVERITIES = ['info', 'warning', 'critical'] as const;
export type AlertSeverity = (typeof ALERT_SEVERITIES)[number];
export const ALERT_STATUSES = ['open', 'acknowledged', 'resolved'] as const;
export type AlertStatus = (typeof ALERT_STATUSES)[number];
/** `model`: a model version (its drift, risk/monitoring/), subject id = the version. */
export const SUBJECT_KINDS = ['borrower', 'device', 'lot', 'model'] as const;
export type SubjectKind = (typeof SUBJECT_KINDS)[number];

export interface Alert {
  /** `alt_` + 24 hex characters. */
  readonly id: string;
  readonly ruleId: string;
  readonly severity: AlertSeverity;
  readonly status: AlertStatus;
  readonly subjectKind: SubjectKind;
  readonly subjectId: string;
  readonly borrowerId?: string;
  readonly deviceId?: string;
  readonly lotId?: string;
  readonly title: string;
  /** What fired it: the readings, score or presence change (JSON). */
  readonly evidence: Readonly<Record<string, unknown>>;
  readonly openedAt: number;
  readonly updatedAt: number;
  readonly acknowledgedAt?: number;
  /** Who: an API key id, or `system` for the engine. */
  readonly acknowledgedBy?: string;
  readonly acknowledgeComment?: string;
  readonly resolvedAt?: number;
  readonly resolvedBy?: string;
  readonly resolveComment?: string;
}

export interface AlertQuery {
  readonly limit: number;
  readonly status?: AlertStatus;
  readonly severity?: AlertSeverity;
  readonly ruleId?: string;
  readonly borrowerId?: string;
  readonly subjectId?: string;
  /** Opened at or after, epoch ms. */
  readonly fromMs?: number;
  /** Opened before, epoch ms. */
  readonly toMs?: number;
  /** Keyset: alerts listed newest first; this is the (openedAt, id) of the last item of the previous page. */
  readonly before?: { readonly openedAt: number; readonly id: string };
}

export interface AlertRepository {
  /**
   * Inserts an open alert; returns false (and writes nothing) when one is already not resolved for its rule and
   * subject, also when two inserts race (the database's unique index decides).
   */
  insertAlert(alert: Alert): Promise<boolean>;
  getAlert(id: string): Promise<Alert | undefined>;
  /** The not-resolved alert of a rule and subject. */
  findActive(ruleId: string, subjectKind: SubjectKind, subjectId: string): Promise<Alert | undefined>;
  /** Every not-resolved alert (for the engine's in-memory index at start). */
  listActive(): Promise<Alert[]>;
  /**
   * Writes an alert's new lifecycle fields; returns false when it does not exist, or (compare-and-set) when
   * `expectedStatus` is given and the stored status is no longer it: of two officers acknowledging at once,
   * one wins and the other learns it lost.
   */
  updateAlert(alert: Alert, expectedStatus?: AlertStatus): Promise<boolean>;
  queryAlerts(query: AlertQuery): Promise<Alert[]>;
  countAlerts(status?: AlertStatus): Promise<number>;
  /** Alerts not yet resolved (open or acknowledged) per borrower; borrowers with none are absent. */
  countActiveByBorrower(): Promise<Map<string, number>>;

  /** Rule settings saved over the API, by rule id (JSON documents, validated by the caller). */
  listRuleSettings(): Promise<{ ruleId: string; settings: unknown; updatedAt: number }[]>;
  saveRuleSettings(ruleId: string, settings: unknown, atMs: number): Promise<void>;
}
