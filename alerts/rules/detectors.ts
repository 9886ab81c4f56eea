import type { Reading } from '../../core/contracts/index.js';
import { Hysteresis, StreamingDetector } from '../detector.js';
import type { EffectiveRule } from '../rules.js';
import { readingEvidence, remember, transition, type DeviceMemory, type RuleContext } from './rule.js';

type DetectorParams = ConstructorParameters<typeof StreamingDetector>[0] & {
  persistReadings: number;
  clearReadings: number;
  flagOnScore: boolean;
};

/** The device's streaming detector and its hysteresis for one series, created on first use. */
function detectorOf(
  mem: DeviceMemory,
  key: string,
  params: DetectorParams,
): { det: StreamingDetector; hyst: Hysteresis } {
  return remember(mem, key, () => ({
    // Without the score path only the magnitude (z) flags: a score above 1 is never reached.
    det: new StreamingDetector(params.flagOnScore ? params : { ...params, scoreThreshold: Infinity }),
    hyst: new Hysteresis(params.persistReadings, params.clearReadings),
  }));
}

/**
 * Steps the device's detector for one series (kept under `key`) with `x` and opens or clears the rule's alert
 * on the device through the hysteresis: what the anomaly rules (anomaly, satellite-anomaly) share. The title
 * is the rule's; the evidence names the field, the value, what was expected and the z-score.
 */
export function detectOnDevice(
  ctx: RuleContext,
  mem: DeviceMemory,
  rule: EffectiveRule,
  settings: { params: DetectorParams; severity: EffectiveRule['severity'] },
  r: Reading,
  series: { key: string; field: string; x: number },
  title: (expected: number) => string,
): void {
  const d = detectorOf(mem, series.key, settings.params);
  const step = d.det.step(r.ts, series.x);
  transition(
    ctx,
    d.hyst.step(step.flagged),
    rule,
    settings.severity,
    r,
    { kind: 'device', id: r.deviceId },
    title(step.expected),
    { reading: readingEvidence(r), field: series.field, value: series.x, expected: step.expected, z: step.z },
  );
}
