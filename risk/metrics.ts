import { RiskfuseError } from '../core/errors.js';
import { mulberry32 } from '../core/random.js';

/**
 * Discrimination and calibration metrics for binary default models, plus seeded bootstrap intervals. Pure
 * TypeScript (no tfjs), O(n log n) where sorting is needed.
 *
 * Degenerate inputs: metrics that need both classes (AUC, ROC, KS, Gini, average precision) return NaN
 * when only one class is present, so a bootstrap resample without defaulters is skipped rather than
 * aborting the run; the bootstrap reports how many it skipped. Malformed input (length mismatch, empty
 * input, labels other than 0/1, non-finite scores) throws VALIDATION_FAILED: that is a caller bug.
 */

export type Scores = ArrayLike<number>;
/** 0/1 labels (1 = default). */
export type Labels = ArrayLike<number>;

function check(scores: Scores, labels: Labels, what: string): void {
  if (scores.length !== labels.length) {
    throw new RiskfuseError(
      'VALIDATION_FAILED',
      `${what}: ${scores.length} scores but ${labels.length} labels; they must pair up`,
    );
  }
  if (scores.length === 0) throw new RiskfuseError('VALIDATION_FAILED', `${what}: no rows`);
  for (let i = 0; i < scores.length; i++) {
    const l = labels[i];
    if (l !== 0 && l !== 1) {
      throw new RiskfuseError('VALIDATION_FAILED', `${what}: label ${String(l)} at row ${i} is not 0 or 1`);
    }
    if (!Number.isFinite(scores[i])) {
      throw new RiskfuseError('VALIDATION_FAILED', `${what}: score at row ${i} is not finite`);
    }
  }
}

/** Scores split by class, each sorted descending. */
function splitSorted(scores: Scores, labels: Labels): { pos: Float64Array; neg: Float64Array } {
  let nPos = 0;
  for (let i = 0; i < labels.length; i++) nPos += labels[i] === 1 ? 1 : 0;
  const pos = new Float64Array(nPos);
  const neg = new Float64Array(labels.length - nPos);
  let p = 0;
  let n = 0;
  for (let i = 0; i < labels.length; i++) {
    if (labels[i] === 1) pos[p++] = scores[i] as number;
    else neg[n++] = scores[i] as number;
  }
  // Typed-array sort is numeric and native: much faster than sorting an index array with a comparator.
  pos.sort().reverse();
  neg.sort().reverse();
  return { pos, neg };
}

/**
 * Cumulative true/false positives at each distinct threshold, descending: predicting "default" for
 * score ≥ thresholds[k] yields tp[k] defaulters and fp[k] non-defaulters. Tied scores form one step.
 */
interface Steps {
  readonly thresholds: number[];
  readonly tp: number[];
  readonly fp: number[];
  readonly nPos: number;
  readonly nNeg: number;
}

function steps(scores: Scores, labels: Labels, what: string): Steps {
  check(scores, labels, what);
  const { pos, neg } = splitSorted(scores, labels);
  const thresholds: number[] = [];
  const tp: number[] = [];
  const fp: number[] = [];
  let i = 0;
  let j = 0;
  while (i < pos.length || j < neg.length) {
    const t = Math.max(
      i < pos.length ? (pos[i] as number) : -Infinity,
      j < neg.length ? (neg[j] as number) : -Infinity,
    );
    while (i < pos.length && pos[i] === t) i++;
    while (j < neg.length && neg[j] === t) j++;
    thresholds.push(t);
    tp.push(i);
    fp.push(j);
  }
  return { thresholds, tp, fp, nPos: pos.length, nNeg: neg.length };
}

/**
 * Area under the ROC curve = P(score of a random defaulter > score of a random non-defaulter), ties
 * counting ½ (the Mann–Whitney statistic with average ranks). NaN when only one class is present.
 */
