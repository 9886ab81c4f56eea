import { describe, expect, it } from 'vitest';
import { mulberry32 } from '../../core/random.js';
import { elUnderModel } from '../el-null.js';
import { elVsLoss, type CreditTestRow } from '../evaluate-credit.js';

const DAY = 86_400_000;
const HORIZON = 180 * DAY;

/**
 * A test period like riskfuse evaluate's, drawn independently of risk/el-null.ts: each borrower has a true
 * 180-day PD in grade E or F (4–16 %), an EAD and an LGD; it defaults at its constant hazard and loses
 * EAD × LGD × a ratio drawn from `ratios`; it is scored weekly while performing. `pdScale` scales the PDs the
 * model reports against the truth (1 = right). The observed band errors come from the report's own `elVsLoss`.
 */
function world(borrowers: number, pdScale: number, ratios: readonly number[], seed: number) {
  const rand = mulberry32(seed);
  const rows: CreditTestRow[] = [];
  for (let b = 0; b < borrowers; b++) {
    const truePd = 0.04 + 0.1 * rand();
    const ead = 50_000 + 450_000 * rand();
    const lgd = 0.2 + 0.4 * rand();
    const hazard = -Math.log(1 - truePd) / HORIZON;
    const defaultAt = -Math.log(1 - rand()) / hazard;
    const loss = ead * lgd * (ratios[Math.floor(rand() * ratios.length)] as number);
    for (let w = 0; w < 12; w++) {
      const t = w * 7 * DAY;
      if (t >= defaultAt) break;
      const defaults = defaultAt <= t + HORIZON;
      rows.push({
        borrowerId: `b${b}`,
        t,
        pd: truePd * pdScale,
        lgd,
        ead,
        verifiedValue: 0,
        loss: defaults ? loss : 0,
        defaults,
      });
    }
  }
  const vs = elVsLoss(rows);
  const observed = Object.fromEntries([...vs.bands, vs.total].map((b) => [b.grade, b.error]));
  return { rows, observed };
}

const RATIOS = [0.1, 0.5, 1, 1.4, 2];

describe('EL against realised loss under the model (risk/el-null.ts)', () => {
  it('when the PDs and LGDs are right, then each band’s observed error is within its range under the model', () => {
    const w = world(600, 1, RATIOS, 3);
    const n = elUnderModel({ ...w, horizonMs: HORIZON, lossRatios: RATIOS, draws: 400, seed: 1 });
    const banded = n.bands.filter((b) => b.pValue !== undefined);
    expect(banded.map((b) => b.grade).sort()).toEqual(['E', 'F', 'all']);
    for (const b of banded) {
      expect(b.low).toBeLessThan(0);
      expect(b.high).toBeGreaterThan(0);
      expect(b.pValue).toBeGreaterThan(0.05);
    }
  });

  it('when the PDs are 40 % of the truth, then the bands’ EL falls below their range, beyond chance', () => {
    const w = world(600, 0.4, RATIOS, 3);
    const n = elUnderModel({ ...w, horizonMs: HORIZON, lossRatios: RATIOS, draws: 400, seed: 1 });
    // 0.4 × 4–16 % puts the reported PDs in grades C–E.
    const banded = n.bands.filter((b) => b.pValue !== undefined && b.medianDefaults >= 10);
    expect(banded.length).toBeGreaterThan(0);
    for (const b of banded) {
      expect(w.observed[b.grade]).toBeLessThan(b.low);
      expect(b.pValue).toBeLessThan(0.05);
    }
  });

  it('when past defaults’ losses strayed from their LGD, then the range widens; with more borrowers it narrows', () => {
    const w = world(600, 1, RATIOS, 5);
    const spread = elUnderModel({ ...w, horizonMs: HORIZON, lossRatios: RATIOS, draws: 300, seed: 2 });
    const exact = elUnderModel({ ...w, horizonMs: HORIZON, lossRatios: [], draws: 300, seed: 2 });
    const width = (n: typeof exact, g: string) => {
      const b = n.bands.find((x) => x.grade === g);
      if (b === undefined) throw new Error(`no band ${g}`);
      return b.high - b.low;
    };
    expect(exact.lossRatios).toBe(0);
    expect(width(spread, 'F')).toBeGreaterThan(width(exact, 'F'));
    const big = world(6_000, 1, RATIOS, 5);
    const wide = elUnderModel({ ...big, horizonMs: HORIZON, lossRatios: RATIOS, draws: 100, seed: 2 });
    expect(width(wide, 'F')).toBeLessThan(width(spread, 'F') / 2);
    expect(wide.bands.find((b) => b.grade === 'F')?.shareWithin).toBeGreaterThan(
      spread.bands.find((b) => b.grade === 'F')?.shareWithin ?? 1,
    );
  });

  it('when the horizon is not positive, then it is refused', () => {
    expect(() =>
      elUnderModel({ rows: [], horizonMs: 0, lossRatios: [], observed: {}, draws: 1, seed: 1 }),
    ).toThrow(/horizonMs/);
  });
});
