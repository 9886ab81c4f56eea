import { describe, expect, it } from 'vitest';
import type { CollateralLot } from '../../../core/state/index.js';
import { borrowerCredit, portfolioCredit, type CreditParams } from '../../credit/borrower-credit.js';
import { parseHaircuts } from '../../credit/collateral.js';
import { exposureAtDefault, lossGivenDefault, securedLgd } from '../../credit/expected-loss.js';

const NOW = 1_800_000_000_000;
const params: CreditParams = {
  ccf: 0.75,
  unsecuredLgd: 0.45,
  recoveryRate: 0.9,
  liquidationCost: 0.05,
  collateralAtDefault: 1,
  collateral: {
    staleAfterMs: 86_400_000,
    staleFactor: 0,
    outsideFenceFactor: 0,
    tamperFactor: 0.5,
    tamperHoldMs: 0,
    offlineFactor: 0.5,
    haircut: parseHaircuts('{"*":0}'),
  },
};
const lot: CollateralLot = {
  id: 'lot-1',
  borrowerId: 'b1',
  siteId: 's1',
  commodity: 'x',
  pledgedWeightKg: 1_000,
  unitPricePerKg: 100,
  currency: 'CAD',
  pledgedAt: 0,
};

describe('expected loss', () => {
  it('when a line is partly undrawn, then EAD adds the undrawn part times the CCF', () => {
    expect(exposureAtDefault(100, 40, 0.75)).toBe(130);
  });

  it('when collateral covers half the exposure, then LGD blends the secured and the unsecured LGD', () => {
    const s = securedLgd(params);
    expect(s).toBeCloseTo(1 - 0.9 * 0.95);
    expect(lossGivenDefault(200, 100, params).lgd).toBeCloseTo((100 * s + 100 * 0.45) / 200);
    expect(lossGivenDefault(200, 1_000, params).lgd).toBeCloseTo(s);
    expect(lossGivenDefault(200, 0, params).lgd).toBeCloseTo(0.45);
  });

  it('when a defaulter is expected to keep 40 % of its verified collateral, then LGD secures only that part, and coverage is still what the stakes see', () => {
    const atDefault = { ...params, collateralAtDefault: 0.4 };
    const s = securedLgd(params);
    // 250 verified today → 100 expected at default on an exposure of 200.
    expect(lossGivenDefault(200, 250, atDefault).lgd).toBeCloseTo((100 * s + 100 * 0.45) / 200);
    expect(lossGivenDefault(200, 250, params).lgd).toBeCloseTo(s);
    const input = {
      borrowerId: 'b1',
      pd: 0.02,
      exposures: [{ currency: 'CAD', outstanding: 200_000 }],
      lots: [{ lot, observation: { lastWeightKg: 1_000, lastWeightAt: NOW, insideFence: true } }],
    };
    const today = borrowerCredit(input, params, NOW);
    const conditional = borrowerCredit(input, atDefault, NOW);
    expect(conditional.verifiedCoverage).toBe(today.verifiedCoverage);
    expect(conditional.verifiedValue).toBe(100_000);
    expect(conditional.lgd).toBeCloseTo((40_000 * s + 160_000 * 0.45) / 200_000);
    expect(conditional.el).toBeCloseTo(0.02 * conditional.lgd * 200_000);
    expect(conditional.lgd).toBeGreaterThan(today.lgd);
  });

  it('when the stake leaves its fence, then verified coverage drops to 0, LGD to the unsecured 45 % and EL rises', () => {
    const base = {
      borrowerId: 'b1',
      pd: 0.02,
      exposures: [{ currency: 'CAD', outstanding: 50_000 }],
      undrawn: new Map([['CAD', 20_000]]),
    };
    const obs = { lastWeightKg: 1_000, lastWeightAt: NOW, insideFence: true, online: true };
    const inside = borrowerCredit({ ...base, lots: [{ lot, observation: obs }] }, params, NOW);
    const moved = borrowerCredit(
      { ...base, lots: [{ lot, observation: { ...obs, insideFence: false } }] },
      params,
      NOW,
    );
    expect(inside.ead).toBe(65_000);
    expect(inside.claimedCoverage).toBeCloseTo(100_000 / 65_000);
    expect(inside.verifiedCoverage).toBeCloseTo(100_000 / 65_000);
    expect(moved.claimedCoverage).toBeCloseTo(100_000 / 65_000);
    expect(moved.verifiedCoverage).toBe(0);
    expect(moved.lgd).toBeCloseTo(0.45);
    expect(moved.el).toBeCloseTo(0.02 * 0.45 * 65_000);
    expect(moved.el as number).toBeGreaterThan(inside.el as number);
  });

  it('when borrowers are summed, then the portfolio EL is their sum and LGD is EAD-weighted', () => {
    const a = borrowerCredit(
      { borrowerId: 'a', pd: 0.1, exposures: [{ currency: 'CAD', outstanding: 100 }], lots: [] },
      params,
      NOW,
    );
    const b = borrowerCredit(
      { borrowerId: 'b', exposures: [{ currency: 'CAD', outstanding: 300 }], lots: [] },
      params,
      NOW,
    );
    const [p] = portfolioCredit([a, b]);
    expect(p).toMatchObject({ currency: 'CAD', ead: 400, borrowers: 2 });
    expect(p?.el).toBeCloseTo(0.1 * 0.45 * 100);
    expect(p?.lgd).toBeCloseTo(0.45);
  });
});
