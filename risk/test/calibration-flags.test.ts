import { describe, expect, it } from 'vitest';
import { UsageError } from '../../core/cli.js';
import { calibrationFlags } from '../calibration-flags.js';

/** `--calibration` and `--pd-floor` of `riskfuse evaluate` and `riskfuse train` (risk/calibration-flags.ts). */
describe('calibration flags', () => {
  it('when no flag is given, then Platt and the configured floor (RISK_PD_FLOOR) are used', () => {
    expect(calibrationFlags(undefined, undefined, 0.0005)).toEqual({ calibration: 'platt', pdFloor: 0.0005 });
    expect(calibrationFlags(undefined, undefined)).toEqual({ calibration: 'platt', pdFloor: 0.0003 });
    expect(calibrationFlags(undefined, undefined, 0.0003, 'platt-hazard')).toEqual({
      calibration: 'platt-hazard',
      pdFloor: 0.0003,
    });
  });

  it('when the flags are given, then they win over the configured floor', () => {
    expect(calibrationFlags('isotonic', '0.001', 0.0005)).toEqual({
      calibration: 'isotonic',
      pdFloor: 0.001,
    });
    expect(calibrationFlags('none', '0')).toEqual({ calibration: 'none', pdFloor: 0 });
  });

  it('when a flag is bad, then a usage error names it and its value', () => {
    expect(() => calibrationFlags('beta', undefined)).toThrow(UsageError);
    expect(() => calibrationFlags('beta', undefined)).toThrow(
      /--calibration must be platt-hazard, platt, isotonic, none, got "beta"/,
    );
    for (const bad of ['', ' ', '-0.1', '0.5', 'abc', 'NaN'])
      expect(() => calibrationFlags(undefined, bad)).toThrow(
        /--pd-floor must be a probability in \[0, 0.5\)/,
      );
  });
});
