import { describe, expect, it } from 'vitest';
import { crossFittedLogits } from '../cross-fit.js';
import type { LabelledRow } from '../features/dataset.js';
import { FEATURE_NAMES } from '../features/spec.js';
import { mulberry32 } from '../../core/random.js';
import { auc } from '../metrics.js';
import { gaussian } from './synthetic.js';

/** Cross-fitted logits for the fused network's recalibration (risk/cross-fit.ts). */

const WEEK = 7 * 86_400_000;

/** Weekly rows of `borrowers` borrowers over 12 weeks; the label follows the first feature. */
function rows(borrowers: number, seed: number): LabelledRow[] {
  const rand = mulberry32(seed);
  const normal = gaussian(rand);
  const out: LabelledRow[] = [];
  for (let b = 0; b < borrowers; b++) {
    for (let w = 0; w < 12; w++) {
      const values = Float64Array.from(FEATURE_NAMES, () => normal());
      const logit = -3 + 1.5 * (values[0] as number);
      out.push({
        borrowerId: `b${b}`,
        t: w * WEEK,
        values,
        status: { active: true, outstanding: 1000 },
        label: rand() < 1 / (1 + Math.exp(-logit)) ? 1 : 0,
      });
    }
  }
  return out;
}

const index = (id: string): number => Number(id.slice(1));
/** Borrower b's unit: b / borrowers, so group g of 4 is the borrowers of the g-th quarter. */
const unitOf =
  (borrowers: number) =>
  (id: string): number =>
    index(id) / borrowers;

describe('cross-fitted logits', () => {
  const data = rows(400, 3);
  const trainTimes = new Set(data.filter((r) => r.t % (2 * WEEK) === 0).map((r) => r.t));
  const base = {
    trainTimes,
    unit: unitOf(400),
    kind: 'logistic' as const,
    seed: 42,
    maxEpochs: 30,
  };

  it('when every row is cross-fitted, then each gets a logit that ranks the defaults as a held-out model would', async () => {
    const { z, y, folds } = await crossFittedLogits({ ...base, rows: data });
    expect(folds).toBe(4);
    expect(z).toHaveLength(data.length);
    expect(y).toEqual(Uint8Array.from(data, (r) => r.label));
    expect(z.every((v) => Number.isFinite(v) && v !== 0)).toBe(true);
    expect(auc(z, y)).toBeGreaterThan(0.72);
  }, 60_000);

  it("when one group's labels are flipped, then that group's own logits do not change: no network scores a borrower it trained on", async () => {
    const before = await crossFittedLogits({ ...base, rows: data });
    // Group 0 = the first quarter of the borrowers.
    const inGroup0 = (r: LabelledRow): boolean => index(r.borrowerId) < 100;
    const flipped = data.map((r) => (inGroup0(r) ? { ...r, label: (1 - r.label) as 0 | 1 } : r));
    const after = await crossFittedLogits({ ...base, rows: flipped });
    let same = 0;
    let moved = 0;
    data.forEach((r, i) => {
      if (inGroup0(r)) {
        if (after.z[i] === before.z[i]) same++;
      } else if (after.z[i] !== before.z[i]) moved++;
    });
    expect(same).toBe(100 * 12);
    // The other groups' networks trained on the flipped labels: their logits moved.
    expect(moved).toBeGreaterThan(0);
  }, 60_000);

  it('when fewer than three folds are asked for, then it refuses (a network needs a training and a stopping group besides the scored one)', async () => {
    await expect(crossFittedLogits({ ...base, rows: data, folds: 2 })).rejects.toThrow(/≥ 3 folds/);
  });
});
