/** The append-only audit log (triggers refuse UPDATE and DELETE on both engines). */
/** One line of the append-only audit log: who did what to which resource, when, and the state before/after. */
export interface AuditEntry {
  readonly id: number;
  readonly at: number;
  /** The API key that acted; undefined for the platform itself (first-start bootstrap). */
  readonly actorKeyId?: string;
  readonly actorRole?: string;
  /** e.g. `create`, `update`, `delete`, `revoke`, `rotate`, `import`. */
  readonly action: string;
  /** e.g. `borrower`, `site`, `device`, `api-key`, `loans`. */
  readonly resource: string;
  readonly resourceId?: string;
  readonly before?: unknown;
  readonly after?: unknown;
  readonly requestId?: string;
}

export type NewAuditEntry = Omit<AuditEntry, 'id'>;

export interface AuditQuery {
  readonly limit: number;
  /** Entries older than this id (the log is listed newest first). */
  readonly beforeId?: number;
  readonly action?: string;
  readonly resource?: string;
  readonly resourceId?: string;
  readonly actorKeyId?: string;
}

export interface AuditRepository {
  appendAudit(entry: NewAuditEntry): Promise<number>;
  listAudit(query: AuditQuery): Promise<AuditEntry[]>;
}
