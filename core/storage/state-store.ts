import type { DeviceKind } from '../contracts/index.js';

/**
 * The state store port: the device registry, the borrower portfolio, the loan book and dead letters. One
 * adapter (SQLite, transactional, versioned migrations) in `sqlite-state-store.ts`.
 */
export type Sector = 'agriculture' | 'manufacturing' | 'trading';
export type LatLon = readonly [lat: number, lon: number];

export interface Borrower {
  readonly id: string;
  readonly name: string;
  readonly sector: Sector;
  readonly region: string;
  readonly createdAt: number;
}

export interface Site {
  readonly id: string;
  readonly borrowerId: string;
  readonly name: string;
  readonly kind: 'warehouse' | 'parcel' | 'factory' | 'yard';
  readonly lat: number;
  readonly lon: number;
  /** Closed polygon of [lat, lon] vertices (first vertex need not repeat). */
  readonly geofence: readonly LatLon[];
}

export interface CollateralLot {
  readonly id: string;
  readonly borrowerId: string;
  readonly siteId: string;
  readonly commodity: string;
  readonly pledgedWeightKg: number;
  readonly unitPricePerKg: number;
  readonly currency: string;
  readonly pledgedAt: number;
}

export type DeviceStatus = 'active' | 'revoked';

export interface Device {
  readonly id: string;
  readonly kind: DeviceKind;
  readonly borrowerId: string;
  readonly siteId: string;
  /** The collateral lot a stake sits on; undefined for helmets and satellite feeds. */
  readonly lotId?: string;
  readonly status: DeviceStatus;
  readonly createdAt: number;
}

/** Stored credentials: a salted hash of the token, never the token. */
export interface DeviceCredentials {
  readonly deviceId: string;
  readonly salt: string;
  readonly tokenHash: string;
}

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

export interface DeadLetter {
  readonly id: number;
  readonly receivedAt: number;
  readonly deviceId?: string;
  readonly topic: string;
  /** Stable reason code, e.g. `MALFORMED_JSON`, `SCHEMA_VIOLATION`, `UNKNOWN_DEVICE`, `FUTURE_TIMESTAMP`. */
  readonly reason: string;
  readonly detail: string;
  /** The payload as received (truncated to 4 KiB, base64 when not UTF-8). */
  readonly payload: string;
}

export type NewDeadLetter = Omit<DeadLetter, 'id'>;

/** Last known MQTT presence of a device (retained status / last will). */
export interface Presence {
  readonly deviceId: string;
  readonly status: 'online' | 'offline';
  /** When ingest saw the change, epoch ms. */
  readonly changedAt: number;
}

/** Presence as the API reports it: a device without a presence row has never been seen on the broker. */
export type PresenceState = Presence['status'] | 'unknown';

export interface DeviceFilter {
  readonly borrowerId?: string;
  readonly kind?: DeviceKind;
}

/** How many devices share a kind, status and presence (one row per combination that has any). */
export interface DeviceFleetCount {
  readonly kind: DeviceKind;
  readonly status: DeviceStatus;
  readonly presence: PresenceState;
  readonly devices: number;
}

/** API roles (README "API"): what each may do is the API's permission table, not the store's concern. */
export const API_ROLES = ['admin', 'officer', 'auditor', 'device-ops'] as const;
export type ApiRole = (typeof API_ROLES)[number];

/** An API key as listed: never its secret, which is stored only as a salted hash. */
export interface ApiKey {
  readonly id: string;
  readonly name: string;
  readonly role: ApiRole;
  readonly createdAt: number;
  readonly revokedAt?: number;
  readonly lastUsedAt?: number;
  /** The key this one replaced by rotation. */
  readonly rotatedFrom?: string;
}

export interface ApiKeyCredentials {
  readonly salt: string;
  readonly keyHash: string;
}

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

/** Keyset pagination: the sort value and id of the last item of the previous page. */
export interface After {
  readonly value: string | number;
  readonly id: string;
}

export type BorrowerSort = 'id' | 'name' | 'createdAt';

export interface BorrowerQuery {
  readonly limit: number;
  /** Case-insensitive substring of the name or id. */
  readonly q?: string;
  readonly sector?: Sector;
  readonly region?: string;
  readonly sort?: BorrowerSort;
  readonly desc?: boolean;
  readonly after?: After;
}

export interface ListQuery {
  readonly limit: number;
  /** Items with an id greater than this (lists are ordered by id). */
  readonly afterId?: string;
}

export type PortfolioResource = 'borrower' | 'site' | 'lot';

