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

export interface StateStore {
  // Portfolio
  upsertBorrowers(items: readonly Borrower[]): void;
  upsertSites(items: readonly Site[]): void;
  upsertLots(items: readonly CollateralLot[]): void;
  getBorrower(id: string): Borrower | undefined;
  listBorrowers(): Borrower[];
  listSites(borrowerId?: string): Site[];
  getSite(id: string): Site | undefined;
  listLots(borrowerId?: string): CollateralLot[];

  // Device registry
  /** Registers devices with their credentials in one transaction. */
  upsertDevices(items: readonly { device: Device; credentials: DeviceCredentials }[]): void;
  getDevice(id: string): Device | undefined;
  getCredentials(deviceId: string): DeviceCredentials | undefined;
  listDevices(filter?: { borrowerId?: string; kind?: DeviceKind }): Device[];
  revokeDevice(id: string, atMs: number): boolean;

  // Loan book
  upsertLoans(items: readonly Loan[]): void;
  upsertRepayments(items: readonly Repayment[]): void;
  listLoans(borrowerId?: string): Loan[];
  listRepayments(loanId: string): Repayment[];

  // Dead letters
  addDeadLetters(items: readonly NewDeadLetter[]): void;
  listDeadLetters(options?: { limit?: number; reason?: string; deviceId?: string }): DeadLetter[];
  countDeadLetters(reason?: string): number;

  // Presence
  setPresence(items: readonly Presence[]): void;
  listPresence(): Presence[];

  /** Current schema version (number of applied migrations). */
  schemaVersion(): number;
  close(): void;
}
