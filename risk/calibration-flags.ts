import { UsageError } from '../core/cli.js';
import { CALIBRATION_METHOD_NAMES, DEFAULT_PD_FLOOR, type CalibrationMethod } from './model/calibration.js';

/**
 * `--calibration` and `--pd-floor`, shared by `riskfuse train` and `riskfuse evaluate` so both accept and
 * refuse the same values. `defaultFloor` is RISK_PD_FLOOR where the command reads the config; `defaultMethod`
 * is 'platt' for `riskfuse train` (a snapshot whose labels see every cause) and DEFAULT_CALIBRATION
 * ('platt-hazard') for `riskfuse evaluate`, whose weekly rows meet defaults whose cause starts after t.
 */
export function calibrationFlags(
  calibrationRaw: string | undefined,
  floorRaw: string | undefined,
  defaultFloor = DEFAULT_PD_FLOOR,
  defaultMethod: CalibrationMethod = 'platt',
): { calibration: CalibrationMethod; pdFloor: number } {
  const calibration = calibrationRaw ?? defaultMethod;
  if (!(CALIBRATION_METHOD_NAMES as readonly string[]).includes(calibration))
    throw new UsageError(
      `--calibration must be ${CALIBRATION_METHOD_NAMES.join(', ')}, got ${JSON.stringify(calibration)}`,
    );
  const pdFloor = floorRaw === undefined ? defaultFloor : Number(floorRaw);
  if (floorRaw?.trim() === '' || !(pdFloor >= 0 && pdFloor < 0.5))
    throw new UsageError(`--pd-floor must be a probability in [0, 0.5), got ${JSON.stringify(floorRaw)}`);
  return { calibration: calibration as CalibrationMethod, pdFloor };
}