export interface PortfolioSummary {
  readonly borrowers: number;
  readonly bySector: Readonly<Record<string, number>>;
  readonly sites: number;
  readonly lots: number;
  readonly devices: Readonly<Record<string, number>>;
  readonly loans: Readonly<Record<string, number>>;
  /** Per currency: principal of active loans, and what is still due on their schedules (due − paid). */
  readonly exposure: readonly {
    currency: string;
    activeLoans: number;
    principal: number;
    outstanding: number;
  }[];
  /** Per currency: pledged weight × unit price over every lot. */
  readonly collateralValue: readonly { currency: string; value: number }[];
}

export interface StateStore {
  /** Runs `fn` in one transaction (nested calls join it): everything it writes commits, or nothing does. */
  transaction<T>(fn: () => T): T;

  // Portfolio
  upsertBorrowers(items: readonly Borrower[]): void;
  upsertSites(items: readonly Site[]): void;
  upsertLots(items: readonly CollateralLot[]): void;
  getBorrower(id: string): Borrower | undefined;
  listBorrowers(): Borrower[];
  listSites(borrowerId?: string): Site[];
  getSite(id: string): Site | undefined;
  listLots(borrowerId?: string): CollateralLot[];

  getLot(id: string): CollateralLot | undefined;
  queryBorrowers(query: BorrowerQuery): Borrower[];
  querySites(query: ListQuery & { borrowerId?: string }): Site[];
  queryLots(query: ListQuery & { borrowerId?: string; siteId?: string }): CollateralLot[];
  /** How many rows of each kind refer to the resource (only kinds with some). */
  dependents(resource: PortfolioResource, id: string): Record<string, number>;
  /** Deletes a resource nothing refers to; the foreign keys refuse otherwise. Resolves whether it existed. */
  deletePortfolioItem(resource: PortfolioResource, id: string): boolean;
  portfolioSummary(): PortfolioSummary;
  /**
   * Per borrower with active loans: what is still due on their schedules (due − paid), per currency; of every
   * borrower, or of the ones named.
   */
  borrowerExposures(
    borrowerIds?: readonly string[],
  ): Map<string, { currency: string; outstanding: number }[]>;

  // Device registry
  /** Registers devices with their credentials in one transaction. */
  upsertDevices(items: readonly { device: Device; credentials: DeviceCredentials }[]): void;
  getDevice(id: string): Device | undefined;
  getCredentials(deviceId: string): DeviceCredentials | undefined;
  listDevices(filter?: { borrowerId?: string; kind?: DeviceKind }): Device[];
  revokeDevice(id: string, atMs: number): boolean;
  queryDevices(
    query: ListQuery & {
      borrowerId?: string;
      siteId?: string;
      kind?: DeviceKind;
      status?: DeviceStatus;
      presence?: PresenceState;
    },
  ): Device[];
  /** Device counts by kind × status × presence, counted by the store (one grouped query), ordered by those. */
  deviceFleetCounts(filter?: DeviceFilter): DeviceFleetCount[];
  /** Ids and kinds of the matching devices, ordered by id: what a fleet summary asks the telemetry store about. */
  deviceIds(filter?: DeviceFilter & { status?: DeviceStatus }): { id: string; kind: DeviceKind }[];

  // Loan book
  upsertLoans(items: readonly Loan[]): void;
  upsertRepayments(items: readonly Repayment[]): void;
  listLoans(borrowerId?: string): Loan[];
  listRepayments(loanId: string): Repayment[];
  getLoan(id: string): Loan | undefined;
  getRepayment(id: string): Repayment | undefined;
  queryLoans(query: ListQuery & { borrowerId?: string; status?: Loan['status'] }): Loan[];

  // Dead letters
  addDeadLetters(items: readonly NewDeadLetter[]): void;
  listDeadLetters(options?: { limit?: number; reason?: string; deviceId?: string }): DeadLetter[];
  countDeadLetters(reason?: string): number;

  // Presence
  setPresence(items: readonly Presence[]): void;
  listPresence(): Presence[];
  getPresence(deviceIds: readonly string[]): Presence[];

  // API keys
  createApiKey(key: ApiKey, credentials: ApiKeyCredentials): void;
  getApiKey(id: string): ApiKey | undefined;
  /** Credentials of an active (not revoked) key. */
  getApiKeyCredentials(id: string): ApiKeyCredentials | undefined;
  listApiKeys(): ApiKey[];
  revokeApiKey(id: string, atMs: number): boolean;
  touchApiKey(id: string, atMs: number): void;
  countActiveApiKeys(role?: ApiRole): number;

  // Audit log (append-only: the SQLite adapter refuses UPDATE and DELETE with triggers)
  appendAudit(entry: NewAuditEntry): number;
  listAudit(query: AuditQuery): AuditEntry[];

  /** Current schema version (number of applied migrations). */
  schemaVersion(): number;
  close(): void;
}
