import { describe, expect, it } from 'vitest';
import { calibrationFigures } from '../evaluate-calibration.js';
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
