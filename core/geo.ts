import type { LatLon } from './state/index.js';
export type { LatLon };

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
 * Distance from a point outside a polygon to its nearest edge, m (0 inside). Edges are taken as straight lines
 * in a local equirectangular frame at the point: exact enough for site fences a few hundred metres across.
 */
export function distanceOutsidePolygonM(point: LatLon, polygon: readonly LatLon[]): number {
  if (polygon.length < 3 || pointInPolygon(point, polygon)) return 0;
  const mPerDegLat = 111_320;
  const mPerDegLon = 111_320 * Math.cos((point[0] * Math.PI) / 180);
  const xy = (p: LatLon): [number, number] => [
    (p[1] - point[1]) * mPerDegLon,
    (p[0] - point[0]) * mPerDegLat,
  ];
  let best = Infinity;
  for (let i = 0; i < polygon.length; i++) {
    const [ax, ay] = xy(polygon[i] as LatLon);
    const [bx, by] = xy(polygon[(i + 1) % polygon.length] as LatLon);
    const dx = bx - ax;
    const dy = by - ay;
    const len2 = dx * dx + dy * dy;
    const t = len2 === 0 ? 0 : Math.max(0, Math.min(1, -(ax * dx + ay * dy) / len2));
    best = Math.min(best, Math.hypot(ax + t * dx, ay + t * dy));
  }
  return best;
}
