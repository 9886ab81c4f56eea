import type { Reading } from '../../../core/contracts/index.js';
import type { State } from '../../../core/state/index.js';
import { borrower, device, lot, site } from '../../../core/state/test/portfolio-fixtures.js';

/** The credit tests' borrower: b1 with site s1, lot l1 (100 t at 1 EUR/kg) watched by stake stk-1. */
export const HOUR = 3_600_000;

/**
 * A reading of stk-1 on lot l1: inside the site fence (the triangle (0,0) (0,1) (1,1) of the portfolio
 * fixtures), untampered, the whole 100 t present unless `over` says otherwise.
 */
export const stakeReading = (ts: number, seq: number, over: Record<string, number> = {}): Reading => ({
  kind: 'stake',
  deviceId: 'stk-1',
  borrowerId: 'b1',
  siteId: 's1',
  ts,
  seq,
  fields: {
    weightKg: 100_000,
    itemCount: 100,
    lat: 0.3,
    lon: 0.6,
    tamper: 0,
    temperatureC: 10,
    humidityPct: 40,
    batteryPct: 90,
    ...over,
  },
});

/**
 * b1, its site, its pledged lot (100,000 EUR of collateral at haircut 0) with stake stk-1, and a 60,000 EUR
 * loan started 30 days before `now`, without a repayment schedule (so its EAD is the principal:
 * core/state/loans/sql-loan-repository.ts).
 */
export async function seedSecuredBorrower(state: State, now: number): Promise<void> {
  await state.portfolio.upsertBorrowers([borrower('b1')]);
  await state.portfolio.upsertSites([site('s1', 'b1')]);
  await state.portfolio.upsertLots([lot('l1', 'b1', 's1', { pledgedWeightKg: 100_000, unitPricePerKg: 1 })]);
  await state.devices.upsertDevices([device('stk-1', { lotId: 'l1' })]);
  await state.loans.upsertLoans([
    {
      id: 'ln1',
      borrowerId: 'b1',
      principal: 60_000,
      currency: 'EUR',
      annualRatePct: 8,
      startAt: now - 30 * 24 * HOUR,
      termDays: 365,
      status: 'active',
    },
  ]);
}
