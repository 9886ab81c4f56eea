import type { DeviceKind } from '../../contracts/index.js';
import type { ListQuery } from '../portfolio/portfolio-repository.js';
import type { PresenceState } from '../presence/presence-repository.js';

/** The device registry: devices, their credentials (salted hashes), revocation and fleet counts. */
export type DeviceStatus = 'active' | 'revoked';
/** Who wears a helmet: a worker of the borrower, or the lender's inspector. */
export const HELMET_ROLES = ['worker', 'inspector'] as const;
export type HelmetRole = (typeof HELMET_ROLES)[number];

export interface Device {
  readonly id: string;
  readonly kind: DeviceKind;
  readonly borrowerId: string;
  readonly siteId: string;
  /** The collateral lot a stake sits on; undefined for helmets and satellite feeds. */
  readonly lotId?: string;
  /** A helmet's wearer (helmets only; a helmet registered without one is a worker's). */
  readonly role?: HelmetRole;
  readonly status: DeviceStatus;
  readonly createdAt: number;
}

/** Stored credentials: a salted hash of the token, never the token. */
export interface DeviceCredentials {
  readonly deviceId: string;
  readonly salt: string;
  readonly tokenHash: string;
}

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

export interface DeviceRepository {
  /** Registers devices with their credentials in one transaction. */
  upsertDevices(items: readonly { device: Device; credentials: DeviceCredentials }[]): Promise<void>;
  getDevice(id: string): Promise<Device | undefined>;
  getCredentials(deviceId: string): Promise<DeviceCredentials | undefined>;
  listDevices(filter?: { borrowerId?: string; kind?: DeviceKind }): Promise<Device[]>;
  revokeDevice(id: string, atMs: number): Promise<boolean>;
  queryDevices(
    query: ListQuery & {
      borrowerId?: string;
      siteId?: string;
      kind?: DeviceKind;
      status?: DeviceStatus;
      presence?: PresenceState;
    },
  ): Promise<Device[]>;
  /** Device counts by kind × status × presence, counted by the store (one grouped query), ordered by those. */
  deviceFleetCounts(filter?: DeviceFilter): Promise<DeviceFleetCount[]>;
  /** Ids and kinds of the matching devices, ordered by id: what a fleet summary asks the telemetry store about. */
  deviceIds(filter?: DeviceFilter & { status?: DeviceStatus }): Promise<{ id: string; kind: DeviceKind }[]>;
}
