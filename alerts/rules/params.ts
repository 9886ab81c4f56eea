import { Type } from '@sinclair/typebox';

/** Parameter schema builders shared by the rules: each names its unit and default. */
export const Pct = (description: string, d: number) =>
  Type.Number({ minimum: 0, maximum: 100, default: d, description });
export const Count = (description: string, d: number) =>
  Type.Integer({ minimum: 1, maximum: 10_000, default: d, description });
export const Ms = (description: string, d: number) =>
  Type.Integer({ minimum: 0, maximum: 366 * 86_400_000, default: d, description: `${description}, ms` });

export const HOUR = 3_600_000;
export const DAY = 24 * HOUR;

export const FlagOnScore = (d: boolean) =>
  Type.Boolean({
    default: d,
    description:
      "also flag when the detector's anomaly score reaches its NAB-optimal threshold (else: z only)",
  });

/** Streaming detector parameters, shared by the anomaly rules. */
export const detectorParams = {
  zThreshold: Type.Number({ minimum: 1, maximum: 100, default: 5, description: 'robust z-score to flag' }),
  flagOnScore: FlagOnScore(true),
  persistReadings: Count('consecutive flagged readings to open', 2),
  clearReadings: Count('consecutive normal readings to clear', 6),
  seasonPeriodMs: Ms('seasonal period (0 = none)', DAY),
  seasonBins: Count('bins of the seasonal profile', 24),
  weekly: Type.Boolean({
    default: true,
    description: 'also a profile over seven seasonal periods (hour of the week), counted from the third week',
  }),
  warmupReadings: Count('readings before the detector may flag', 48),
  halfLifeReadings: Count('half-life of the level and scale, readings', 200),
};
