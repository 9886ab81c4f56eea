import { describe, expect, it } from 'vitest';
import { backtestFigures, labelObservations } from '../monitoring/backtest.js';

const DAY = 86_400_000;
const T0 = Date.UTC(2025, 0, 1);
const NOW = T0 + 400 * DAY;
const H = 180 * DAY;

/** A hand-built outcome set: who defaulted when, and what the model said before. */
const obs = [
  { borrowerId: 'b1', at: T0, pd: 0.1, grade: 'F' }, // defaults 10 days later: 1
  { borrowerId: 'b2', at: T0, pd: 0.02, grade: 'D' }, // never defaults, horizon over: 0
  { borrowerId: 'b3', at: T0, pd: 0.15, grade: 'F' }, // defaults after its horizon: 0
  { borrowerId: 'b4', at: T0, pd: 0.2, grade: 'G' }, // defaults within: 1
  { borrowerId: 'b5', at: T0, pd: 0.01, grade: 'C' }, // 0
  { borrowerId: 'b6', at: NOW - 10 * DAY, pd: 0.3, grade: 'G' }, // horizon open, no default: pending
  { borrowerId: 'b7', at: T0, pd: 0.5, grade: 'G' }, // already defaulted when scored: dropped
  { borrowerId: 'b8', at: NOW - 10 * DAY, pd: 0.4, grade: 'G' }, // defaulted 5 days ago: 1, known early
];
const defaults = new Map([
  ['b1', T0 + 10 * DAY],
  ['b3', T0 + 200 * DAY],
  ['b4', T0 + 100 * DAY],
  ['b7', T0 - DAY],
  ['b8', NOW - 5 * DAY],
]);

describe('backtest on outcomes as they arrive', () => {
  it('when outcomes are known for some scores, then each is labelled by default within the horizon, open horizons are pending and defaulted borrowers dropped', () => {
    const { labelled, pending } = labelObservations(obs, defaults, H, NOW);
    expect(labelled.map((o) => [o.borrowerId, o.label])).toEqual([
      ['b1', 1],
      ['b2', 0],
      ['b3', 0],
      ['b4', 1],
      ['b5', 0],
      ['b8', 1],
    ]);
    expect(pending).toBe(1);
  });

  it('when the hand-built set is judged, then AUC, KS and the per-grade predicted vs observed rates are the hand-computed ones', () => {
    const { labelled, pending } = labelObservations(obs, defaults, H, NOW);
    const f = backtestFigures(labelled, pending);
    // Positives 0.4, 0.2, 0.1; negatives 0.15, 0.02, 0.01: 8 of the 9 pairs ordered right.
    expect(f.auc).toBeCloseTo(8 / 9, 12);
    // Descending: P P N P N N → max |TPR − FPR| = 2/3 (after the second and after the fourth).
    expect(f.ks).toBeCloseTo(2 / 3, 12);
    expect(f).toMatchObject({ observations: 7, labelled: 6, pending: 1, defaults: 3, observedRate: 0.5 });
    expect(f.meanPd).toBeCloseTo((0.1 + 0.02 + 0.15 + 0.2 + 0.01 + 0.4) / 6, 12);
    expect(f.grades.map((g) => [g.grade, g.count, g.defaults, g.observedRate])).toEqual([
      ['C', 1, 0, 0],
      ['D', 1, 0, 0],
      ['F', 2, 1, 0.5],
      ['G', 2, 2, 1],
    ]);
    expect(f.grades.find((g) => g.grade === 'F')?.meanPd).toBeCloseTo(0.125, 12);
    expect(f.grades.find((g) => g.grade === 'G')?.meanPd).toBeCloseTo(0.3, 12);
  });

  it('when no outcome is known yet or only one class is, then AUC and KS are null, not a number made up', () => {
    expect(backtestFigures([], 4)).toMatchObject({
      labelled: 0,
      pending: 4,
      auc: null,
      ks: null,
      meanPd: null,
    });
    const allGood = labelObservations([obs[1]!, obs[4]!], defaults, H, NOW).labelled;
    expect(backtestFigures(allGood)).toMatchObject({ labelled: 2, defaults: 0, auc: null, ks: null });
  });
});
