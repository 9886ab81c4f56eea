/**
 * The Numenta Anomaly Benchmark's scoring (NAB v1.1, `nab/sweeper.py` and `nab/optimizer.py`), re-implemented
 * so that our detector is judged by NAB's rules rather than our own:
 *
 * - Every row whose anomaly score is ≥ the threshold is a detection (a run of flagged rows is many detections).
 * - Rows of the probationary period — the first min(⌊15 % of the rows⌋, 750) — are not scored; a window that
 *   lies wholly inside it does not count.
 * - A window's worth is the best (earliest) of its detections: tpWeight × σ(position) / σ(−1), position −1 at the
 *   window's first row and 0 just after its last (scaled sigmoid 2/(1+e^{5p}) − 1); a window without a
 *   detection costs −fnWeight.
 * - A detection outside every window costs fpWeight × σ(position past the previous window), position measured
 *   in window widths (−1 × fpWeight when no window precedes or it is ≥ 3 widths behind).
 * - One threshold per profile for the whole corpus: the distinct score that maximises the corpus total (NAB's
 *   optimiser sweeps every distinct score, highest first; ties keep the higher threshold).
 * - Normalised: 100 × (raw − null) / (perfect − null), with the null detector (never detects) and the perfect one
 *   (detects every window's first scored row) run through the same sweep.
 *
 * Pinned against NAB's published per-file scores of the Numenta detector by `alerts/test/nab-scorer.test.ts`.
 */

export interface CostMatrix {
  readonly tpWeight: number;
  readonly fpWeight: number;
  readonly fnWeight: number;
}

/** NAB's `config/profiles.json`. */
export const NAB_PROFILES = {
  standard: { tpWeight: 1, fpWeight: 0.11, fnWeight: 1 },
  reward_low_FP_rate: { tpWeight: 1, fpWeight: 0.22, fnWeight: 1 },
  reward_low_FN_rate: { tpWeight: 1, fpWeight: 0.11, fnWeight: 2 },
} as const satisfies Record<string, CostMatrix>;
export type ProfileName = keyof typeof NAB_PROFILES;
export const PROFILE_NAMES = Object.keys(NAB_PROFILES) as ProfileName[];

const PROBATION_PCT = 0.15;

export const probationRows = (rows: number): number =>
  Math.min(Math.floor(PROBATION_PCT * rows), PROBATION_PCT * 5000);

const scaledSigmoid = (pos: number): number => (pos >= 3 ? -1 : 2 / (1 + Math.exp(5 * pos)) - 1);
const MAX_TP = scaledSigmoid(-1);

/**
 * A file's geometry, independent of the detector and the profile: for every scored row, the window it lies in
 * (−1 outside) and its unweighted sweep value. Computed once per file, reused for every detector run.
 */
export interface FileGeometry {
  readonly rows: number;
  readonly probation: number;
  /** Per scored row (index − probation): window number within the file, or −1. */
  readonly window: Int32Array;
  /** Per scored row: scaled sigmoid of its position (TP value inside a window, FP value outside). */
  readonly unweighted: Float64Array;
  /** Windows with at least one scored row. */
  readonly windows: number;
}

/** `timestamps` and window limits as NAB writes them; windows match rows by exact timestamp (as NAB does). */
export function fileGeometry(
  timestamps: readonly string[],
  windowLimits: readonly (readonly [string, string])[],
): FileGeometry {
  const rows = timestamps.length;
  const probation = probationRows(rows);
  const index = new Map<string, number>();
  timestamps.forEach((t, i) => index.set(t, i));
  const limits = [...windowLimits].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  const window = new Int32Array(Math.max(0, rows - probation)).fill(-1);
  const unweighted = new Float64Array(window.length);
  let next = 0;
  let cur = -1;
  let curLeft = 0;
  let curRight = 0;
  let prevRight = -1;
  let prevWidth = 0;
  const counted = new Set<number>();
  for (let i = 0; i < rows; i++) {
    const nextLimits = limits[next];
    if (nextLimits !== undefined && timestamps[i] === nextLimits[0]) {
      cur = next++;
      curLeft = i;
      const right = index.get(nextLimits[1]);
      if (right === undefined) throw new Error(`window end ${nextLimits[1]} is not a row`);
      curRight = right;
    }
    let u: number;
    if (cur >= 0) u = scaledSigmoid(-(curRight - i + 1) / (curRight - curLeft + 1));
    else u = prevRight < 0 ? -1 : scaledSigmoid(Math.abs(prevRight - i) / (prevWidth - 1));
    if (i >= probation) {
      const j = Math.floor(i - probation);
      window[j] = cur;
      unweighted[j] = u;
      if (cur >= 0) counted.add(cur);
    }
    if (cur >= 0 && i === curRight) {
      prevRight = i;
      prevWidth = curRight - curLeft + 1;
      cur = -1;
    }
  }
  return { rows, probation, window, unweighted, windows: counted.size };
}

