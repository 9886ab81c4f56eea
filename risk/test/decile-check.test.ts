import { describe, expect, it } from 'vitest';
import { betaCdf, betaQuantile, decileCheck } from '../decile-check.js';

/** The per-decile Jeffreys check of the evaluation report (risk/decile-check.ts). */

describe('Beta distribution', () => {
  it('when the CDF and quantiles are computed, then they are the reference values (scipy.stats.beta)', () => {
    expect(betaCdf(0.3, 2, 5)).toBeCloseTo(0.579825, 10);
    // Jeffreys interval of 1 default in 130 rows.
    expect(betaQuantile(0.025, 1.5, 129.5)).toBeCloseTo(0.00083123806438, 12);
    expect(betaQuantile(0.975, 1.5, 129.5)).toBeCloseTo(0.03538381887668, 12);
    expect(betaQuantile(0.975, 177.5, 9780.5)).toBeCloseTo(0.0205139341942, 10);
  });
});

describe('decile check', () => {
  // Two bins of 100 rows: PD 1 % with 1 default, PD 10 % with 30 defaults (PD far too low there).
  const p = [...Array<number>(100).fill(0.01), ...Array<number>(100).fill(0.1)];
  const y = [
    ...Array.from({ length: 100 }, (_, i) => (i === 0 ? 1 : 0)),
    ...Array.from({ length: 100 }, (_, i) => (i < 30 ? 1 : 0)),
  ];

  it('when a decile defaults far more than its PD says, then it is flagged under with its factor, and a decile inside its interval is ok', () => {
    const c = decileCheck(p, y, 2);
    expect(c.deciles.map((d) => [d.count, d.defaults, d.verdict])).toEqual([
      [100, 1, 'ok'],
      [100, 30, 'under'],
    ]);
    expect(c.deciles[1]?.ratio).toBeCloseTo(3, 12);
    expect(c.worstRatio).toBeCloseTo(3, 12);
    expect(c).toMatchObject({ under: 1, over: 0, monotone: true, inversions: 0 });
    const [lo, hi] = c.deciles[1]?.interval ?? [0, 0];
    expect(lo).toBeGreaterThan(0.1);
    expect(hi).toBeLessThan(0.45);
  });

  it('when the observed rate falls from one decile to the next, then the check is not monotone and says whether the fall is beyond the intervals', () => {
    const inverted = decileCheck(p, [...y.slice(100), ...y.slice(0, 100)], 2);
    expect(inverted).toMatchObject({ monotone: false, inversions: 1, significantInversions: 1, over: 1 });
    // 3 then 2 defaults in 100: a fall, but well inside the noise.
    const noisy = decileCheck(
      p,
      [...[1, 1, 1], ...Array<number>(97).fill(0), 1, 1, ...Array<number>(98).fill(0)],
      2,
    );
    expect(noisy).toMatchObject({ monotone: false, inversions: 1, significantInversions: 0 });
  });

  it('when a decile has no default, then it has no factor (it does not count as infinitely off) and its interval starts at 0', () => {
    const c = decileCheck(Array<number>(50).fill(0.001), Array<number>(50).fill(0), 1);
    expect(c.deciles[0]).toMatchObject({ defaults: 0, verdict: 'ok' });
    expect(c.deciles[0]?.ratio).toBeUndefined();
    expect(c.deciles[0]?.interval[0]).toBe(0);
    expect(c.worstRatio).toBe(1);
  });
});
