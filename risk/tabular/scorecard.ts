import { RiskfuseError } from '../../core/errors.js';
import { POINTS_BASE, POINTS_BASE_ODDS, POINTS_PDO } from '../grades.js';
import type { Matrix } from '../model/types.js';
import type { ColumnGroup } from './encode.js';
import { binLabel, binOf, fitBinnings, woeAt, type Binning, type WoeOptions } from './woe.js';

/**
 * The credit scorecard: WoE-binned columns (woe.ts) into a logistic regression, scaled to points
 * (Siddiqi 2006, ch. 10). logit(PD) = β₀ + Σⱼ βⱼ·WoEⱼ; score = Offset + Factor·ln(odds good:bad) with
 * Factor = PDO / ln 2 and Offset chosen so that POINTS_BASE points mean odds POINTS_BASE_ODDS:1 (grades.ts: the
 * same scale the fused model's scores use). Each column's bin is worth
 * points = −(βⱼ·WoE + β₀/k)·Factor + Offset/k (k = columns in the model), so a row's score is the sum of its
 * bins' points and every PDO points halve the odds of default. Reason codes are the columns whose points fall
 * furthest below the best bin of that column (the "points below maximum" method US adverse-action notices
 * use). Columns with IV < `minIv` (0.02: "not predictive", Siddiqi) are left out.
 * Pinned by risk/test/tabular-scorecard.test.ts.
 */
export interface ScorecardOptions extends WoeOptions {
  /** Ridge penalty on the coefficients (sum-of-log-loss scale); default 1. */
  readonly ridge?: number;
  readonly minIv?: number;
}

export interface ScorecardJson {
  readonly kind: 'scorecard';
  readonly featureNames: string[];
  readonly binnings: Binning[];
  /** Binnings in the model (IV ≥ minIv), as indices into `binnings`, with their coefficients. */
  readonly used: number[];
  readonly coef: number[];
  readonly intercept: number;
  readonly pdo: number;
  readonly basePoints: number;
  readonly baseOdds: number;
}

export interface ScorecardReason {
  readonly column: string;
  readonly bin: string;
  readonly points: number;
  /** Points short of the column's best bin. */
  readonly shortfall: number;
}

export class Scorecard {
  private constructor(readonly json: ScorecardJson) {}

  static fromJSON(json: unknown): Scorecard {
    const j = json as Partial<ScorecardJson> | null;
    if (
      j === null ||
      typeof j !== 'object' ||
      j.kind !== 'scorecard' ||
      !Array.isArray(j.binnings) ||
      !Array.isArray(j.used) ||
      !Array.isArray(j.coef) ||
      j.used.length !== j.coef.length ||
      j.used.some((u) => !Number.isInteger(u) || u < 0 || u >= (j.binnings?.length ?? 0))
    )
      throw new RiskfuseError('MODEL_INVALID', 'not a scorecard model');
    return new Scorecard(j as ScorecardJson);
  }

  static fit(
    x: Matrix,
    y: Uint8Array,
    groups: readonly ColumnGroup[],
    featureNames: readonly string[],
    options: ScorecardOptions = {},
  ): Scorecard {
    const binnings = fitBinnings(x, y, groups, options);
    const minIv = options.minIv ?? 0.02;
    let used = binnings.flatMap((b, i) => (b.iv >= minIv ? [i] : []));
    // Nothing predictive at all: keep the strongest column, so the model is still a scorecard.
    if (used.length === 0 && binnings.length > 0)
      used = [binnings.reduce((best, b, i) => (b.iv > (binnings[best] as Binning).iv ? i : best), 0)];
    const w = woeMatrix(binnings, used, x);
    const { intercept, coef } = fitLogistic(w, x.rows, used.length, y, options.ridge ?? 1);
    return new Scorecard({
      kind: 'scorecard',
      featureNames: [...featureNames],
      binnings,
      used,
      coef,
      intercept,
      pdo: POINTS_PDO,
      basePoints: POINTS_BASE,
      baseOdds: POINTS_BASE_ODDS,
    });
  }

  predictLogit(x: Matrix): Float64Array {
    const { used, coef, intercept, binnings } = this.json;
    const w = woeMatrix(binnings, used, x);
    const k = used.length;
    const out = new Float64Array(x.rows);
    for (let r = 0; r < x.rows; r++) {
      let z = intercept;
      for (let j = 0; j < k; j++) z += (coef[j] as number) * (w[r * k + j] as number);
      out[r] = z;
    }
    return out;
  }

  private get factor(): number {
    return this.json.pdo / Math.LN2;
  }

  private get offset(): number {
    return this.json.basePoints - this.factor * Math.log(this.json.baseOdds);
  }

  /** Points of bin `bin` of used column j (unrounded). */
  binPoints(j: number, bin: number): number {
    const { used, coef, intercept, binnings } = this.json;
    const k = used.length;
    const b = binnings[used[j] as number] as Binning;
    return -((coef[j] as number) * woeAt(b, bin) + intercept / k) * this.factor + this.offset / k;
  }

  /** Score (sum of the bins' points) per row: Offset + Factor·ln(odds good:bad). */
  points(x: Matrix): Float64Array {
    return Float64Array.from(this.predictLogit(x), (z) => this.offset - this.factor * z);
  }

