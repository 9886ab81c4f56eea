import { distanceM, type LatLon } from '../../core/geo.js';
import { median } from './median.js';

/** A clear parcel scene the ndvi-drought rule keeps for the reference of the others. */
export interface Scene {
  readonly ts: number;
  readonly at: LatLon;
  readonly ndvi: number;
}

/** The far-away reference of one scene: how many scenes it has and their median NDVI (NaN when none). */
export interface Reference {
  readonly scenes: number;
  readonly median: number;
}

const EARTH_M = 6_371_008.8;
const DEG = 180 / Math.PI;

/** Index of the first element of sorted `xs` greater than `v`. */
function upperBound(xs: ArrayLike<number>, v: number): number {
  let lo = 0;
  let hi = xs.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((xs[mid] as number) <= v) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Index of the first element of sorted `xs` not less than `v`. */
function lowerBound(xs: readonly number[], v: number): number {
  let lo = 0;
  let hi = xs.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((xs[mid] as number) < v) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * A grid cell: its indexed scenes; their unit vectors and NDVI (x, y, z, ndvi, one after another: read without
 * touching the scene objects, which are scattered in memory); and their NDVI ascending.
 */
interface Cell {
  readonly scenes: Scene[];
  readonly xyzv: number[];
  readonly values: number[];
}

/** The point on the unit sphere: two points are closer than d exactly when their dot product exceeds cos(d / R). */
function unit(at: LatLon): [number, number, number] {
  const lat = at[0] / DEG;
  const lon = at[1] / DEG;
  return [Math.cos(lat) * Math.cos(lon), Math.cos(lat) * Math.sin(lon), Math.sin(lat)];
}

/** Cells per reference distance (in latitude): finer cells leave fewer scenes on the disc's edge to measure. */
const CELLS_PER_REFERENCE = 4;

/**
 * The ndvi-drought rule's reference (alerts/rules/ndvi-drought.ts): the median NDVI of the clear scenes seen in
 * the window `[ts − windowMs, ts]` at least `referenceM` from a parcel, without scanning every scene.
 *
 * Why: the rule compared each clear scene with every scene of the window, measuring each distance and sorting
 * the far ones — O(scenes in the window) per scene. At 100,000 parcels imaged every ~5 days that is ~140,000
 * scenes per judgement, 128–140 ms each, and a satellite pass delivers a whole tile of parcels at once, to the
 * ingest's event loop (`npm run bench:ndvi`).
 *
 * Here the window's NDVI values are kept sorted, and the scenes in a grid of cells a quarter of `referenceM`
 * wide, each with its values sorted. The far set is the whole window less the near scenes: cells wholly within
 * `referenceM` count whole (by the triangle inequality through the cell's centre), cells wholly beyond count
 * for nothing, and only the scenes of the cells the disc's edge crosses are measured. Its median is found by a
 * binary search over the sorted values that discounts, at each step, the near values not above it (a binary
 * search in each near cell) — exact, about O(edge scenes + log n · near cells) per judgement.
 *
 * The index answers for the newest time seen: a scene no older than the newest (a feed in order). The rule
 * answers an older one (a late feed) by scanning, as before. Pinned by alerts/rules/test/scene-reference.test.ts
 * (answers equal the scan's on random portfolios, late scenes, ties, the date line and the poles).
 */
export class SceneReference {
  readonly #windowMs: number;
  readonly #referenceM: number;
  /** Cell size, degrees (of latitude; the same number of degrees of longitude). */
  readonly #cellDeg: number;
  readonly #cols: number;
  /** NDVI of every indexed scene, ascending. */
  readonly #values: number[] = [];
  /** The indexed scenes, oldest first (a late one is put in its place). */
  readonly #byTs: Scene[] = [];
  /** row → column → cell. */
  readonly #cells = new Map<number, Map<number, Cell>>();
  readonly #halfDiagonals = new Map<number, number>();
  #newestTs = Number.NEGATIVE_INFINITY;

  constructor(referenceM: number, windowMs: number) {
    this.#referenceM = referenceM;
    this.#windowMs = windowMs;
    this.#cellDeg = ((referenceM / EARTH_M) * DEG) / CELLS_PER_REFERENCE;
    this.#cols = Math.max(1, Math.ceil(360 / this.#cellDeg));
  }

  get size(): number {
    return this.#byTs.length;
  }

  /** Whether `reference(ts, …)` is answered here: `ts` is no older than every scene added. */
  answers(ts: number): boolean {
    return ts >= this.#newestTs;
  }

  /** Adds a scene (after the rule has judged it); scenes older than the newest less the window are not kept. */
  add(scene: Scene): void {
    if (scene.ts > this.#newestTs) {
      this.#newestTs = scene.ts;
      this.#expire(scene.ts - this.#windowMs);
    }
    if (scene.ts < this.#newestTs - this.#windowMs) return;
    insertSorted(this.#values, scene.ndvi);
    let i = this.#byTs.length;
    while (i > 0 && (this.#byTs[i - 1] as Scene).ts > scene.ts) i -= 1;
    this.#byTs.splice(i, 0, scene);
    const [row, col] = this.#cellOf(scene.at);
    let cols = this.#cells.get(row);
    if (cols === undefined) this.#cells.set(row, (cols = new Map<number, Cell>()));
    let cell = cols.get(col);
    if (cell === undefined) cols.set(col, (cell = { scenes: [], xyzv: [], values: [] }));
    cell.scenes.push(scene);
    cell.xyzv.push(...unit(scene.at), scene.ndvi);
    insertSorted(cell.values, scene.ndvi);
  }

  /** The reference of a scene at `at` taken at `ts` (`answers(ts)` must hold): far scenes of `[ts − window, ts]`. */
  reference(ts: number, at: LatLon): Reference {
    // Scenes older than this window are gone for every later question too: the index answers from `ts` on.
    this.#newestTs = ts;
    this.#expire(ts - this.#windowMs);
    const near = this.#near(at);
    let nearCount = near.edge.length;
    for (const values of near.whole) nearCount += values.length;
    const far = this.#values.length - nearCount;
    if (far === 0) return { scenes: 0, median: Number.NaN };
    const m = far >> 1;
    const median =
      far % 2 === 1 ? this.#kthFar(m, near) : (this.#kthFar(m - 1, near) + this.#kthFar(m, near)) / 2;
    return { scenes: far, median };
  }

  /** The k-th smallest (0-based) NDVI of the indexed scenes that are not near. */
  #kthFar(k: number, near: Near): number {
    // The smallest value v with (indexed ≤ v) − (near ≤ v) > k: the count is monotone in v.
    const values = this.#values;
    let lo = 0;
    let hi = values.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      const v = values[mid] as number;
      let nearUpTo = upperBound(near.edge, v);
      for (const w of near.whole) nearUpTo += upperBound(w, v);
      if (upperBound(values, v) - nearUpTo > k) hi = mid;
      else lo = mid + 1;
    }
    return values[lo] as number;
  }

  /** The near scenes (closer than `referenceM` to `at`): whole cells' sorted values, and the edge's, sorted. */
  #near(at: LatLon): Near {
    const whole: number[][] = [];
    const edgeValues: number[] = [];
    const [row, col] = this.#cellOf(at);
    const rows = CELLS_PER_REFERENCE + 1;
    // Two points closer than d differ in longitude by less than (π/2)·d / (R·cos φ) at latitudes up to φ
    // (haversine: d ≥ (2/π)·R·cos φ·Δλ); past the pole's reach every column of the row is a candidate.
    const latMax = Math.min(90, Math.abs(at[0]) + (rows + 1) * this.#cellDeg);
    const cos = Math.cos(latMax / DEG);
    const dLonDeg = cos > 0 ? (((Math.PI / 2) * this.#referenceM) / (EARTH_M * cos)) * DEG : Infinity;
    const span = Math.ceil(dLonDeg / this.#cellDeg) + 1;
    const [ux, uy, uz] = unit(at);
    const cosRef = Math.cos(this.#referenceM / EARTH_M);
    let h = 0;
    const visit = (r: number, c: number, cell: Cell): void => {
      // Triangle inequality through the cell's centre: whole cells in or out without measuring their scenes.
      const centre: LatLon = [(r + 0.5) * this.#cellDeg, (c + 0.5) * this.#cellDeg - 180];
      const d = distanceM(at, centre);
      if (d - h >= this.#referenceM) return;
      if (d + h < this.#referenceM) {
        whole.push(cell.values);
        return;
      }
      const { scenes, xyzv } = cell;
      for (let i = 0, o = 0; i < scenes.length; i++, o += 4) {
        const dot = ux * (xyzv[o] as number) + uy * (xyzv[o + 1] as number) + uz * (xyzv[o + 2] as number);
        // The dot product decides unless it is within rounding of the edge; there the rule's own distance does.
        const near =
          Math.abs(dot - cosRef) > 1e-9
            ? dot > cosRef
            : distanceM(at, (scenes[i] as Scene).at) < this.#referenceM;
        if (near) edgeValues.push(xyzv[o + 3] as number);
      }
    };
    for (let r = row - rows; r <= row + rows; r++) {
      const cols = this.#cells.get(r);
      if (cols === undefined) continue;
      h = this.#halfDiagonal(r);
      if (2 * span + 1 >= this.#cols) {
        for (const [c, cell] of cols) visit(r, c, cell);
        continue;
      }
      for (let c = col - span; c <= col + span; c++) {
        const wrapped = ((c % this.#cols) + this.#cols) % this.#cols;
        const cell = cols.get(wrapped);
        if (cell !== undefined) visit(r, wrapped, cell);
      }
    }
    return { whole, edge: Float64Array.from(edgeValues).sort() };
  }

  /**
   * At least the distance from the centre of a cell of row `r` to any point of the cell: its farthest corner, with
   * room for the parallels' bow away from the great circle between two corners (metres at these sizes). The same
   * for every cell of a row.
   */
  #halfDiagonal(r: number): number {
    let h = this.#halfDiagonals.get(r);
    if (h !== undefined) return h;
    const g = this.#cellDeg;
    const lat0 = r * g;
    const lat1 = Math.min(90, lat0 + g);
    const centre: LatLon = [lat0 + g / 2, g / 2];
    const corners: LatLon[] = [
      [lat0, 0],
      [lat0, g],
      [lat1, 0],
      [lat1, g],
    ];
    h = 0;
    for (const c of corners) h = Math.max(h, distanceM(centre, c));
    h = h * 1.01 + 100;
    this.#halfDiagonals.set(r, h);
    return h;
  }

  #cellOf(at: LatLon): [number, number] {
    const row = Math.floor(at[0] / this.#cellDeg);
    const col = Math.floor((((at[1] % 360) + 540) % 360) / this.#cellDeg) % this.#cols;
    return [row, col];
  }

  /** Drops the scenes older than `beforeTs` from the values, the time order and the cells. */
  #expire(beforeTs: number): void {
    let n = 0;
    while (n < this.#byTs.length && (this.#byTs[n] as Scene).ts < beforeTs) n += 1;
    if (n === 0) return;
    for (const sc of this.#byTs.splice(0, n)) {
      removeSorted(this.#values, sc.ndvi);
      const [row, col] = this.#cellOf(sc.at);
      const cols = this.#cells.get(row);
      const cell = cols?.get(col);
      if (cols === undefined || cell === undefined) continue;
      const i = cell.scenes.indexOf(sc);
      cell.scenes.splice(i, 1);
      cell.xyzv.splice(4 * i, 4);
      removeSorted(cell.values, sc.ndvi);
      if (cell.scenes.length === 0) cols.delete(col);
      if (cols.size === 0) this.#cells.delete(row);
    }
  }
}

/** The near scenes of a judgement: sorted NDVI arrays of whole cells, and of the edge cells' near scenes. */
interface Near {
  readonly whole: readonly (readonly number[])[];
  readonly edge: Float64Array;
}

function insertSorted(xs: number[], v: number): void {
  xs.splice(lowerBound(xs, v), 0, v);
}

function removeSorted(xs: number[], v: number): void {
  xs.splice(lowerBound(xs, v), 1);
}

/**
 * The reference of a late scene (older than one already seen), by scanning the scenes kept. The list is in arrival
 * order, not time order: a feed that was silent sends weeks-old scenes after today's, and those stay behind the
 * head the rule prunes, so the window is bounded on both sides. Pinned by alerts/rules/test/ndvi-drought-late.test.ts.
 */
export function scanReference(
  scenes: readonly Scene[],
  ts: number,
  here: LatLon,
  referenceM: number,
  windowMs: number,
): Reference {
  const since = ts - windowMs;
  const far: number[] = [];
  for (const sc of scenes)
    if (sc.ts <= ts && sc.ts >= since && distanceM(here, sc.at) >= referenceM) far.push(sc.ndvi);
  return { scenes: far.length, median: median(far) };
}