export function auc(scores: Scores, labels: Labels): number {
  check(scores, labels, 'auc');
  const { pos, neg } = splitSorted(scores, labels);
  if (pos.length === 0 || neg.length === 0) return NaN;
  // Walk positives from the lowest score up (arrays are descending, so from the end), counting negatives
  // strictly below (lt) and at most equal (le) to each; both pointers only move forward: O(n) after sorting.
  let lt = 0;
  let le = 0;
  let jLt = neg.length - 1;
  let jLe = neg.length - 1;
  let wins = 0;
  for (let i = pos.length - 1; i >= 0; i--) {
    const s = pos[i] as number;
    while (jLt >= 0 && (neg[jLt] as number) < s) {
      lt++;
      jLt--;
    }
    while (jLe >= 0 && (neg[jLe] as number) <= s) {
      le++;
      jLe--;
    }
    wins += lt + (le - lt) / 2;
  }
  return wins / (pos.length * neg.length);
}

export interface RocCurve {
  /** Starts at (0, 0) and ends at (1, 1). */
  readonly fpr: number[];
  readonly tpr: number[];
  /** thresholds[k] gives (fpr[k], tpr[k]) for "score ≥ threshold"; the first point's threshold is +∞. */
  readonly thresholds: number[];
}

/** ROC curve with one point per distinct score. Empty arrays when only one class is present. */
export function rocCurve(scores: Scores, labels: Labels): RocCurve {
  const s = steps(scores, labels, 'rocCurve');
  if (s.nPos === 0 || s.nNeg === 0) return { fpr: [], tpr: [], thresholds: [] };
  return {
    fpr: [0, ...s.fp.map((f) => f / s.nNeg)],
    tpr: [0, ...s.tp.map((t) => t / s.nPos)],
    thresholds: [Infinity, ...s.thresholds],
  };
}

/** Kolmogorov–Smirnov statistic: the largest gap between the classes' score CDFs, max |TPR − FPR|. */
export function ks(scores: Scores, labels: Labels): number {
  const s = steps(scores, labels, 'ks');
  if (s.nPos === 0 || s.nNeg === 0) return NaN;
  let best = 0;
  for (let k = 0; k < s.tp.length; k++) {
    best = Math.max(best, Math.abs((s.tp[k] as number) / s.nPos - (s.fp[k] as number) / s.nNeg));
  }
  return best;
}

/** Gini coefficient (accuracy ratio) = 2·AUC − 1. */
export function gini(scores: Scores, labels: Labels): number {
  return 2 * auc(scores, labels) - 1;
}

/**
 * Area under the precision–recall curve as average precision: Σ (Rₖ − Rₖ₋₁)·Pₖ over distinct thresholds
 * (step-wise, no interpolation; the scikit-learn definition). NaN without positives.
 */
export function prAuc(scores: Scores, labels: Labels): number {
  const s = steps(scores, labels, 'prAuc');
  if (s.nPos === 0) return NaN;
  let ap = 0;
  let prevRecall = 0;
  for (let k = 0; k < s.tp.length; k++) {
    const tp = s.tp[k] as number;
    const recall = tp / s.nPos;
    ap += (recall - prevRecall) * (tp / (tp + (s.fp[k] as number)));
    prevRecall = recall;
  }
  return ap;
}

function checkProbabilities(p: Scores, y: Labels, what: string): void {
  check(p, y, what);
  for (let i = 0; i < p.length; i++) {
    const v = p[i] as number;
    if (v < 0 || v > 1)
      throw new RiskfuseError('VALIDATION_FAILED', `${what}: p=${v} at row ${i} is outside [0, 1]`);
  }
}

/** Brier score: mean squared error of the predicted probability. */
export function brier(p: Scores, y: Labels): number {
  checkProbabilities(p, y, 'brier');
  let sum = 0;
  for (let i = 0; i < p.length; i++) sum += ((p[i] as number) - (y[i] as number)) ** 2;
  return sum / p.length;
}

/** Mean negative log-likelihood (natural log); probabilities are clipped to [eps, 1 − eps]. */
export function logLoss(p: Scores, y: Labels, eps = 1e-15): number {
  checkProbabilities(p, y, 'logLoss');
  let sum = 0;
  for (let i = 0; i < p.length; i++) {
    const q = Math.min(1 - eps, Math.max(eps, p[i] as number));
    sum -= y[i] === 1 ? Math.log(q) : Math.log(1 - q);
  }
  return sum / p.length;
}

