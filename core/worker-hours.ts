import type { Reading } from './contracts/index.js';
import { pointInPolygon } from './geo.js';
import type { LatLon } from './state/index.js';

/** A fix less precise than this says nothing about which side of a fence the helmet is. */
export const POOR_FIX_M = 100;

export interface WorkerHoursWindow {
  readonly startMs: number;
  /** Hours worn on site by work-mode helmets in the window. */
  readonly hours: number;
  /** Helmets that contributed. */
  readonly helmets: number;
}

export interface WorkerHoursOptions {
  readonly fromMs: number;
  readonly toMs: number;
  readonly windowMs: number;
  /** The site's geofence ([lat, lon] vertices); fewer than 3 counts every position as on site. */
  readonly geofence: readonly LatLon[];
  /** A reading stands for the time until the helmet's next one, at most this long. */
  readonly maxGapMs: number;
}

/**
 * On-site worker-hours per window from helmet readings (any order, any helmets): a work-mode reading that is
^ * worn and inside the geofence counts the time until the same helmet's next reading (at most `maxGapMs`;
 * the last reading of a run, the helmet's median interval). A poor fix (accuracy over POOR_FIX_M) takes the
 * side of the helmet's last good one. Inspection-mode readings are not work. Windows are aligned to `fromMs`;
 * every window of the range is returned, empty ones with 0 hours.
 */
export function workerHours(readings: readonly Reading[], o: WorkerHoursOptions): WorkerHoursWindow[] {
  const windows = Math.max(0, Math.ceil((o.toMs - o.fromMs) / o.windowMs));
  const hours = new Float64Array(windows);
  const helmets = Array.from({ length: windows }, () => new Set<string>());
  const byDevice = new Map<string, Reading[]>();
  for (const r of readings) {
    if (r.kind !== 'helmet') continue;
    const list = byDevice.get(r.deviceId);
    if (list === undefined) byDevice.set(r.deviceId, [r]);
    else list.push(r);
  }
  const fenced = o.geofence.length >= 3;
  for (const [deviceId, list] of byDevice) {
    list.sort((a, b) => a.ts - b.ts || a.seq - b.seq);
    const gaps = list
      .slice(1)
      .map((r, i) => r.ts - (list[i] as Reading).ts)
      .filter((g) => g > 0 && g <= o.maxGapMs)
      .sort((a, b) => a - b);
    const typical = gaps[Math.floor(gaps.length / 2)] ?? 0;
    let lastInside = false;
    list.forEach((r, i) => {
      const f = r.fields;
      const { lat, lon, gpsAccuracyM: acc } = f;
      let inside = lastInside;
      if (!fenced) inside = true;
      else if (
        typeof lat === 'number' &&
        typeof lon === 'number' &&
        !(typeof acc === 'number' && acc > POOR_FIX_M)
      ) {
        inside = pointInPolygon([lat, lon], o.geofence);
        lastInside = inside;
      }
      if (f.mode !== 'work' || f.worn !== 1 || !inside) return; // stored booleans are 0/1
      const next = list[i + 1];
      const gap = next === undefined ? typical : next.ts - r.ts;
      // Credit [ts, ts + span) to the windows it overlaps, clipped to the range.
      let start = Math.max(r.ts, o.fromMs);
      const end = Math.min(r.ts + Math.min(gap, o.maxGapMs), o.toMs);
      while (start < end) {
        const w = Math.floor((start - o.fromMs) / o.windowMs);
        const windowEnd = o.fromMs + (w + 1) * o.windowMs;
        const stop = Math.min(end, windowEnd);
        hours[w] = (hours[w] ?? 0) + (stop - start) / 3_600_000;
        helmets[w]?.add(deviceId);
        start = stop;
      }
    });
  }
  return Array.from({ length: windows }, (_, w) => ({
    startMs: o.fromMs + w * o.windowMs,
    hours: hours[w] ?? 0,
    helmets: helmets[w]?.size ?? 0,
  }));
}
