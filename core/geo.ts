import type { LatLon } from './state/index.js';

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
