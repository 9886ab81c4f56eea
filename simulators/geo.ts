import type { LatLon } from '../core/state/index.js';
import { offsetMeters } from '../core/geo.js';

export { distanceM, offsetMeters, pointInPolygon } from '../core/geo.js';

/**
 * A slightly irregular quadrilateral-to-octagon around a centre: `widthM` × `heightM`, rotated by `angleRad`,
 * each vertex jittered by up to `jitter` of the half-size (0–0.15), so fences do not all look machine-made.
 */
export function fencePolygon(
  center: LatLon,
  widthM: number,
  heightM: number,
  angleRad: number,
  vertexJitter: readonly number[],
): LatLon[] {
  const n = vertexJitter.length;
  const out: LatLon[] = [];
  for (let i = 0; i < n; i++) {
    // Vertices on the rectangle's outline, walked by angle, then scaled by (1 + jitter).
    const phi = (2 * Math.PI * i) / n + Math.PI / n;
    const cx = Math.cos(phi);
    const cy = Math.sin(phi);
    const scale = 1 / Math.max(Math.abs(cx), Math.abs(cy));
    const ex = (widthM / 2) * cx * scale * (1 + (vertexJitter[i] ?? 0));
    const ny = (heightM / 2) * cy * scale * (1 + (vertexJitter[i] ?? 0));
    const e = ex * Math.cos(angleRad) - ny * Math.sin(angleRad);
    const nn = ex * Math.sin(angleRad) + ny * Math.cos(angleRad);
    out.push(offsetMeters(center[0], center[1], e, nn));
  }
  return out;
}
