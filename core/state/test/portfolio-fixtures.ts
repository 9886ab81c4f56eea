import { makeCredentials } from '../../credentials.js';
import type { Device, DeviceCredentials } from '../devices/device-repository.js';
import type { Borrower, CollateralLot, Site } from '../portfolio/portfolio-repository.js';
import type { State } from '../state.js';

/** A small portfolio the contract suites of the portfolio, loans and devices start from. */
export const T0 = Date.UTC(2026, 0, 1);

export const borrower = (id: string, over: Partial<Borrower> = {}): Borrower => ({
  id,
  name: `Borrower ${id}`,
  sector: 'trading',
  region: 'north',
  createdAt: T0,
  ...over,
});

export const site = (id: string, borrowerId: string, over: Partial<Site> = {}): Site => ({
  id,
  borrowerId,
  name: `Site ${id}`,
  kind: 'warehouse',
  lat: 1,
  lon: 2,
  geofence: [
    [0, 0],
    [0, 1],
    [1, 1],
  ],
  ...over,
});

export const lot = (id: string, borrowerId: string, siteId: string, over: Partial<CollateralLot> = {}) =>
  ({
    id,
    borrowerId,
    siteId,
    commodity: 'wheat',
    pledgedWeightKg: 1000,
    unitPricePerKg: 0.3,
    currency: 'EUR',
    pledgedAt: T0,
    ...over,
  }) satisfies CollateralLot;

export const device = (
  id: string,
  over: Partial<Device> = {},
  token = 'token',
): { device: Device; credentials: DeviceCredentials } => ({
  device: { id, kind: 'stake', borrowerId: 'b1', siteId: 's1', status: 'active', createdAt: T0, ...over },
  credentials: makeCredentials(id, token),
});

/** Borrower b1 ("Grain Co") with site s1 and lot l1 (1000 kg of wheat at 0.3 EUR/kg). */
export async function seedPortfolio(state: State): Promise<void> {
  await state.portfolio.upsertBorrowers([borrower('b1', { name: 'Grain Co' })]);
  await state.portfolio.upsertSites([site('s1', 'b1', { name: 'Depot' })]);
  await state.portfolio.upsertLots([lot('l1', 'b1', 's1')]);
}
