import { describe, expect, it } from 'vitest';
import { lossGivenDefault, securedLgd, type LgdParams } from '../../credit/expected-loss.js';
import { fitLgdAtDefault, type WorkoutRow } from '../../credit/lgd-at-default.js';

const base: LgdParams = {
  unsecuredLgd: 0.45,
  recoveryRate: 0.9,
  liquidationCost: 0.05,
  collateralAtDefault: 1,
};

/** Workout rows of a world where defaulters keep `keep` of their verified stock and lose all the unsecured part. */
function workout(keep: number, unsecuredLoss: number): WorkoutRow[] {
  const s = securedLgd(base);
  const rows: WorkoutRow[] = [];
  for (let i = 0; i < 40; i++) {
    const ead = 50_000 + 5_000 * i;
    const verifiedValue = ead * (0.2 + (i % 10) * 0.15);
    const secured = Math.min(ead, verifiedValue * keep);
    rows.push({
      borrowerId: `b${i % 12}`,
      ead,
      verifiedValue,
      loss: secured * s + (ead - secured) * unsecuredLoss,
    });
  }
  return rows;
}

describe('LGD at default fitted on workout data', () => {
  it('when defaulters kept 45 % of the stock the stakes saw and lost the whole unsecured part, then the fit finds both, and its LGD matches the realised one', () => {
    const rows = workout(0.45, 1);
    const fit = fitLgdAtDefault(rows, base);
    expect(fit?.collateralAtDefault).toBeCloseTo(0.45, 6);
    expect(fit?.unsecuredLgd).toBeCloseTo(1, 6);
    expect(fit?.defaults).toBe(12);
    expect(fit?.rows).toBe(40);
    expect(fit?.fittedLgd).toBeCloseTo(fit?.realisedLgd ?? 0, 6);
    // Today's collateral (c = 1) and the F-IRB unsecured 45 % would have predicted far less.
    const ead = rows.reduce((s, r) => s + r.ead, 0);
    const asSeen =
      rows.reduce((s, r) => s + r.ead * lossGivenDefault(r.ead, r.verifiedValue, base).lgd, 0) / ead;
    expect(asSeen).toBeLessThan((fit?.realisedLgd ?? 0) * 0.6);
  });

  it('when a few large exposures lost less than the rest, then the fitted LGD still adds up to the realised total loss', () => {
    const rows = workout(0.5, 0.9).map((r, i) =>
      i % 7 === 0 ? { ...r, ead: r.ead * 8, loss: r.loss * 2 } : r,
    );
    const fit = fitLgdAtDefault(rows, base);
    expect(fit?.fittedLgd).toBeCloseTo(fit?.realisedLgd ?? 0, 9);
  });

  it('when the stock is all there at default, then the fit keeps it whole', () => {
    expect(fitLgdAtDefault(workout(1, 0.45), base)?.collateralAtDefault).toBe(1);
  });

  it('when there is no workout row with an exposure, then there is no fit', () => {
    expect(fitLgdAtDefault([], base)).toBeUndefined();
    expect(fitLgdAtDefault([{ borrowerId: 'b', ead: 0, verifiedValue: 5, loss: 0 }], base)).toBeUndefined();
  });
});
