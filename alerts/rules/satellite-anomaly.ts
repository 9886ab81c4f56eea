import { Type } from '@sinclair/typebox';
import { detectOnDevice } from './detectors.js';
import { Count, DAY, detectorParams, Ms, Pct } from './params.js';
import type { ReadingRule } from './rule.js';

/**
 * satellite-anomaly: NDVI or activity index far below the series' seasonal baseline (streaming detector),
 * cloudy scenes ignored. Test: alerts/test/engine.test.ts ('satellite').
 */
export const params = Type.Object(
  {
    ...detectorParams,
    zThreshold: Type.Number({
      minimum: 1,
      maximum: 100,
      default: 3.5,
      description: 'robust z-score to flag',
    }),
    seasonPeriodMs: Ms('seasonal period (0 = none)', 365 * DAY),
    seasonBins: Count('bins of the seasonal profile', 52),
    weekly: Type.Boolean({ default: false, description: 'also a profile over seven seasonal periods' }),
    warmupReadings: Count('readings before the detector may flag', 20),
    halfLifeReadings: Count('half-life of the level and scale, readings', 30),
    persistReadings: Count('consecutive flagged readings to open', 3),
    clearReadings: Count('consecutive normal readings to clear', 3),
    maxCloudPct: Pct('scenes cloudier than this are ignored', 40),
    direction: Type.Union([Type.Literal('low'), Type.Literal('both')], {
      default: 'low',
      description: 'low = only drops are anomalies',
    }),
  },
  { additionalProperties: false },
);
export const doc = {
  description: "NDVI or activity index far below the series' seasonal baseline (cloudy scenes ignored)",
  severity: 'warning',
  subject: 'device',
} as const;

export const satelliteAnomaly: ReadingRule = {
  id: 'satellite-anomaly',
  kinds: ['satellite'],
  evaluate(ctx, r, mem) {
    const rule = ctx.rules['satellite-anomaly'];
    const s = rule.for(r.borrowerId);
    if (!s.enabled) return;
    const cloud = r.fields.cloudPct;
    if (typeof cloud === 'number' && cloud > s.params.maxCloudPct) return;
    for (const field of ['ndvi', 'activityIndex'] as const) {
      const x = r.fields[field];
      if (typeof x !== 'number') continue;
      detectOnDevice(
        ctx,
        mem,
        rule,
        s,
        r,
        { key: `sat:${field}`, field, x },
        (expected) => `${field} of ${r.deviceId} at ${x.toFixed(2)}, expected ${expected.toFixed(2)}`,
      );
    }
  },
};