export interface ReliabilityBin {
  /** Bin edges on the predicted probability, [lo, hi) (the last bin includes hi). */
  readonly lo: number;
  readonly hi: number;
  readonly count: number;
  readonly meanPredicted: number;
  readonly observedRate: number;
}

/**
 * 'uniform': equal-width bins on [0, 1]. 'quantile': equal-count bins, better at 1–5 % default rates,
 * where uniform bins put nearly every loan in the first bin.
 */
export type BinStrategy = 'uniform' | 'quantile';

/** Reliability (calibration) table: predicted vs observed default rate per bin. Empty bins are left out. */
export function reliabilityTable(
  p: Scores,
  y: Labels,
  bins = 10,
  strategy: BinStrategy = 'uniform',
): ReliabilityBin[] {
  checkProbabilities(p, y, 'reliabilityTable');
  if (!Number.isInteger(bins) || bins < 1) {
    throw new RiskfuseError(
      'VALIDATION_FAILED',
      `reliabilityTable: bins must be a positive integer, got ${bins}`,
    );
  }
  const n = p.length;
  const edges: number[] = [];
  if (strategy === 'uniform') {
    for (let b = 0; b <= bins; b++) edges.push(b / bins);
  } else {
    const sorted = Float64Array.from(p).sort();
    for (let b = 0; b <= bins; b++) edges.push(sorted[Math.min(n - 1, Math.floor((b * n) / bins))] as number);
    edges[bins] = 1;
    edges[0] = 0;
  }
  const count = new Float64Array(bins);
  const sumP = new Float64Array(bins);
  const sumY = new Float64Array(bins);
  for (let i = 0; i < n; i++) {
    const v = p[i] as number;
    const b = binOf(edges, v);
    count[b]! += 1;
    sumP[b]! += v;
    sumY[b]! += y[i] as number;
  }
  const out: ReliabilityBin[] = [];
  for (let b = 0; b < bins; b++) {
    const c = count[b] as number;
    if (c === 0) continue;
    out.push({
      lo: edges[b] as number,
      hi: edges[b + 1] as number,
      count: c,
      meanPredicted: (sumP[b] as number) / c,
      observedRate: (sumY[b] as number) / c,
    });
  }
  return out;
}

