import { Hysteresis, StreamingDetector } from '../detector.js';
import { remember, type DeviceMemory } from './rule.js';

/** The device's streaming detector and its hysteresis for one series, created on first use. */
export function detectorOf(
  mem: DeviceMemory,
  key: string,
  params: ConstructorParameters<typeof StreamingDetector>[0] & {
    persistReadings: number;
    clearReadings: number;
  },
): { det: StreamingDetector; hyst: Hysteresis } {
  return remember(mem, key, () => ({
    det: new StreamingDetector(params),
    hyst: new Hysteresis(params.persistReadings, params.clearReadings),
  }));
}
