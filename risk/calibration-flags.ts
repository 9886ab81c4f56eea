import { UsageError } from '../core/cli.js';
import { DEFAULT_PD_FLOOR, type CalibrationMethod } from './model/calibration.js';

/**
 * `--calibration` and `--pd-floor`, shared by `riskfuse train` and `riskfuse evaluate` so both accept and
 * refuse the same values. `defaultFloor` is RISK_PD_FLOOR where the command reads the config.
 */
export function calibrationFlags(
  calibrationRaw: string | undefined,
  floorRaw: string | undefined,
  defaultFloor = DEFAULT_PD_FLOOR,
): { calibration: CalibrationMethod; pdFloor: number } {
  const calibration = calibrationRaw ?? 'platt';
  if (calibration !== 'platt' && calibration !== 'isotonic' && calibration !== 'none')
    throw new UsageError(`--calibration must be platt, isotonic or none, got ${JSON.stringify(calibration)}`);
  const pdFloor = floorRaw === undefined ? defaultFloor : Number(floorRaw);
  if (floorRaw?.trim() === '' || !(pdFloor >= 0 && pdFloor < 0.5))
    throw new UsageError(`--pd-floor must be a probability in [0, 0.5), got ${JSON.stringify(floorRaw)}`);
  return { calibration, pdFloor };
}
