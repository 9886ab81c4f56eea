import { dayOfYear, epochDay, localHour } from './calendar.js';
import type { Region } from './catalog.js';
import { clamp, hash3, hash4, sigmoid, unitOf } from './random.js';

/**
 * Weather as the devices feel it: air temperature with a seasonal and a diurnal cycle, humidity, and cloud
 * cover. Daily anomalies are moving averages of keyed noise, so neighbouring days are correlated (weather
 * systems last days) and any day can be computed on its own, in any order.
 */

/** A standard normal keyed by integers (Box–Muller on two hashes). */
export function normalAt(a: number, b: number, c: number): number {
  const u = Math.max(unitOf(hash4(a, b, c, 1)), 1e-12);
  const v = unitOf(hash4(a, b, c, 2));
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

/** Unit-variance noise correlated over about `span` days: a moving average of daily keyed normals. */
export function smoothNoise(key: number, stream: number, day: number, span: number): number {
  let s = 0;
  for (let k = 0; k < span; k++) s += normalAt(key, stream, day - k);
  return s / Math.sqrt(span);
}

const STREAM_TEMP = 11;
const STREAM_CLOUD = 12;
const STREAM_HUMID = 13;

export interface WeatherKey {
  readonly seed: number;
  readonly regionIndex: number;
  readonly region: Region;
  /** Memo of daily mean temperatures by local day (shared by every device of the region). */
  readonly dailyMeanC: Map<number, number>;
}

export function weatherKey(seed: number, regionIndex: number, region: Region): WeatherKey {
  return { seed, regionIndex, region, dailyMeanC: new Map() };
}

const regionKey = (w: WeatherKey): number => hash3(w.seed, 0x57ea7, w.regionIndex);

/** Daily mean outdoor air temperature, °C. */
export function dailyMeanTempC(w: WeatherKey, day: number): number {
  const memo = w.dailyMeanC.get(day);
  if (memo !== undefined) return memo;
  const doy = dayOfYear(day);
  const seasonal =
    w.region.tempMeanC + w.region.tempAmplitudeC * Math.cos((2 * Math.PI * (doy - 200)) / 365.25);
  const t = seasonal + 4.5 * smoothNoise(regionKey(w), STREAM_TEMP, day, 4);
  w.dailyMeanC.set(day, t);
  return t;
}

/** Outdoor air temperature at an instant, °C (diurnal minimum near dawn, maximum mid-afternoon). */
export function outdoorTempC(w: WeatherKey, ms: number): number {
  const day = epochDay(ms + w.region.tzOffsetH * 3_600_000);
  const doy = dayOfYear(day);
  const diurnalAmp = 4.5 + 1.5 * Math.cos((2 * Math.PI * (doy - 190)) / 365.25);
  const hour = localHour(ms, w.region.tzOffsetH);
  return dailyMeanTempC(w, day) + diurnalAmp * Math.cos((2 * Math.PI * (hour - 15)) / 24);
}

/** Temperature inside a building: heated ones are held near 17 °C, unheated ones follow outside, damped. */
export function indoorTempC(w: WeatherKey, ms: number, heated: boolean): number {
  const day = epochDay(ms + w.region.tzOffsetH * 3_600_000);
  const mean = dailyMeanTempC(w, day);
  const diurnal = outdoorTempC(w, ms) - mean;
  return heated ? 17 + 0.12 * (mean - 5) + 0.1 * diurnal : 5 + 0.75 * (mean - 3) + 0.35 * diurnal;
}

/** Relative humidity, %: seasonal (moist winters), lower in the warm afternoon, noisy day to day. */
export function humidityPct(w: WeatherKey, ms: number, indoor: boolean): number {
  const day = epochDay(ms + w.region.tzOffsetH * 3_600_000);
  const doy = dayOfYear(day);
  const base =
    68 +
    10 * Math.cos((2 * Math.PI * (doy - 15)) / 365.25) +
    7 * smoothNoise(regionKey(w), STREAM_HUMID, day, 3);
  const diurnal = outdoorTempC(w, ms) - dailyMeanTempC(w, day);
  const rh = base - (indoor ? 1.2 : 3) * diurnal - (indoor ? 6 : 0);
  return clamp(rh, 8, 99);
}

/** Prairie cloud climatology: cloudy, snowy winters; clearer mid-summers (fraction 0–1). */
function cloudClimatology(doy: number): number {
  return (
    0.58 +
    0.12 * Math.cos((2 * Math.PI * (doy - 15)) / 365.25) +
    0.05 * Math.cos((4 * Math.PI * (doy - 320)) / 365.25)
  );
}

/** Regional cloud fraction of a day (0–1), persistent over a few days. */
export function regionalCloud(w: WeatherKey, day: number): number {
  const p = cloudClimatology(dayOfYear(day));
  const logit = Math.log(p / (1 - p));
  return sigmoid(logit + 1.6 * smoothNoise(regionKey(w), STREAM_CLOUD, day, 2));
}
