import { describe, expect, it } from 'vitest';
import { expectedCalibrationError, reliabilityTable } from '../metrics.js';
import { applyCalibration, calibratedPd, checkCalibration, fitCalibration } from '../model/calibration.js';
import { miscalibrated } from './synthetic.js';

/** Recalibration on held-out rows and the PD floor (model/calibration.ts). */

const sigmoid = (z: number): number => 1 / (1 + Math.exp(-z));

describe('ECE and the reliability table', () => {
  it('when PDs are known, then the table and the ECE are the hand-computed ones', () => {
    // Two equal-count bins: PDs 0.1 (observed 1 of 4) and 0.5 (observed 3 of 4).
    const p = [0.1, 0.1, 0.1, 0.1, 0.5, 0.5, 0.5, 0.5];
    const y = [0, 0, 1, 0, 1, 1, 0, 1];
    const table = reliabilityTable(p, y, 2, 'quantile');
    expect(table.map((b) => [b.count, b.meanPredicted, b.observedRate])).toEqual([
      [4, 0.1, 0.25],
      [4, 0.5, 0.75],
    ]);
    // (4·|0.1 − 0.25| + 4·|0.5 − 0.75|) / 8 = 0.2
    expect(expectedCalibrationError(p, y, 2, 'quantile')).toBeCloseTo(0.2, 12);
  });
});

describe('recalibration', () => {
  const fit = miscalibrated(20_000, 1);
  const test = miscalibrated(20_000, 2);
  const ece = (p: ArrayLike<number>) => expectedCalibrationError(p, test.y, 10, 'quantile');
  const before = ece(applyCalibration(test.z, undefined));

  it('when Platt scaling is fitted on one held-out set, then the ECE on another falls to near zero and the slope is recovered', () => {
    const c = fitCalibration('platt', fit.z, fit.y);
    if (c.method !== 'platt') throw new Error('expected platt');
    expect(c.b).toBeCloseTo(2, 0);
    expect(c.a).toBeCloseTo(-3, 0);
    const after = ece(applyCalibration(test.z, c));
    expect(before).toBeGreaterThan(0.05);
    expect(after).toBeLessThan(0.01);
  });

  it('when isotonic regression is fitted, then its PDs are monotone in the logit and the held-out ECE falls', () => {
    const c = fitCalibration('isotonic', fit.z, fit.y);
    const grid = Array.from({ length: 200 }, (_, i) => -5 + i * 0.035);
    const pds = grid.map((z) => calibratedPd(z, c));
    pds.forEach((p, i) => i > 0 && expect(p).toBeGreaterThanOrEqual(pds[i - 1] as number));
    expect(ece(applyCalibration(test.z, c))).toBeLessThan(0.015);
  });

  it('when the held-out logits rank the wrong way, then Platt keeps the slope at 0 (one PD, the smoothed rate) rather than inverting the ranking', () => {
    // Defaults at the low logits: the unconstrained fit has b < 0.
    const z = Float64Array.from({ length: 400 }, (_, i) => i / 100);
    const y = Uint8Array.from(z, (v, i) => (v < 1 && i % 5 === 0 ? 1 : 0));
    const c = fitCalibration('platt', z, y);
    if (c.method !== 'platt') throw new Error('expected platt');
    expect(c.b).toBe(0);
    // 20 defaults in 400 with Platt's targets: (20·21/22 + 380·1/382) / 400.
    expect(calibratedPd(0, c)).toBeCloseTo((20 * (21 / 22) + 380 / 382) / 400, 12);
    expect(calibratedPd(3, c)).toBe(calibratedPd(0, c));
  });

  it('when a PD floor is set, then no PD is below it and higher PDs are unchanged', () => {
    const c = fitCalibration('platt', fit.z, fit.y);
    const p = applyCalibration(test.z, c, 0.0003);
    expect(Math.min(...p)).toBe(0.0003);
    const unfloored = applyCalibration(test.z, c);
    p.forEach((v, i) => (unfloored[i] as number) >= 0.0003 && expect(v).toBe(unfloored[i]));
  });

  it('when no calibration was saved (an old model), then the PD is σ(logit)', () => {
    expect(calibratedPd(-2, undefined)).toBeCloseTo(sigmoid(-2), 15);
    expect(calibratedPd(-12, undefined, 0.0005)).toBe(0.0005);
  });

  it('when a saved calibration is malformed, then checking it names the problem', () => {
    expect(() => checkCalibration({ method: 'platt-hazard', a: -3, b: 2, h0: -0.01 }, 'm')).toThrow(
      /platt-hazard needs/,
    );
    expect(checkCalibration({ method: 'platt-hazard', a: -3, b: 2, h0: 0.01 }, 'm')).toEqual({
      method: 'platt-hazard',
      a: -3,
      b: 2,
      h0: 0.01,
    });
    expect(() => checkCalibration({ method: 'platt', a: 1 }, 'model x')).toThrow(
      /model x: calibration platt/,
    );
    expect(() => checkCalibration({ method: 'isotonic', logits: [1, 0], pds: [0.1, 0.2] }, 'm')).toThrow(
      /ascending/,
    );
    expect(() => checkCalibration({ method: 'beta' }, 'm')).toThrow(/unknown/);
  });
});