export interface FileScore {
  readonly score: number;
  readonly tp: number;
  readonly fp: number;
  /** Windows with a detection. */
  readonly detected: number;
  readonly windows: number;
}

/** NAB's score for one file at one threshold (`Sweeper.scoreDataSet`): detections are rows with score ≥ it. */
export function scoreFile(
  g: FileGeometry,
  scores: ArrayLike<number>,
  threshold: number,
  cost: CostMatrix,
): FileScore {
  const best = new Map<number, number>();
  let fpScore = 0;
  let tp = 0;
  let fp = 0;
  for (let j = 0; j < g.window.length; j++) {
    if ((scores[j + g.probation] ?? 0) < threshold) continue;
    const w = g.window[j] as number;
    const u = g.unweighted[j] as number;
    if (w < 0) {
      fp++;
      fpScore += u * cost.fpWeight;
    } else {
      tp++;
      const v = (u * cost.tpWeight) / MAX_TP;
      best.set(w, Math.max(best.get(w) ?? -Infinity, v));
    }
  }
  let score = fpScore - cost.fnWeight * (g.windows - best.size);
  for (const v of best.values()) score += Math.max(v, -cost.fnWeight);
  return { score, tp, fp, detected: best.size, windows: g.windows };
}

/** The perfect detector's and the null detector's raw scores over a set of files. */
export const perfectScore = (gs: readonly FileGeometry[], cost: CostMatrix): number =>
  gs.reduce((s, g) => {
    const labels = new Float64Array(g.rows);
    for (let j = 0; j < g.window.length; j++) labels[j + g.probation] = (g.window[j] as number) >= 0 ? 1 : 0;
    return s + scoreFile(g, labels, 1, cost).score;
  }, 0);
export const nullScore = (gs: readonly FileGeometry[], cost: CostMatrix): number =>
  gs.reduce((s, g) => s - cost.fnWeight * g.windows, 0);

export const normalise = (raw: number, perfect: number, nul: number): number =>
  perfect === nul ? NaN : (100 * (raw - nul)) / (perfect - nul);

/**
 * NAB's threshold optimiser over a corpus: walks every scored row from the highest score down, keeping the
 * running total, and returns the threshold with the best total (`Sweeper.calcScoreByThreshold`, sorted by score;
 * the first of equal totals — the highest threshold — wins, as Python's stable sort keeps it first).
 */
export function optimiseThreshold(
  files: readonly { readonly g: FileGeometry; readonly scores: ArrayLike<number> }[],
  cost: CostMatrix,
): { threshold: number; score: number } {
  let n = 0;
  for (const f of files) n += f.g.window.length;
  const score = new Float64Array(n);
  const key = new Int32Array(n); // −1: false positive, else a corpus-wide window id
  const value = new Float64Array(n);
  let k = 0;
  let windowBase = 0;
  for (const f of files) {
    for (let j = 0; j < f.g.window.length; j++) {
      const w = f.g.window[j] as number;
      score[k] = f.scores[j + f.g.probation] ?? 0;
      key[k] = w < 0 ? -1 : windowBase + w;
      const u = f.g.unweighted[j] as number;
      value[k] = w < 0 ? u * cost.fpWeight : (u * cost.tpWeight) / MAX_TP;
      k++;
    }
    windowBase += f.g.window.reduce((m, w) => Math.max(m, w + 1), 0);
  }
  const order = Array.from({ length: n }, (_, i) => i).sort(
    (a, b) => (score[b] as number) - (score[a] as number),
  );
  const windowBest = new Float64Array(windowBase).fill(-cost.fnWeight);
  let total = -cost.fnWeight * files.reduce((s, f) => s + f.g.windows, 0);
  let cur = 1.1;
  let best = { threshold: cur, score: total };
  for (const i of order) {
    const s = score[i] as number;
    if (s !== cur) {
      if (total > best.score) best = { threshold: cur, score: total };
      cur = s;
    }
    const w = key[i] as number;
    const v = value[i] as number;
    if (w < 0) total += v;
    else if (v > (windowBest[w] as number)) {
      total += v - (windowBest[w] as number);
      windowBest[w] = v;
    }
  }
  if (total > best.score) best = { threshold: cur, score: total };
  return best;
}