/** Index of the last edge ≤ v, clamped to the last bin (so v = 1 falls in it). */
function binOf(edges: readonly number[], v: number): number {
  let lo = 0;
  let hi = edges.length - 2;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if ((edges[mid] as number) <= v) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/** Expected calibration error: Σ (n_b / N)·|mean predicted_b − observed rate_b| over the bins. */
export function expectedCalibrationError(
  p: Scores,
  y: Labels,
  bins = 10,
  strategy: BinStrategy = 'uniform',
): number {
  const table = reliabilityTable(p, y, bins, strategy);
  let sum = 0;
  for (const b of table) sum += b.count * Math.abs(b.meanPredicted - b.observedRate);
  return sum / p.length;
}

// ---------------------------------------------------------------------------------------------------------
// Bootstrap

/** A statistic of the rows at `rows` (indices into the original data; repeats allowed). */
export type StatFn = (rows: Uint32Array) => number;

export interface BootstrapOptions {
  /** Resamples; default 1000. */
  readonly iterations?: number;
  readonly seed: number;
  /** Two-sided level: the interval holds 1 − alpha; default 0.05. */
  readonly alpha?: number;
  /**
   * A group key per row (e.g. borrower id): whole groups are resampled, so correlated rows of one
   * borrower stay together and the interval is not too narrow.
   */
  readonly groups?: ArrayLike<number | string>;
}

export interface BootstrapInterval {
  /** The statistic on the original rows. */
  readonly estimate: number;
  /** Percentile interval bounds. */
  readonly lo: number;
  readonly hi: number;
  readonly iterations: number;
  /** Resamples whose statistic was NaN (e.g. no defaulter drawn) and were left out. */
  readonly skipped: number;
}

/** Copies `values` at `rows` (for writing a StatFn). */
export function pick(values: ArrayLike<number>, rows: Uint32Array): Float64Array {
  const out = new Float64Array(rows.length);
  for (let i = 0; i < rows.length; i++) out[i] = values[rows[i] as number] as number;
  return out;
}

function resampler(n: number, opts: BootstrapOptions): () => Uint32Array {
  const rand = mulberry32(opts.seed);
  if (opts.groups === undefined) {
    return () => {
      const rows = new Uint32Array(n);
      for (let i = 0; i < n; i++) rows[i] = Math.floor(rand() * n);
      return rows;
    };
  }
  if (opts.groups.length !== n) {
    throw new RiskfuseError('VALIDATION_FAILED', `bootstrap: ${opts.groups.length} group keys for ${n} rows`);
  }
  const byGroup = new Map<number | string, number[]>();
  for (let i = 0; i < n; i++) {
    const g = opts.groups[i] as number | string;
    const list = byGroup.get(g);
    if (list === undefined) byGroup.set(g, [i]);
    else list.push(i);
  }
  const members = [...byGroup.values()];
  return () => {
    const rows: number[] = [];
    for (let k = 0; k < members.length; k++) {
      for (const r of members[Math.floor(rand() * members.length)] as number[]) rows.push(r);
    }
    return Uint32Array.from(rows);
  };
}

function percentile(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return NaN;
  const pos = q * (sorted.length - 1);
  const i = Math.floor(pos);
  const a = sorted[i] as number;
  const b = sorted[Math.min(sorted.length - 1, i + 1)] as number;
  return a + (b - a) * (pos - i);
}

function interval(estimate: number, draws: number[], iterations: number, alpha: number): BootstrapInterval {
  const sorted = Float64Array.from(draws).sort();
  return {
    estimate,
    lo: percentile(sorted, alpha / 2),
    hi: percentile(sorted, 1 - alpha / 2),
    iterations,
    skipped: iterations - draws.length,
  };
}

function identity(n: number): Uint32Array {
  const rows = new Uint32Array(n);
  for (let i = 0; i < n; i++) rows[i] = i;
  return rows;
}

function settings(n: number, opts: BootstrapOptions): { iterations: number; alpha: number } {
  const iterations = opts.iterations ?? 1000;
  const alpha = opts.alpha ?? 0.05;
  if (!Number.isInteger(n) || n < 1) throw new RiskfuseError('VALIDATION_FAILED', `bootstrap: n=${n} rows`);
  if (!(alpha > 0 && alpha < 1)) throw new RiskfuseError('VALIDATION_FAILED', `bootstrap: alpha=${alpha}`);
  if (!Number.isInteger(iterations) || iterations < 1) {
    throw new RiskfuseError('VALIDATION_FAILED', `bootstrap: iterations=${iterations}`);
  }
  return { iterations, alpha };
}

/**
 * Percentile bootstrap interval of `stat` over `n` rows, resampling rows (or whole groups) with
 * replacement; the same seed gives the same interval.
 */
export function bootstrapCi(stat: StatFn, n: number, opts: BootstrapOptions): BootstrapInterval {
  const { iterations, alpha } = settings(n, opts);
  const draw = resampler(n, opts);
  const draws: number[] = [];
  for (let it = 0; it < iterations; it++) {
    const v = stat(draw());
    if (!Number.isNaN(v)) draws.push(v);
  }
  return interval(stat(identity(n)), draws, iterations, alpha);
}

/**
 * Paired bootstrap of statA − statB (e.g. two models' AUC on the same loans): both are evaluated on the
 * same resamples, so the interval reflects the difference's own, usually much smaller, variance.
 */
export function bootstrapDiff(
  statA: StatFn,
  statB: StatFn,
  n: number,
  opts: BootstrapOptions,
): BootstrapInterval {
  const { iterations, alpha } = settings(n, opts);
  const draw = resampler(n, opts);
  const draws: number[] = [];
  for (let it = 0; it < iterations; it++) {
    const rows = draw();
    const v = statA(rows) - statB(rows);
    if (!Number.isNaN(v)) draws.push(v);
  }
  const all = identity(n);
  return interval(statA(all) - statB(all), draws, iterations, alpha);
}