  /** The scorecard as a table: per used column and bin, the WoE and the points. */
  table(): {
    column: string;
    iv: number;
    bins: { bin: string; count: number; badRate: number; woe: number; points: number }[];
  }[] {
    return this.json.used.map((u, j) => {
      const b = this.json.binnings[u] as Binning;
      const bins = b.woe.map((woe, i) => ({
        bin: binLabel(b, i),
        count: b.counts[i] as number,
        badRate: (b.bads[i] as number) / Math.max(1, b.counts[i] as number),
        woe,
        points: this.binPoints(j, i),
      }));
      if (b.kind === 'numeric' && b.missingCount > 0)
        bins.push({
          bin: 'missing',
          count: b.missingCount,
          badRate: NaN,
          woe: b.missingWoe,
          points: this.binPoints(j, -1),
        });
      return { column: b.name, iv: b.iv, bins };
    });
  }

  /** The `top` columns costing row r the most points against their best bin. */
  reasons(x: Matrix, r: number, top = 4): ScorecardReason[] {
    const out: ScorecardReason[] = [];
    this.json.used.forEach((u, j) => {
      const b = this.json.binnings[u] as Binning;
      const bin = binOf(b, x, r);
      const all = [...b.woe.map((_, i) => i), ...(b.kind === 'numeric' && b.missingCount > 0 ? [-1] : [])];
      const best = Math.max(...all.map((i) => this.binPoints(j, i)));
      const points = this.binPoints(j, bin);
      if (best - points > 1e-9)
        out.push({ column: b.name, bin: binLabel(b, bin), points, shortfall: best - points });
    });
    return out.sort((a, b) => b.shortfall - a.shortfall).slice(0, top);
  }

  toJSON(): ScorecardJson {
    return this.json;
  }
}

function woeMatrix(binnings: readonly Binning[], used: readonly number[], x: Matrix): Float64Array {
  const k = used.length;
  const w = new Float64Array(x.rows * k);
  for (let r = 0; r < x.rows; r++) {
    for (let j = 0; j < k; j++) {
      const b = binnings[used[j] as number] as Binning;
      w[r * k + j] = woeAt(b, binOf(b, x, r));
    }
  }
  return w;
}

/**
 * Ridge logistic regression by Newton–Raphson (IRLS): the problem is convex and has a handful of columns, so
 * a few exact Newton steps beat any first-order method. The intercept is not penalised.
 */
export function fitLogistic(
  w: Float64Array,
  rows: number,
  k: number,
  y: Uint8Array,
  ridge: number,
): { intercept: number; coef: number[] } {
  const d = k + 1;
  const beta = new Float64Array(d);
  const rate = Math.min(1 - 1e-6, Math.max(1e-6, y.reduce((a, b) => a + b, 0) / rows));
  beta[0] = Math.log(rate / (1 - rate));
  const xi = new Float64Array(d);
  for (let iter = 0; iter < 50; iter++) {
    const grad = new Float64Array(d);
    const hess = new Float64Array(d * d);
    for (let r = 0; r < rows; r++) {
      xi[0] = 1;
      for (let j = 0; j < k; j++) xi[j + 1] = w[r * k + j] as number;
      let z = 0;
      for (let j = 0; j < d; j++) z += (beta[j] as number) * (xi[j] as number);
      const p = 1 / (1 + Math.exp(-z));
      const e = p - (y[r] as number);
      const s = Math.max(p * (1 - p), 1e-12);
      for (let a = 0; a < d; a++) {
        grad[a]! += e * (xi[a] as number);
        for (let b = 0; b <= a; b++) hess[a * d + b]! += s * (xi[a] as number) * (xi[b] as number);
      }
    }
    for (let a = 1; a < d; a++) {
      grad[a]! += ridge * (beta[a] as number);
      hess[a * d + a]! += ridge;
    }
    for (let a = 0; a < d; a++) for (let b = a + 1; b < d; b++) hess[a * d + b] = hess[b * d + a] as number;
    const step = solve(hess, grad, d);
    let size = 0;
    for (let j = 0; j < d; j++) {
      beta[j]! -= step[j] as number;
      size = Math.max(size, Math.abs(step[j] as number));
    }
    if (size < 1e-8) break;
  }
  return { intercept: beta[0], coef: Array.from(beta.subarray(1)) };
}

/** Solves A·s = b (A symmetric positive definite, d small) by Gaussian elimination with partial pivoting. */
function solve(a: Float64Array, b: Float64Array, d: number): Float64Array {
  const m = Float64Array.from(a);
  const v = Float64Array.from(b);
  for (let c = 0; c < d; c++) {
    let piv = c;
    for (let r = c + 1; r < d; r++)
      if (Math.abs(m[r * d + c] as number) > Math.abs(m[piv * d + c] as number)) piv = r;
    if (piv !== c) {
      for (let k = 0; k < d; k++)
        [m[c * d + k], m[piv * d + k]] = [m[piv * d + k] as number, m[c * d + k] as number];
      [v[c], v[piv]] = [v[piv] as number, v[c] as number];
    }
    const diag = (m[c * d + c] as number) || 1e-12;
    for (let r = c + 1; r < d; r++) {
      const f = (m[r * d + c] as number) / diag;
      if (f === 0) continue;
      for (let k = c; k < d; k++) m[r * d + k]! -= f * (m[c * d + k] as number);
      v[r]! -= f * (v[c] as number);
    }
  }
  const s = new Float64Array(d);
  for (let r = d - 1; r >= 0; r--) {
    let acc = v[r] as number;
    for (let k = r + 1; k < d; k++) acc -= (m[r * d + k] as number) * (s[k] as number);
    s[r] = acc / ((m[r * d + r] as number) || 1e-12);
  }
  return s;
}
