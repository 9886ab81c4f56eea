import type { LatLon } from '../core/storage/state-store.js';

/** Small-distance geodesy (equirectangular), accurate to well under a metre at site scale (≤ 50 km). */
const M_PER_DEG_LAT = 111_320;

export function offsetMeters(lat: number, lon: number, eastM: number, northM: number): LatLon {
  const dLat = northM / M_PER_DEG_LAT;
  const dLon = eastM / (M_PER_DEG_LAT * Math.cos((lat * Math.PI) / 180));
  return [lat + dLat, lon + dLon];
}

/** Distance in metres between two points (haversine). */
export function distanceM(a: LatLon, b: LatLon): number {
  const R = 6_371_008.8;
  const toRad = Math.PI / 180;
  const dLat = (b[0] - a[0]) * toRad;
  const dLon = (b[1] - a[1]) * toRad;
  const h =
    Math.sin(dLat / 2) ** 2 + Math.cos(a[0] * toRad) * Math.cos(b[0] * toRad) * Math.sin(dLon / 2) ** 2;
  return 2 * R * Math.asin(Math.min(1, Math.sqrt(h)));
}

/** Ray casting on [lat, lon] vertices; the polygon is closed implicitly. */
export function pointInPolygon(point: LatLon, polygon: readonly LatLon[]): boolean {
  const [y, x] = point;
  let inside = false;
  for (let i = 0, j = polygon.length - 1; i < polygon.length; j = i++) {
    const pi = polygon[i] as LatLon;
    const pj = polygon[j] as LatLon;
    const [yi, xi] = pi;
    const [yj, xj] = pj;
    if (yi > y !== yj > y && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}

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
