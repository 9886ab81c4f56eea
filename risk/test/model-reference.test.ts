import { describe, expect, it } from 'vitest';
import { buildReference, checkReference, driftAgainst } from '../monitoring/reference.js';

/** 1000 values spread evenly over [0, 1): each reference decile holds exactly 100. */
const uniform = Array.from({ length: 1000 }, (_, i) => (i + 0.5) / 1000);
const inDeciles = (counts: readonly number[]) =>
  counts.flatMap((c, b) => new Array<number>(c).fill(b / 10 + 0.05));

describe('a model reference and drift against it', () => {
  it('when the current population is the training one, then every PSI is 0 and the band stable', () => {
    const ref = buildReference({ inputs: { a: uniform }, scores: uniform }, 'training', 1);
    const d = driftAgainst(ref, { inputs: { a: uniform }, scores: uniform });
    expect(d).toMatchObject({ band: 'stable', shifted: [], population: 1000 });
    expect(d.inputs.a?.psi).toBe(0);
    expect(d.score.psi).toBe(0);
  });

  it('when half the deciles of an input hold 5 % and half 15 %, then its PSI is 0.25·ln 3 and the band major', () => {
    const ref = buildReference({ inputs: { a: uniform, b: uniform }, scores: uniform }, 'training', 1);
    const moved = inDeciles([50, 150, 50, 150, 50, 150, 50, 150, 50, 150]);
    const d = driftAgainst(ref, { inputs: { a: moved, b: uniform }, scores: uniform });
    expect(d.inputs.a?.psi).toBeCloseTo(0.25 * Math.log(3), 12);
    expect(d).toMatchObject({ band: 'major', shifted: ['a'], worstInput: { name: 'a' } });
  });

  it('when an input goes missing more often, then the missing bin carries the shift: 30 % → 60 % missing of an unchanged spread', () => {
    const withMissing = (share: number) => [
      ...new Array<null>(1000 * share).fill(null),
      ...uniform.filter((_, i) => i % 10 < 10 - 10 * share),
    ];
    const ref = buildReference({ inputs: { a: withMissing(0.3) }, scores: uniform }, 'training', 1);
    expect(ref.inputs.a?.missingShare).toBeCloseTo(0.3, 12);
    const d = driftAgainst(ref, { inputs: { a: withMissing(0.6) }, scores: uniform });
    // Missing 0.3 → 0.6; each of 10 value bins 0.07 → 0.04 (the present values keep their spread).
    const expected = 0.3 * Math.log(2) + 10 * -0.03 * Math.log(0.04 / 0.07);
    expect(d.inputs.a?.psi).toBeCloseTo(expected, 10);
    expect(d.inputs.a).toMatchObject({ missingReference: 0.3, missingCurrent: 0.6, band: 'major' });
  });

  it('when an input the reference never saw a value of starts reporting, then the shift shows; an input the population lacks counts as all missing', () => {
    const none = new Array<null>(100).fill(null);
    const ref = buildReference(
      { inputs: { a: none, b: uniform.slice(0, 100) }, scores: uniform.slice(0, 100) },
      'training',
      1,
    );
    const d = driftAgainst(ref, { inputs: { a: uniform.slice(0, 100) }, scores: uniform.slice(0, 100) });
    expect(d.inputs.a?.band).toBe('major');
    expect(d.inputs.b).toMatchObject({ missingCurrent: 1, band: 'major' });
  });

  it('when a stored reference is malformed, then it is refused with the reason', () => {
    const ref = buildReference({ inputs: { a: uniform }, scores: uniform }, 'training', 1);
    expect(checkReference(JSON.parse(JSON.stringify(ref)), 'm')).toEqual(ref);
    expect(() => checkReference({ ...ref, source: 'guess' }, 'm')).toThrow(/unknown source/);
    expect(() => checkReference({ ...ref, score: { cuts: [2, 1], shares: [0.3, 0.3, 0.4] } }, 'm')).toThrow(
      /score bins/,
    );
  });
});
