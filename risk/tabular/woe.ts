import type { Matrix } from '../model/types.js';
import type { ColumnGroup } from './encode.js';

/**
 * Weight-of-evidence binning, the first half of a credit scorecard (Siddiqi, "Credit Risk Scorecards", 2006,
 * ch. 6; Thomas, Edelman & Crook, "Credit Scoring and its Applications", 2002, §8.6). Fitted on the training
 * fold only. Per source column:
 * - numeric: up to `preBins` equal-count bins of the non-missing training values, then adjacent bins pooled
 *   (pool-adjacent-violators) until the bad rate is monotone in the direction of the column's overall trend,
 *   then bins holding less than `minBinShare` of the rows (or no good or no bad) merged into a neighbour, so
 *   every bin is stable and the points never zig-zag as the value rises; missing values are their own bin;
 * - categorical: one bin per level the encoder kept (nominal, no order), plus one for unseen levels.
 * WoE of a bin = ln(share of all goods in it / share of all bads in it), with ½ added to each count so an
 * empty cell stays finite: positive WoE = safer than average. Information value IV = Σ (good% − bad%)·WoE.
 * Pinned by risk/test/tabular-scorecard.test.ts ("when a column's bad rate rises with it, then its WoE falls …").
 */
export interface NumericBinning {
  readonly kind: 'numeric';
  readonly name: string;
  readonly col: number;
  readonly missingCol?: number;
  /** Bin b holds cuts[b−1] < v ≤ cuts[b]; the last bin everything above. */
  readonly cuts: number[];
  readonly woe: number[];
  readonly counts: number[];
  readonly bads: number[];
  readonly missingWoe: number;
  readonly missingCount: number;
  /** +1: bad rate rises with the value, −1: falls. */
  readonly direction: number;
  readonly iv: number;
}

export interface CategoricalBinning {
  readonly kind: 'categorical';
  readonly name: string;
  /** The one-hot columns of the levels (in the encoder's order) and their labels. */
  readonly cols: number[];
  readonly levels: string[];
  readonly woe: number[];
  readonly counts: number[];
  readonly bads: number[];
  /** Rows with no level set (a level unseen in training and no `__other` column). */
  readonly noneWoe: number;
  readonly iv: number;
}

export type Binning = NumericBinning | CategoricalBinning;

export interface WoeOptions {
  readonly preBins?: number;
  readonly minBinShare?: number;
}

interface Cell {
  hi: number;
  n: number;
  bad: number;
}

const rate = (c: Cell): number => c.bad / c.n;

function woeOf(good: number, bad: number, goods: number, bads: number): number {
  return Math.log((good + 0.5) / (goods + 0.5) / ((bad + 0.5) / (bads + 0.5)));
}

/** Merges cells i and i+1 (in place). */
function merge(cells: Cell[], i: number): void {
  const a = cells[i] as Cell;
  const b = cells[i + 1] as Cell;
  cells.splice(i, 2, { hi: b.hi, n: a.n + b.n, bad: a.bad + b.bad });
}

/** Monotone bins of `values` (non-missing) against `y`; returns the pooled cells and the direction. */
export function monotoneBins(
  values: Float64Array,
  y: Uint8Array,
  options: WoeOptions = {},
): { cells: Cell[]; direction: number } {
  const preBins = options.preBins ?? 20;
  const minShare = options.minBinShare ?? 0.05;
  const n = values.length;
  const order = Array.from({ length: n }, (_, i) => i).sort(
    (a, b) => (values[a] as number) - (values[b] as number),
  );
  const cells: Cell[] = [];
  let start = 0;
  for (let b = 1; b <= preBins && start < n; b++) {
    let end = b === preBins ? n : Math.max(start + 1, Math.floor((b * n) / preBins));
    // Ties stay in one bin: a cut must fall between distinct values.
    while (end < n && values[order[end] as number] === values[order[end - 1] as number]) end++;
    if (end <= start) continue;
    let bad = 0;
    for (let k = start; k < end; k++) bad += y[order[k] as number] as number;
    cells.push({ hi: values[order[end - 1] as number] as number, n: end - start, bad });
    start = end;
  }
  // Direction: the sign of the count-weighted covariance of bin rank and bad rate.
  const total = cells.reduce((s, c) => s + c.n, 0);
  const meanRank = cells.reduce((s, c, i) => s + i * c.n, 0) / Math.max(1, total);
  const meanRate = cells.reduce((s, c) => s + c.bad, 0) / Math.max(1, total);
  const cov = cells.reduce((s, c, i) => s + c.n * (i - meanRank) * (rate(c) - meanRate), 0);
  const direction = cov >= 0 ? 1 : -1;
  // Pool adjacent violators until the bad rate is monotone in `direction`.
  for (let changed = true; changed;) {
    changed = false;
    for (let i = 0; i + 1 < cells.length; i++) {
      if (direction * (rate(cells[i + 1] as Cell) - rate(cells[i] as Cell)) < 0) {
        merge(cells, i);
        changed = true;
        break;
      }
    }
  }
  // Small or one-class bins join the neighbour with the closer bad rate (adjacent merges keep monotonicity).
  for (let changed = true; changed && cells.length > 1;) {
    changed = false;
    for (let i = 0; i < cells.length; i++) {
      const c = cells[i] as Cell;
      if (c.n >= minShare * total && c.bad > 0 && c.bad < c.n) continue;
      const left = cells[i - 1];
      const right = cells[i + 1];
      const useLeft =
        right === undefined ||
        (left !== undefined && Math.abs(rate(left) - rate(c)) <= Math.abs(rate(right) - rate(c)));
      merge(cells, useLeft ? i - 1 : i);
      changed = true;
      break;
    }
  }
  return { cells, direction };
}

