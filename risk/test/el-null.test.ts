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
  const judged = vs.bands.filter((b) => b.withinTolerance !== undefined).map((b) => b.grade);
  return { rows, observed, judged };
}

const RATIOS = [0.1, 0.5, 1, 1.4, 2];

describe('EL against realised loss under the model (risk/el-null.ts)', () => {
  it('when the PDs and LGDs are right, then each band’s observed error is within its range under the model', () => {
    const w = world(600, 1, RATIOS, 3);
    const n = elUnderModel({ ...w, lossRatios: RATIOS, draws: 400, seed: 1 });
    const banded = n.bands.filter((b) => b.pValue !== undefined);
    expect(banded.map((b) => b.grade).sort()).toEqual(['E', 'F', 'all']);
    // The aim's "every judged band at once" is no likelier than its least likely band.
    expect(w.judged.length).toBeGreaterThan(0);
    const least = Math.min(...n.bands.filter((b) => w.judged.includes(b.grade)).map((b) => b.shareWithin));
    expect(n.shareAllWithin).toBeLessThanOrEqual(least);
    for (const b of banded) {
      expect(b.low).toBeLessThan(0);
      expect(b.high).toBeGreaterThan(0);
      expect(b.pValue).toBeGreaterThan(0.05);
    }
  });

  it('when the PDs are 40 % of the truth, then the bands’ EL falls below their range, beyond chance', () => {
    const w = world(600, 0.4, RATIOS, 3);
    const n = elUnderModel({ ...w, lossRatios: RATIOS, draws: 400, seed: 1 });
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
    const spread = elUnderModel({ ...w, lossRatios: RATIOS, draws: 300, seed: 2 });
    const exact = elUnderModel({ ...w, lossRatios: [], draws: 300, seed: 2 });
    const width = (n: typeof exact, g: string) => {
      const b = n.bands.find((x) => x.grade === g);
      if (b === undefined) throw new Error(`no band ${g}`);
      return b.high - b.low;
    };
    expect(exact.lossRatios).toBe(0);
    expect(width(spread, 'F')).toBeGreaterThan(width(exact, 'F'));
    const big = world(6_000, 1, RATIOS, 5);
    const wide = elUnderModel({ ...big, lossRatios: RATIOS, draws: 100, seed: 2 });
    expect(width(wide, 'F')).toBeLessThan(width(spread, 'F') / 2);
    expect(wide.bands.find((b) => b.grade === 'F')?.shareWithin).toBeGreaterThan(
      spread.bands.find((b) => b.grade === 'F')?.shareWithin ?? 1,
    );
  });

  it('when past defaults’ ratios average away from 1, then only their spread counts: the range is as for the same ratios scaled to mean 1', () => {
    const w = world(600, 1, RATIOS, 7);
    const scaled = elUnderModel({
      ...w,
      lossRatios: RATIOS.map((r) => r * 3),
      draws: 200,
      seed: 4,
    });
    const plain = elUnderModel({ ...w, lossRatios: RATIOS, draws: 200, seed: 4 });
    for (const b of plain.bands) {
      const s = scaled.bands.find((x) => x.grade === b.grade);
      expect(s?.low).toBeCloseTo(b.low, 9);
      expect(s?.high).toBeCloseTo(b.high, 9);
    }
  });

  it('when a borrower’s PD and LGD rise week by week towards its default, then every band’s range under the model still straddles zero', () => {
    // Each row predicts its own loss given default; a band of early rows must not be judged by the LGD of the
    // row just before default.
    const rand = mulberry32(9);
    const rows: CreditTestRow[] = [];
    for (let b = 0; b < 2_000; b++) {
      const ead = 50_000 + 450_000 * rand();
      for (let w = 0; w < 12; w++) {
        const pd = 0.012 * 1.3 ** w;
        rows.push({
          borrowerId: `b${b}`,
          t: w * 7 * DAY,
          pd,
          lgd: 0.05 + 0.05 * w,
          ead,
          verifiedValue: 0,
          loss: 0,
          defaults: false,
        });
      }
    }
    const n = elUnderModel({ rows, lossRatios: [], observed: {}, judged: [], draws: 200, seed: 3 });
    const judged = n.bands.filter((b) => b.medianDefaults >= 10 && b.grade !== 'all');
    expect(judged.length).toBeGreaterThanOrEqual(3);
    for (const b of judged)
      expect({ grade: b.grade, straddles: b.low < 0 && b.high > 0 }).toEqual({
        grade: b.grade,
        straddles: true,
      });
  });
});
