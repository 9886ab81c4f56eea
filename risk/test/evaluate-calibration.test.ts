import { describe, expect, it } from 'vitest';
import { calibrationFigures, cohortFigures } from '../evaluate-calibration.js';
import { miscalibrated } from './synthetic.js';

/** The calibration figures of `riskfuse evaluate` per model (risk/evaluate-calibration.ts). */

describe('calibration figures', () => {
  const slice = miscalibrated(5_000, 1);
  const test = miscalibrated(5_000, 2);
  const figures = calibrationFigures({
    method: 'platt',
    pdFloor: 0.0003,
    zCal: slice.z,
    yCal: slice.y,
    zTest: test.z,
    yTest: test.y,
    // 50 rows per "borrower", as a borrower's weekly rows.
    groups: Array.from(test.z, (_, i) => `b${Math.floor(i / 50)}`),
    seed: 7,
    iterations: 200,
  });

  it('when the model is miscalibrated and the slice holds the truth, then the chosen method fixes the test ECE and the before-figures show the miscalibration', () => {
    expect(figures.calibration.method).toBe('platt');
    expect(figures.eceRaw).toBeGreaterThan(0.05);
    expect(figures.ece).toBeLessThan(0.015);
    expect(figures.maxDecileRatio).toBeLessThan(figures.maxDecileRatioRaw);
    expect(Math.min(...figures.p)).toBeGreaterThanOrEqual(0.0003);
    expect(figures.slice).toEqual({ rows: 5_000, defaults: slice.y.reduce((s, v) => s + v, 0) });
  });

  it('when the figures are reported, then each comes with a borrower-bootstrap interval around it and the per-decile check agrees with the worst factor', () => {
    expect(figures.eceCi[0]).toBeLessThanOrEqual(figures.ece);
    expect(figures.eceCi[1]).toBeGreaterThanOrEqual(figures.ece);
    expect(figures.maxDecileRatioCi[0]).toBeLessThanOrEqual(figures.maxDecileRatio);
    expect(figures.maxDecileRatioCi[1]).toBeGreaterThanOrEqual(figures.maxDecileRatio);
    // Rows tied at the floor share a bin: fewer than 10 deciles then, the same ones as the reliability table.
    expect(figures.deciles.deciles.map((d) => d.count)).toEqual(figures.reliability.map((b) => b.count));
    expect(figures.deciles.worstRatio).toBeCloseTo(figures.maxDecileRatio, 6);
    expect(figures.deciles.monotone).toBe(true);
  });

  it('when every method is fitted on the same slice, then the table lists each once, the chosen one with the same figures, and monotone maps keep the AUC', () => {
    expect(figures.methods.map((m) => m.method)).toEqual(['platt-hazard', 'platt', 'isotonic', 'none']);
    const [hazard, platt, isotonic, none] = figures.methods;
    // A background hazard is a monotone map too: same ranking.
    expect(hazard?.auc).toBeCloseTo(none?.auc ?? 0, 12);
    expect(platt?.ece).toBe(figures.ece);
    expect(platt?.auc).toBeCloseTo(none?.auc ?? 0, 12);
    // Isotonic ties rows inside a block: its AUC may differ slightly, never much.
    expect(Math.abs((isotonic?.auc ?? 0) - (none?.auc ?? 0))).toBeLessThan(0.01);
    expect(none?.ece).toBeGreaterThan(0.05);
  });
});

describe('cohort view', () => {
  it('when a defaulting borrower repeats at every weekly date, then the cohort counts it once, at the reference date only', () => {
    const week = 7 * 86_400_000;
    const at = 100 * week;
    // b1 defaults and has 10 weekly rows; b2…b10 do not, one row each at the reference date.
    const rows = [
      ...Array.from({ length: 10 }, (_, k) => ({ p: 0.05, y: 1, t: at + k * week })),
      ...Array.from({ length: 9 }, () => ({ p: 0.05, y: 0, t: at })),
    ];
    const c = cohortFigures(
      rows.map((r) => r.p),
      rows.map((r) => r.y),
      rows.map((r) => r.t),
      at,
    );
    expect(c.borrowers).toBe(10);
    expect(c.defaults).toBe(1);
    expect(c.observedRate).toBeCloseTo(0.1, 12);
    expect(c.meanPd).toBeCloseTo(0.05, 12);
    // The weekly rows say 10 defaults in 19 (0.53); the cohort says 1 in 10.
    expect(c.deciles.deciles.reduce((s, d) => s + d.count, 0)).toBe(10);
  });

  it('when the reference date is given to the calibration figures, then they carry the cohort of the same PDs', () => {
    const slice = miscalibrated(2_000, 3);
    const test = miscalibrated(2_000, 4);
    const t = Array.from(test.z, (_, i) => (i % 2 === 0 ? 0 : 1));
    const f = calibrationFigures({
      method: 'platt',
      pdFloor: 0,
      zCal: slice.z,
      yCal: slice.y,
      zTest: test.z,
      yTest: test.y,
      groups: Array.from(test.z, (_, i) => `b${i}`),
      seed: 1,
      iterations: 20,
      cohort: { t, atMs: 0 },
    });
    expect(f.cohort?.borrowers).toBe(1_000);
    expect(f.cohort?.defaults).toBe(test.y.filter((_, i) => i % 2 === 0).reduce((s, v) => s + v, 0));
  });
});