/** Fits the binning of every column group on the rows of `x` (the training fold). */
export function fitBinnings(
  x: Matrix,
  y: Uint8Array,
  groups: readonly ColumnGroup[],
  options: WoeOptions = {},
): Binning[] {
  const bads = y.reduce((a, b) => a + b, 0);
  const goods = y.length - bads;
  const at = (r: number, c: number): number => x.data[r * x.cols + c] as number;
  return groups.map((g): Binning => {
    if (g.kind === 'numeric') {
      const present: number[] = [];
      let missingCount = 0;
      let missingBad = 0;
      for (let r = 0; r < x.rows; r++) {
        if (g.missingCol !== undefined && at(r, g.missingCol) === 1) {
          missingCount++;
          missingBad += y[r] as number;
        } else present.push(r);
      }
      const { cells, direction } = monotoneBins(
        Float64Array.from(present, (r) => at(r, g.col)),
        Uint8Array.from(present, (r) => y[r] as number),
        options,
      );
      const woe = cells.map((c) => woeOf(c.n - c.bad, c.bad, goods, bads));
      const missingWoe = missingCount === 0 ? 0 : woeOf(missingCount - missingBad, missingBad, goods, bads);
      const iv =
        cells.reduce((s, c, i) => s + ((c.n - c.bad) / goods - c.bad / bads) * (woe[i] as number), 0) +
        ((missingCount - missingBad) / goods - missingBad / bads) * missingWoe;
      return {
        kind: 'numeric',
        name: g.name,
        col: g.col,
        ...(g.missingCol === undefined ? {} : { missingCol: g.missingCol }),
        cuts: cells.slice(0, -1).map((c) => c.hi),
        woe,
        counts: cells.map((c) => c.n),
        bads: cells.map((c) => c.bad),
        missingWoe,
        missingCount,
        direction,
        iv,
      };
    }
    const counts = new Array<number>(g.cols.length).fill(0);
    const bad = new Array<number>(g.cols.length).fill(0);
    for (let r = 0; r < x.rows; r++) {
      const k = g.cols.findIndex((c) => at(r, c) === 1);
      if (k < 0) continue;
      counts[k]! += 1;
      bad[k]! += y[r] as number;
    }
    const woe = counts.map((n, k) => woeOf(n - (bad[k] as number), bad[k] as number, goods, bads));
    const iv = counts.reduce(
      (s, n, k) => s + ((n - (bad[k] as number)) / goods - (bad[k] as number) / bads) * (woe[k] as number),
      0,
    );
    return {
      kind: 'categorical',
      name: g.name,
      cols: [...g.cols],
      levels: [...g.levels],
      woe,
      counts,
      bads: bad,
      noneWoe: 0,
      iv,
    };
  });
}

/** The bin index of row `r` (numeric: −1 = missing bin; categorical: −1 = no level). */
export function binOf(b: Binning, x: Matrix, r: number): number {
  const at = (c: number): number => x.data[r * x.cols + c] as number;
  if (b.kind === 'numeric') {
    if (b.missingCol !== undefined && at(b.missingCol) === 1) return -1;
    const v = at(b.col);
    let k = 0;
    while (k < b.cuts.length && v > (b.cuts[k] as number)) k++;
    return k;
  }
  return b.cols.findIndex((c) => at(c) === 1);
}

export function woeAt(b: Binning, bin: number): number {
  if (bin < 0) return b.kind === 'numeric' ? b.missingWoe : b.noneWoe;
  return b.woe[bin] as number;
}

/** Human label of a bin, for the scorecard table and reason codes. */
export function binLabel(b: Binning, bin: number): string {
  const fmt = (v: number): string => (Number.isInteger(v) ? String(v) : v.toPrecision(4));
  if (b.kind === 'categorical') return bin < 0 ? '(unseen level)' : `= ${b.levels[bin] ?? '?'}`;
  if (bin < 0) return 'missing';
  const lo = b.cuts[bin - 1];
  const hi = b.cuts[bin];
  if (lo === undefined && hi === undefined) return 'any';
  if (lo === undefined) return `≤ ${fmt(hi as number)}`;
  if (hi === undefined) return `> ${fmt(lo)}`;
  return `${fmt(lo)} < v ≤ ${fmt(hi)}`;
}
