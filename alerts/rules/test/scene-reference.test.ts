import { describe, expect, it } from 'vitest';
import { distanceM, type LatLon } from '../../../core/geo.js';
import { mulberry32 } from '../../../core/random.js';
import { median } from '../median.js';
import { SceneReference, type Scene } from '../scene-reference.js';

const DAY = 86_400_000;

/** The rule's definition, by brute force: far scenes of [ts − window, ts] and their median. */
function oracle(scenes: readonly Scene[], ts: number, at: LatLon, referenceM: number, windowMs: number) {
  const far = scenes
    .filter((s) => s.ts <= ts && s.ts >= ts - windowMs && distanceM(at, s.at) >= referenceM)
    .map((s) => s.ndvi);
  return { scenes: far.length, median: median(far) };
}

function check(seed: number, region: (u: () => number) => LatLon, referenceM: number, lateShare: number) {
  const u = mulberry32(seed);
  const windowMs = 7 * DAY;
  const index = new SceneReference(referenceM, windowMs);
  const seen: Scene[] = [];
  let now = 0;
  let answered = 0;
  for (let i = 0; i < 1500; i++) {
    // Passes deliver bursts of scenes with one timestamp; now and then a feed sends a scene from weeks ago.
    if (u() < 0.1) now += Math.floor(u() * DAY);
    const late = u() < lateShare;
    const ts = late ? now - Math.floor(u() * 30 * DAY) : now;
    const at = region(u);
    // NDVI on a coarse grid so that ties are common (the median's rank arithmetic must handle them).
    const scene: Scene = { ts, at, ndvi: Math.round(u() * 40) / 40 };
    if (index.answers(ts)) {
      const got = index.reference(ts, at);
      const want = oracle(seen, ts, at, referenceM, windowMs);
      expect(got.scenes, `scene ${i}`).toBe(want.scenes);
      if (want.scenes > 0) expect(got.median, `scene ${i}`).toBe(want.median);
      answered += 1;
    }
    seen.push(scene);
    index.add(scene);
  }
  return answered;
}

describe('SceneReference (the ndvi-drought reference without a scan)', () => {
  it('when scenes of a regional portfolio arrive in passes, then every reference equals the scan of the window', () => {
    // Two countries' worth of parcels, 150 km reference: most scenes are far, some near.
    const answered = check(1, (u) => [45 + 8 * u(), 5 + 12 * u()], 150_000, 0);
    expect(answered).toBe(1500);
  });

  it('when some feeds are late, then the index answers every scene no older than the newest, equal to the scan', () => {
    const answered = check(2, (u) => [-30 + 10 * u(), 140 + 10 * u()], 300_000, 0.05);
    // The late ones are left to the rule's scan; all the others are answered here.
    expect(answered).toBeGreaterThan(1300);
    expect(answered).toBeLessThan(1500);
  });

  it('when parcels lie near a pole and across the date line, then near and far are told apart as by distance', () => {
    check(3, (u) => [80 + 9.9 * u(), u() < 0.5 ? 179 + u() : -180 + u()], 150_000, 0.02);
    check(4, (u) => [-89.9 + 2 * u(), 360 * u() - 180], 50_000, 0);
  });

  it('when scenes leave the window, then they are dropped from the index', () => {
    const index = new SceneReference(10_000, 7 * DAY);
    for (let d = 0; d < 30; d++) index.add({ ts: d * DAY, at: [10, d], ndvi: 0.5 });
    // Days 22..29 are within 7 days of day 29; a judgement on day 29 at a far point sees all eight.
    expect(index.size).toBe(8);
    expect(index.reference(29 * DAY, [60, 60])).toEqual({ scenes: 8, median: 0.5 });
    expect(index.answers(28 * DAY)).toBe(false);
  });
});
