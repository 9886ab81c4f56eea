import { describe, expect, it } from 'vitest';
import type { Reading } from '../contracts/index.js';
import type { LatLon } from '../state/index.js';
import { workerHours } from '../worker-hours.js';

const T0 = Date.UTC(2026, 5, 1, 8);
const MIN = 60_000;
const HOUR = 3_600_000;
const FENCE: LatLon[] = [
  [0, 0],
  [0, 1],
  [1, 1],
  [1, 0],
];
const IN: LatLon = [0.5, 0.5];
const OUT: LatLon = [2, 2];

let seq = 0;
function helmet(
  deviceId: string,
  ts: number,
  at: LatLon,
  over: Record<string, number | string> = {},
): Reading {
  return {
    kind: 'helmet',
    deviceId,
    borrowerId: 'b1',
    siteId: 's1',
    ts,
    seq: seq++,
    fields: { lat: at[0], lon: at[1], worn: 1, activity: 0.5, mode: 'work', batteryPct: 80, ...over },
  };
}

/** Readings every `stepMin` minutes from `fromMin` to `toMin` (inclusive) after T0. */
const run = (id: string, fromMin: number, toMin: number, stepMin: number, at = IN, over = {}) =>
  Array.from({ length: Math.floor((toMin - fromMin) / stepMin) + 1 }, (_, i) =>
    helmet(id, T0 + (fromMin + i * stepMin) * MIN, at, over),
  );

const opts = { fromMs: T0, toMs: T0 + 4 * HOUR, windowMs: HOUR, geofence: FENCE, maxGapMs: 15 * MIN };

describe('on-site worker-hours from helmet readings', () => {
  it('when a helmet is worn on site, then each reading counts until the next one and the last one its usual interval', () => {
    // 08:00 … 10:00 every 5 min: 25 readings × 5 min = 125 min, split over the 08:00, 09:00 and 10:00 windows.
    const out = workerHours(run('h1', 0, 120, 5).reverse(), opts);
    expect(out.map((w) => w.startMs)).toEqual([0, 1, 2, 3].map((i) => T0 + i * HOUR));
    expect(out.map((w) => w.hours * 60)).toEqual([60, 60, 5, 0]);
    expect(out.map((w) => w.helmets)).toEqual([1, 1, 1, 0]);
  });

  it('when a helmet is off the head, off site, inspecting or silent, then that time is not work on site', () => {
    const readings = [
      // 08:00–08:25 worn on site (6 readings, 30 min) …
      ...run('h1', 0, 25, 5),
      // … 08:30–08:55 taken off (lunch) …
      ...run('h1', 30, 55, 5, IN, { worn: 0 }),
      // … 09:00–09:25 off site …
      ...run('h1', 60, 85, 5, OUT),
      // … 09:30 and 09:35 a poor fix after an off-site one: still off site; then a good fix inside …
      ...run('h1', 90, 95, 5, IN, { gpsAccuracyM: 500 }),
      ...run('h1', 100, 100, 5),
      // … then silent for an hour (only maxGap = 15 min counts), a last reading at 11:00.
      helmet('h1', T0 + 160 * MIN, IN),
      // An inspector's visit on site is not work.
      ...run('h2', 0, 60, 5, IN, { mode: 'inspection', inspectionId: 'i1' }),
    ];
    const out = workerHours(readings, opts);
    // 30 min; 15 min (09:40 gap capped); the 11:00 reading gets h1's usual 5 min.
    expect(out.map((w) => Math.round(w.hours * 60))).toEqual([30, 15, 5, 0]);
    expect(out.map((w) => w.helmets)).toEqual([1, 1, 1, 0]);
  });

  it('when several helmets work and readings straddle the range, then hours add up and only the part inside the range counts', () => {
    const readings = [...run('h1', -10, 30, 10), ...run('h2', 0, 50, 10), ...run('h3', 235, 245, 10)];
    const out = workerHours(readings, opts);
    // h1: 07:50 and 08:00–08:30 (the 07:50 reading's 10 min fall before the range) → 40 min; h2: 60 min;
    // h3: 11:55 → 5 of its 10 min before 12:00.
    expect(out.map((w) => Math.round(w.hours * 60))).toEqual([100, 0, 0, 5]);
    expect(out.map((w) => w.helmets)).toEqual([2, 0, 0, 1]);
  });

  it('when the site has no geofence, then every worn work-mode reading counts', () => {
    const out = workerHours(run('h1', 0, 55, 5, OUT), { ...opts, geofence: [] });
    expect(out[0]?.hours).toBeCloseTo(1, 12);
  });
});
