import { describe, expect, it } from 'vitest';
import { fraudScenarios, WORLD_RECOVERY } from '../fraud-credit.js';
import { creditGroundTruth, type CreditOutcome } from '../ground-truth.js';
import type { ScenarioSpec } from '../scenarios.js';
import { generateWorld } from '../world.js';
import { DAY_MS, START_MS } from './support.js';

/**
 * The world tells the truth about fraud (fraud-credit.ts): a collateral fraud raises the borrower's chance of
 * default, and a fraud borrower's default loses more of its exposure than a clean one, because the goods are
 * gone and their title contested.
 */
const DAYS = 420;
const N = 160;
const ids = Array.from({ length: N }, (_, i) => `b${String(i + 1).padStart(4, '0')}`);
// Removals and spoofs on the first 40 borrowers, in the first two months.
const frauds: ScenarioSpec[] = ids.slice(0, 40).map((target, i) => ({
  kind: i % 2 === 0 ? 'removal' : 'spoof',
  target,
  startDay: 20 + (i % 40),
}));
const toMs = START_MS + DAYS * DAY_MS;
const lossRate = (xs: readonly CreditOutcome[]) =>
  xs.reduce((s, d) => s + d.loss, 0) / xs.reduce((s, d) => s + d.ead, 0);

describe('credit ground truth', () => {
  const world = generateWorld({ seed: 7, borrowers: N, startMs: START_MS, scenarios: frauds });
  const truth = creditGroundTruth(world, toMs);
  const fraudIds = new Set(ids.slice(0, 40));

  it('when fraud borrowers default, then they default more often and lose a larger share of their exposure than clean defaulters', () => {
    const quiet = creditGroundTruth(
      generateWorld({ seed: 7, borrowers: N, startMs: START_MS, scenarios: frauds, fraudDefaults: false }),
      toMs,
    );
    const fraudDefaults = truth.defaults.filter((d) => fraudIds.has(d.borrowerId));
    const clean = truth.defaults.filter((d) => !fraudIds.has(d.borrowerId));
    // The same frauds without their financial failure: the default count among those borrowers falls.
    const quietFraudDefaults = quiet.defaults.filter((d) => fraudIds.has(d.borrowerId)).length;
    expect(fraudDefaults.length).toBeGreaterThanOrEqual(quietFraudDefaults + 10);
    expect(fraudDefaults.length / 40).toBeGreaterThan((clean.length / (N - 40)) * 3);
    expect(clean.length).toBeGreaterThan(0);
    expect(fraudDefaults.every((d) => d.fraud !== undefined && d.fraud.onsetMs < d.defaultedAt)).toBe(true);
    expect(clean.every((d) => d.fraud === undefined)).toBe(true);
    expect(lossRate(fraudDefaults)).toBeGreaterThan(lossRate(clean) + 0.2);
  });

  it('when a default is recorded, then its loss is its EAD less what the collateral present recovers', () => {
    expect(truth.defaults.length).toBeGreaterThan(10);
    for (const d of truth.defaults) {
      expect(d.ead).toBeGreaterThan(0);
      expect(d.recovery).toBeLessThanOrEqual(d.ead + 1e-9);
      expect(d.recovery).toBeLessThanOrEqual(
        d.collateralValue * WORLD_RECOVERY.recoveryRate * (1 - WORLD_RECOVERY.liquidationCost) + 1e-9,
      );
      expect(d.loss).toBeCloseTo(d.ead - d.recovery, 6);
      expect(d.defaultedAt).toBeLessThan(toMs);
    }
    // The frauds are all seen, defaulting or not, at their first device-visible effect.
    expect(truth.frauds.size).toBe(40);
  });

  it('when frauds are drawn at a rate, then about that share of borrowers commits one, the same for the same seed', () => {
    const many = Array.from({ length: 4000 }, (_, i) => `b${i}`);
    const a = fraudScenarios(many, { seed: 3, ratePerYear: 0.1, days: 395 });
    expect(a).toEqual(fraudScenarios(many, { seed: 3, ratePerYear: 0.1, days: 395 }));
    expect(a.length / many.length).toBeGreaterThan(0.08);
    expect(a.length / many.length).toBeLessThan(0.11);
    expect(new Set(a.map((s) => s.kind))).toEqual(new Set(['removal', 'moved', 'spoof', 'tamper']));
    expect(a.every((s) => s.startDay >= 30 && s.startDay <= 395)).toBe(true);
  });
});
