import { describe, expect, it } from 'vitest';
import type { CollateralLot } from '../../../core/state/index.js';
import { coverage, parseHaircuts, valueLot, type CollateralRules } from '../../credit/collateral.js';

const HOUR = 3_600_000;
const NOW = 1_800_000_000_000;
const lot: CollateralLot = {
  id: 'lot-1',
  borrowerId: 'b1',
  siteId: 's1',
  commodity: 'canola',
  pledgedWeightKg: 100_000,
  unitPricePerKg: 0.5,
  currency: 'CAD',
  pledgedAt: 0,
};
const rules: CollateralRules = {
  staleAfterMs: 24 * HOUR,
  staleFactor: 0,
  outsideFenceFactor: 0,
  tamperFactor: 0.5,
  tamperHoldMs: 7 * 24 * HOUR,
  offlineFactor: 0.25,
  haircut: parseHaircuts(undefined),
};
const fresh = { lastWeightKg: 100_000, lastWeightAt: NOW - HOUR, insideFence: true, online: true };

describe('verified collateral value', () => {
  it('when the stake weighs the whole pledge inside its fence, then verified equals claimed (both after the haircut)', () => {
    const v = valueLot(lot, fresh, rules, NOW);
    expect(v.claimedValue).toBeCloseTo(100_000 * 0.5 * 0.8);
    expect(v.verifiedValue).toBeCloseTo(v.claimedValue);
    expect(v.conditions).toEqual([]);
  });

  it('when goods were removed, then only the measured weight counts; extra weight never counts above the pledge', () => {
    expect(valueLot(lot, { ...fresh, lastWeightKg: 40_000 }, rules, NOW).verifiedValue).toBeCloseTo(16_000);
    expect(valueLot(lot, { ...fresh, lastWeightKg: 150_000 }, rules, NOW).verifiedValue).toBeCloseTo(40_000);
  });

  it('when the stake is outside its geofence, then the lot counts at the outside-fence factor (0)', () => {
    const v = valueLot(lot, { ...fresh, insideFence: false }, rules, NOW);
    expect(v.verifiedValue).toBe(0);
    expect(v.conditions).toEqual(['outside-geofence']);
  });

  it('when a tamper signal is within the hold time, then the lot counts at half; after it, in full', () => {
    expect(valueLot(lot, { ...fresh, lastTamperAt: NOW - 2 * HOUR }, rules, NOW).verifiedValue).toBeCloseTo(
      20_000,
    );
    expect(
      valueLot(lot, { ...fresh, lastTamperAt: NOW - 8 * 24 * HOUR }, rules, NOW).verifiedValue,
    ).toBeCloseTo(40_000);
  });

  it('when the weight is older than the stale time, or never came, then the lot is unverified and counts at 0', () => {
    expect(valueLot(lot, { ...fresh, lastWeightAt: NOW - 25 * HOUR }, rules, NOW).conditions).toEqual([
      'unverified',
    ]);
    expect(valueLot(lot, {}, rules, NOW).verifiedValue).toBe(0);
  });

  it('when several conditions hold, then the most severe factor applies once (not their product)', () => {
    const v = valueLot(lot, { ...fresh, online: false, lastTamperAt: NOW }, rules, NOW);
    expect(v.conditions).toEqual(['tampered', 'offline']);
    expect(v.factor).toBe(0.25);
  });

  it('when CREDIT_HAIRCUTS names a commodity, then it overrides the table; bad JSON is a clear error', () => {
    const h = parseHaircuts('{"canola":0.5,"*":0.4}');
    expect(h('canola')).toBe(0.5);
    expect(h('unobtainium')).toBe(0.4);
    expect(h('copper cathode')).toBe(0.15);
    expect(() => parseHaircuts('{"canola":2}')).toThrow(/\[0, 1\]/);
    expect(() => parseHaircuts('nope')).toThrow(/not JSON/);
  });

  it('when coverage is computed, then lots in another currency do not count and no exposure gives no ratio', () => {
    const a = valueLot(lot, fresh, rules, NOW);
    const b = valueLot({ ...lot, id: 'lot-2', currency: 'USD' }, fresh, rules, NOW);
    const c = coverage([a, b], 20_000, 'CAD');
    expect(c.claimed).toBeCloseTo(2);
    expect(c.verified).toBeCloseTo(2);
    expect(coverage([a], 0, 'CAD').verified).toBeUndefined();
  });
});
