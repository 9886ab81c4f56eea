import { describe, expect, it } from 'vitest';
import { psi, psiReference, stabilityReport } from '../monitoring/psi.js';

/** 1000 values spread evenly over [0, 1): each reference decile holds exactly 100. */
const uniform = Array.from({ length: 1000 }, (_, i) => (i + 0.5) / 1000);
/** `counts[b]` values in the middle of decile b. */
const inDeciles = (counts: readonly number[]) =>
  counts.flatMap((c, b) => new Array<number>(c).fill(b / 10 + 0.05));

describe('population stability index', () => {
  it('when the current population is the reference itself, then PSI is 0 and the band stable', () => {
    expect(psi(uniform, uniform)).toMatchObject({ psi: 0, band: 'stable' });
  });

  it('when half the deciles hold 5 % and half 15 %, then PSI is 0.25·ln 3 (major shift)', () => {
    const current = inDeciles([50, 150, 50, 150, 50, 150, 50, 150, 50, 150]);
    const r = psi(uniform, current);
    // Σ (a−e)·ln(a/e) = 5·(−0.05)·ln 0.5 + 5·0.05·ln 1.5 = 0.25·ln 3
    expect(r.psi).toBeCloseTo(0.25 * Math.log(3), 12);
    expect(r.band).toBe('major');
    expect(r.bins).toHaveLength(10);
    expect(r.bins[1]).toMatchObject({ referenceShare: 0.1, currentShare: 0.15 });
  });

  it('when a small shift moves 2 % of the population between two deciles, then PSI is small and stable', () => {
    const current = inDeciles([80, 120, 100, 100, 100, 100, 100, 100, 100, 100]);
    const r = psi(uniform, current);
    expect(r.psi).toBeCloseTo(-0.02 * Math.log(0.8) + 0.02 * Math.log(1.2), 12);
    expect(r.band).toBe('stable');
  });

  it('when the current population leaves deciles empty, then they count at epsilon and PSI stays finite', () => {
    const current = inDeciles([1000, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    const eps = 1e-4;
    const expected = 0.9 * Math.log(1 / 0.1) + 9 * (eps - 0.1) * Math.log(eps / 0.1);
    expect(psi(uniform, current, 10, eps).psi).toBeCloseTo(expected, 10);
    expect(psi(uniform, current, 10, 1e-6).psi).toBeGreaterThan(expected);
  });

  it('when the reference has ties (a 0/1 input) or is constant, then bins follow its distinct values and a move still shows', () => {
    const flags = [...new Array<number>(700).fill(0), ...new Array<number>(300).fill(1)];
    expect(psiReference(flags).cuts).toEqual([1]);
    const moved = [...new Array<number>(300).fill(0), ...new Array<number>(700).fill(1)];
    expect(psi(flags, moved).psi).toBeCloseTo(2 * 0.4 * Math.log(0.7 / 0.3), 12);
    expect(psi(new Array<number>(100).fill(5), new Array<number>(100).fill(5)).psi).toBe(0);
    expect(psi(new Array<number>(100).fill(5), new Array<number>(100).fill(6)).band).toBe('major');
  });

  it('when inputs and scores are compared with the training reference, then each gets its PSI and the shifted inputs are listed, most shifted first', () => {
    const shiftedBy = (d: number) => uniform.map((x) => Math.min(0.9999, x + d));
    const r = stabilityReport(
      { inputs: { a: uniform, b: uniform, c: uniform }, scores: uniform },
      { inputs: { a: uniform, b: shiftedBy(0.08), c: shiftedBy(0.3) }, scores: shiftedBy(0.1) },
    );
    expect(r.inputs.a?.psi).toBe(0);
    expect(r.shifted).toEqual(['c', 'b']);
    // 0.08·ln 5 + 0.08·ln 1.8: 8 % leave the first decile for the last.
    expect(r.inputs.b).toMatchObject({ band: 'moderate' });
    expect(r.inputs.b?.psi).toBeCloseTo(0.08 * Math.log(5) + 0.08 * Math.log(1.8), 3);
    expect(r.score.psi).toBeGreaterThan(0.1);
  });

  it('when a population is empty, holds a non-number, or the inputs differ, then a clear validation error is thrown', () => {
    expect(() => psi([], uniform)).toThrow(/no values/);
    expect(() => psi(uniform, [0.1, Number.NaN])).toThrow(/value 1 is not a finite number/);
    expect(() => psi(uniform, uniform, 1)).toThrow(/bins/);
    expect(() =>
      stabilityReport(
        { inputs: { a: uniform }, scores: uniform },
        { inputs: { b: uniform }, scores: uniform },
      ),
    ).toThrow(/same inputs/);
  });
});
