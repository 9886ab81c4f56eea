/**
 * A real road trajectory, used as the path a pledged lot takes when it is trucked off its site (scenarios
 * `moved` and `spoof`). Source: UCI Machine Learning Repository #354 "GPS Trajectories" (go_track, Aracaju,
 * Brazil), track 38002 (a car, 17.5 km in 48 min), `../shared/data/gps/go_track_trackspoints.csv`, licensed
 * CC BY 4.0. Points are resampled to about one a minute and expressed as offsets from the first point:
 * [seconds since start, metres east, metres north]. The simulator rotates the path per site, so the shape
 * (stops, turns, speed changes) is real while the place is not.
 */
export const ROAD_TRACK: readonly (readonly [s: number, eastM: number, northM: number])[] = [
  [0, 0, 0],
  [65, -15, 14],
  [126, -15, 13],
  [191, -384, -288],
  [255, -1035, -1097],
  [326, -1794, -2226],
  [392, -2760, -3024],
  [456, -3201, -2593],
  [520, -3773, -2061],
  [583, -4728, -1594],
  [647, -5893, -1563],
  [711, -5789, -1716],
  [774, -5707, -2255],
  [835, -5705, -2375],
  [920, -5650, -2591],
  [984, -5474, -2601],
  [1048, -5476, -2783],
  [1111, -5473, -2805],
  [1177, -5464, -2986],
  [1240, -5454, -3170],
  [1302, -5451, -3377],
  [1366, -5409, -3895],
  [1427, -5345, -4109],
  [1491, -5066, -4815],
  [1553, -5194, -5452],
  [1613, -5387, -5607],
  [1677, -5695, -6032],
  [1737, -5728, -6194],
  [1823, -5789, -6879],
  [1884, -5852, -7716],
  [1971, -5976, -8202],
  [2039, -6035, -8299],
  [2126, -6058, -9642],
  [2190, -6088, -9932],
  [2254, -6078, -10677],
  [2317, -6115, -11340],
  [2380, -6358, -11359],
  [2450, -6936, -12247],
  [2513, -7320, -12762],
  [2576, -8156, -13747],
  [2638, -8853, -14674],
  [2727, -9739, -14443],
  [2795, -9712, -14510],
  [2859, -9712, -14510],
  [2876, -9712, -14510],
];

/** Duration of the track, ms. */
export const ROAD_TRACK_MS = 2_876_000;

/** Offset [eastM, northM] along the track `elapsedMs` after departure, rotated by `angleRad`. */
export function roadOffset(elapsedMs: number, angleRad: number): readonly [number, number] {
  const s = elapsedMs / 1000;
  let e = 0;
  let n = 0;
  const last = ROAD_TRACK[ROAD_TRACK.length - 1] as readonly [number, number, number];
  if (s >= last[0]) {
    e = last[1];
    n = last[2];
  } else if (s > 0) {
    for (let i = 1; i < ROAD_TRACK.length; i++) {
      const b = ROAD_TRACK[i] as readonly [number, number, number];
      if (s < b[0]) {
        const a = ROAD_TRACK[i - 1] as readonly [number, number, number];
        const t = (s - a[0]) / (b[0] - a[0]);
        e = a[1] + (b[1] - a[1]) * t;
        n = a[2] + (b[2] - a[2]) * t;
        break;
      }
    }
  }
  const c = Math.cos(angleRad);
  const sn = Math.sin(angleRad);
  return [e * c - n * sn, e * sn + n * c];
}