describe('recalibration with a background hazard (platt-hazard)', () => {
  /** Defaults the logit sees (σ(2z − 3)) plus, independently, 1 % whose cause the logit cannot see. */
  function withBackground(n: number, seed: number, h0: number): { z: Float64Array; y: Uint8Array } {
    const { z } = miscalibrated(n, seed);
    let s = seed * 7919 + 17;
    const random = (): number => {
      s = (s * 1_103_515_245 + 12_345) % 2_147_483_648;
      return s / 2_147_483_648;
    };
    const y = Uint8Array.from(z, (v) => (random() < 1 - (1 - sigmoid(2 * v - 3)) * (1 - h0) ? 1 : 0));
    return { z, y };
  }
  const lowestDecile = (p: ArrayLike<number>, y: ArrayLike<number>) =>
    reliabilityTable(p, y, 10, 'quantile')[0] as { meanPredicted: number; observedRate: number };

  it('when 1 % of defaults have a cause the logit cannot see, then h0 ≈ 0.01 is recovered and the safest decile is no longer under-predicted, where plain Platt is', () => {
    const fit = withBackground(40_000, 3, 0.01);
    const test = withBackground(40_000, 4, 0.01);
    const c = fitCalibration('platt-hazard', fit.z, fit.y);
    if (c.method !== 'platt-hazard') throw new Error('expected platt-hazard');
    expect(c.h0).toBeGreaterThan(0.006);
    expect(c.h0).toBeLessThan(0.014);
    expect(c.b).toBeCloseTo(2, 0);
    const low = lowestDecile(applyCalibration(test.z, c), test.y);
    expect(low.observedRate / low.meanPredicted).toBeLessThan(1.5);
    const plain = lowestDecile(applyCalibration(test.z, fitCalibration('platt', fit.z, fit.y)), test.y);
    expect(plain.observedRate / plain.meanPredicted).toBeGreaterThan(2);
  });

  it('when there is no background hazard, then h0 stays near 0 and the map is Platt’s', () => {
    const c = fitCalibration('platt-hazard', fit0.z, fit0.y);
    const p = fitCalibration('platt', fit0.z, fit0.y);
    if (c.method !== 'platt-hazard' || p.method !== 'platt') throw new Error('expected both fits');
    expect(c.h0).toBeLessThan(0.002);
    expect(c.b).toBeCloseTo(p.b, 1);
  });

  it('when fitted, then the PD is monotone in the logit and never below h0', () => {
    const fit = withBackground(20_000, 5, 0.02);
    const c = fitCalibration('platt-hazard', fit.z, fit.y);
    if (c.method !== 'platt-hazard') throw new Error('expected platt-hazard');
    const grid = Array.from({ length: 400 }, (_, i) => -20 + i * 0.1);
    const pds = grid.map((z) => calibratedPd(z, c));
    pds.forEach((v, i) => {
      expect(v).toBeGreaterThanOrEqual(c.h0);
      if (i > 0) expect(v).toBeGreaterThanOrEqual(pds[i - 1] as number);
    });
  });
});

const fit0 = miscalibrated(20_000, 1);
