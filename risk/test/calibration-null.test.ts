import { describe, expect, it } from 'vitest';
import { worstDecileUnderCalibration } from '../calibration-null.js';
import { maxDecileRatio } from '../evaluate-figures.js';
import { mulberry32 } from '../../core/random.js';
import { reliabilityTable } from '../metrics.js';

const DAY = 86_400_000;
const HORIZON = 180 * DAY;

/**
 * A test period like riskfuse evaluate's: `borrowers` borrowers, each with a true 180-day PD, scored weekly for
 * `weeks` weeks while performing; each defaults at its own constant hazard. `pdScale` scales the PDs the model
 * reports against the truth (1 = calibrated).
 */
function world(borrowers: number, weeks: number, pdScale: number, seed: number) {
  const rand = mulberry32(seed);
  const p: number[] = [];
  const y: number[] = [];
  const t: number[] = [];
  const groups: string[] = [];
  for (let b = 0; b < borrowers; b++) {
    const truePd = 0.1 + 0.3 * rand();
    const hazard = -Math.log(1 - truePd) / HORIZON;
    const defaultAt = -Math.log(1 - rand()) / hazard;
    for (let w = 0; w < weeks; w++) {
      const at = w * 7 * DAY;
      if (at >= defaultAt) break;
      p.push(Math.min(0.99, truePd * pdScale));
      y.push(defaultAt <= at + HORIZON ? 1 : 0);
      t.push(at);
      groups.push(`b${b}`);
    }
  }
  const observed = maxDecileRatio(reliabilityTable(p, y, 10, 'quantile'));
  return { p, y, t, groups, observed };
}

describe('the worst decile under perfect calibration (risk/calibration-null.ts)', () => {
  it('when the PDs are right, then the observed worst decile is within chance, and chance alone puts it more than 10 % off', () => {
    const w = world(1500, 12, 1, 7);
    const n = worstDecileUnderCalibration({ ...w, draws: 300, seed: 1 });
    expect(n.pValue).toBeGreaterThan(0.05);
    expect(n.median).toBeGreaterThan(1.1);
    expect(n.p95).toBeGreaterThan(n.median);
    expect(n.observed).toBe(w.observed);
  });

  it('when the PDs are 40 % of the truth, then the observed worst decile is beyond chance', () => {
    const w = world(1500, 12, 0.4, 7);
    const n = worstDecileUnderCalibration({ ...w, draws: 300, seed: 1 });
    expect(w.observed).toBeGreaterThan(2);
    expect(n.p95).toBeLessThan(w.observed);
    expect(n.pValue).toBeLessThan(0.05);
  });

  it("when a borrower's weekly rows default together, then chance puts the worst decile further off than for as many independent borrowers", () => {
    const clustered = world(1500, 12, 1, 11);
    // The same rows with every row its own borrower: labels independent across a borrower's weeks.
    const independent = worstDecileUnderCalibration({
      ...clustered,
      groups: clustered.groups.map((_, i) => `r${i}`),
      draws: 300,
      seed: 1,
    });
    const grouped = worstDecileUnderCalibration({ ...clustered, draws: 300, seed: 1 });
    expect(grouped.median).toBeGreaterThan(independent.median * 1.1);
  });
});
