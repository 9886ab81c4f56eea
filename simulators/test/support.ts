import type {
  DevicePayload,
  HelmetReading,
  SatelliteReading,
  StakeReading,
} from '../../core/contracts/payloads.js';
import type { GeneratedReading } from '../stream.js';

export const DAY_MS = 86_400_000;
export const HOUR_MS = 3_600_000;
/** A fixed, day-aligned start so tests do not depend on the date they run. */
export const START_MS = Date.UTC(2024, 2, 1);

export const asStake = (p: DevicePayload): StakeReading => p as StakeReading;
export const asHelmet = (p: DevicePayload): HelmetReading => p as HelmetReading;
export const asSatellite = (p: DevicePayload): SatelliteReading => p as SatelliteReading;

export function mean(xs: readonly number[]): number {
  return xs.length === 0 ? Number.NaN : xs.reduce((s, x) => s + x, 0) / xs.length;
}

export function median(xs: readonly number[]): number {
  const a = [...xs].sort((x, y) => x - y);
  if (a.length === 0) return Number.NaN;
  const m = Math.floor(a.length / 2);
  return a.length % 2 === 1 ? (a[m] as number) : ((a[m - 1] as number) + (a[m] as number)) / 2;
}

export function pearson(xs: readonly number[], ys: readonly number[]): number {
  const mx = mean(xs);
  const my = mean(ys);
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  xs.forEach((x, i) => {
    const y = ys[i] as number;
    sxy += (x - mx) * (y - my);
    sxx += (x - mx) ** 2;
    syy += (y - my) ** 2;
  });
  return sxy / Math.sqrt(sxx * syy);
}

export const inWindow = (rs: readonly GeneratedReading[], fromMs: number, toMs: number): GeneratedReading[] =>
  rs.filter((r) => r.trueMs >= fromMs && r.trueMs < toMs);
