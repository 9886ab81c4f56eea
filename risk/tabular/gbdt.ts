import { RiskfuseError } from '../../core/errors.js';
import { mulberry32 } from '../../core/random.js';
import type { Matrix } from '../model/types.js';

/**
 * Histogram gradient-boosted trees for a binary default label, in plain TypeScript (no native code): the
 * LightGBM/XGBoost "hist" method (Ke et al. 2017, NeurIPS; Chen & Guestrin 2016, KDD) at the size a credit
 * table needs. Each feature is cut at up to `maxBins` training quantiles once; a tree grows depth-wise, a
 * node's split is the best gain G_L²/(H_L+λ) + G_R²/(H_R+λ) − G²/(H+λ) over the histogram of its rows, and the
 * larger child's histogram is the parent's minus the smaller child's (half the work per level).
 *
 * Loss: log loss on the logit, so the raw output is a log-odds (and the PD already close to calibrated). The
 * number of trees is chosen by early stopping on a validation set the trees never fit (`xVal`), so the test
 * fold of an outer cross-validation is never seen.
 *
 * Optional monotone constraints per feature (+1: the logit never falls as the feature rises; −1: never rises):
 * a split on a constrained feature is kept only if its child values are ordered, and the children's values are
 * bounded by the midpoint (LightGBM's "basic" method), so the whole ensemble is monotone in that feature.
 * Pinned by risk/test/tabular-gbdt.test.ts.
 */
export interface GbdtOptions {
  readonly maxTrees?: number;
  readonly learningRate?: number;
  readonly maxDepth?: number;
  /** Minimum rows in a leaf. */
  readonly minLeafRows?: number;
  /** L2 penalty on leaf values (λ). */
  readonly lambda?: number;
  readonly maxBins?: number;
  /** Share of rows drawn (without replacement) for each tree. */
  readonly subsample?: number;
  /** Trees without a better validation log loss before stopping. */
  readonly patience?: number;
  /** Per feature: +1 increasing, −1 decreasing, 0 free. */
  readonly monotone?: readonly number[];
  readonly seed?: number;
  /** Called every 50 trees (progress on long work). */
  readonly onProgress?: (trees: number, valLogLoss: number) => void;
}

export const GBDT_DEFAULTS = {
  maxTrees: 600,
  learningRate: 0.05,
  maxDepth: 4,
  minLeafRows: 40,
  lambda: 1,
  maxBins: 64,
  subsample: 0.8,
  patience: 40,
} as const;

/** A fitted tree, flattened: node i splits on feature[i] at x ≤ threshold[i] → left[i], else right[i]; leaves have feature −1. */
export interface TreeJson {
  readonly feature: number[];
  readonly threshold: number[];
  readonly left: number[];
  readonly right: number[];
  readonly value: number[];
}

export interface GbdtJson {
  readonly kind: 'gbdt';
  readonly featureNames: string[];
  readonly base: number;
  readonly trees: TreeJson[];
  /** Total split gain per feature (importance). */
  readonly gain: number[];
}

export class Gbdt {
  private constructor(readonly json: GbdtJson) {}

  static fromJSON(json: unknown): Gbdt {
    const j = json as Partial<GbdtJson> | null;
    if (
      j === null ||
      typeof j !== 'object' ||
      j.kind !== 'gbdt' ||
      !Array.isArray(j.trees) ||
      !Array.isArray(j.featureNames) ||
      typeof j.base !== 'number'
    )
      throw new RiskfuseError('MODEL_INVALID', 'not a gradient-boosted tree model');
    const cols = j.featureNames.length;
    for (const t of j.trees) {
      const n = t.feature.length;
      const ok =
        [t.threshold, t.left, t.right, t.value].every((a) => Array.isArray(a) && a.length === n) &&
        t.feature.every(
          (f, i) =>
            f === -1 || (f >= 0 && f < cols && (t.left[i] as number) < n && (t.right[i] as number) < n),
        );
      if (!ok) throw new RiskfuseError('MODEL_INVALID', 'gradient-boosted tree model: a tree is malformed');
    }
    return new Gbdt(j as GbdtJson);
  }

  get featureNames(): readonly string[] {
    return this.json.featureNames;
  }

  predictLogit(x: Matrix): Float64Array {
    const out = new Float64Array(x.rows).fill(this.json.base);
    for (const t of this.json.trees) addTree(t, x, out);
    return out;
  }

  toJSON(): GbdtJson {
    return this.json;
  }

  static fit(
    x: Matrix,
    y: Uint8Array,
    xVal: Matrix,
    yVal: Uint8Array,
    featureNames: readonly string[],
    options: GbdtOptions = {},
  ): Gbdt {
    const o: Opts = { ...GBDT_DEFAULTS, ...options };
    const n = x.rows;
    const cols = x.cols;
    const rand = mulberry32(o.seed ?? 1);
    const { codes, edges } = binMatrix(x, o.maxBins);
    const nb = edges.map((e) => e.length + 1);
    const positives = y.reduce((a, b) => a + b, 0);
    const rate = Math.min(1 - 1e-6, Math.max(1e-6, positives / n));
    const base = Math.log(rate / (1 - rate));
    const f = new Float64Array(n).fill(base);
    const fVal = new Float64Array(xVal.rows).fill(base);
    const g = new Float64Array(n);
    const h = new Float64Array(n);
    const trees: TreeJson[] = [];
    const gain = new Array<number>(cols).fill(0);
    let best = { loss: logLoss(fVal, yVal), trees: 0 };
    const maxBin = Math.max(...nb);
    const rows = new Uint32Array(n);
    const mono = o.monotone ?? [];

    for (let t = 0; t < o.maxTrees; t++) {
      for (let i = 0; i < n; i++) {
        const p = 1 / (1 + Math.exp(-(f[i] as number)));
        g[i] = p - (y[i] as number);
        h[i] = Math.max(p * (1 - p), 1e-12);
      }
      // Row subsample: a partial Fisher–Yates shuffle picks `m` rows without replacement.
      let m = n;
      for (let i = 0; i < n; i++) rows[i] = i;
      if (o.subsample < 1) {
        m = Math.max(1, Math.floor(n * o.subsample));
        for (let i = 0; i < m; i++) {
          const j = i + Math.floor(rand() * (n - i));
          const tmp = rows[i] as number;
          rows[i] = rows[j] as number;
          rows[j] = tmp;
        }
      }
      const tree = growTree(codes, n, cols, nb, maxBin, edges, rows.subarray(0, m), g, h, o, mono, gain);
      trees.push(tree);
      addTree(tree, x, f);
      addTree(tree, xVal, fVal);
      const loss = logLoss(fVal, yVal);
      if (loss < best.loss - 1e-7) best = { loss, trees: t + 1 };
      if ((t + 1) % 50 === 0) o.onProgress?.(t + 1, loss);
      if (t + 1 - best.trees >= o.patience) break;
    }
    return new Gbdt({
      kind: 'gbdt',
      featureNames: [...featureNames],
      base,
      trees: trees.slice(0, best.trees),
      gain,
    });
  }
}

function addTree(t: TreeJson, x: Matrix, out: Float64Array): void {
  const cols = x.cols;
  for (let r = 0; r < x.rows; r++) {
    let node = 0;
    while ((t.feature[node] as number) >= 0) {
      const v = x.data[r * cols + (t.feature[node] as number)] as number;
      node = v <= (t.threshold[node] as number) ? (t.left[node] as number) : (t.right[node] as number);
    }
    out[r] = (out[r] as number) + (t.value[node] as number);
  }
}

function logLoss(f: Float64Array, y: Uint8Array): number {
  let s = 0;
  for (let i = 0; i < f.length; i++) {
    const z = f[i] as number;
    s += Math.max(z, 0) - z * (y[i] as number) + Math.log1p(Math.exp(-Math.abs(z)));
  }
  return s / Math.max(1, f.length);
}

/**
 * Cuts each feature at up to `maxBins − 1` distinct training quantiles; bin b holds edges[b−1] < v ≤ edges[b].
 * Codes are feature-major (one Uint8Array per feature) so a histogram pass reads memory in order.
 */
export function binMatrix(x: Matrix, maxBins: number): { codes: Uint8Array[]; edges: Float64Array[] } {
  const n = x.rows;
  const codes: Uint8Array[] = [];
  const edges: Float64Array[] = [];
  const column = new Float64Array(n);
  for (let c = 0; c < x.cols; c++) {
    for (let i = 0; i < n; i++) column[i] = x.data[i * x.cols + c] as number;
    const sorted = Float64Array.from(column).sort();
    const cuts: number[] = [];
    for (let b = 1; b < maxBins; b++) {
      const v = sorted[Math.min(n - 1, Math.floor((b * n) / maxBins))] as number;
      // A cut at the largest value would leave the last bin empty.
      if (v < (sorted[n - 1] as number) && (cuts.length === 0 || v > (cuts[cuts.length - 1] as number)))
        cuts.push(v);
    }
    const e = Float64Array.from(cuts);
    const code = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      const v = column[i] as number;
      let lo = 0;
      let hi = e.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (v <= (e[mid] as number)) hi = mid;
        else lo = mid + 1;
      }
      code[i] = lo;
    }
    codes.push(code);
    edges.push(e);
  }
  return { codes, edges };
}

interface NodeWork {
  readonly node: number;
  readonly start: number;
  readonly end: number;
  readonly depth: number;
  readonly hist: Float64Array;
  readonly lo: number;
  readonly hi: number;
}

type Opts = { readonly [K in keyof typeof GBDT_DEFAULTS]: number } & GbdtOptions;

function growTree(
  codes: Uint8Array[],
  _n: number,
  cols: number,
  nb: number[],
  maxBin: number,
  edges: Float64Array[],
  rows: Uint32Array,
  g: Float64Array,
  h: Float64Array,
  o: Opts,
  mono: readonly number[],
  gain: number[],
): TreeJson {
  const tree: TreeJson = { feature: [], threshold: [], left: [], right: [], value: [] };
  const stride = maxBin * 3;
  const newNode = (): number => {
    tree.feature.push(-1);
    tree.threshold.push(0);
    tree.left.push(-1);
    tree.right.push(-1);
    tree.value.push(0);
    return tree.feature.length - 1;
  };
  const histogram = (start: number, end: number): Float64Array => {
    const hist = new Float64Array(cols * stride);
    for (let c = 0; c < cols; c++) {
      const code = codes[c] as Uint8Array;
      const off = c * stride;
      for (let k = start; k < end; k++) {
        const r = rows[k] as number;
        const b = off + (code[r] as number) * 3;
        hist[b] = (hist[b] as number) + (g[r] as number);
        hist[b + 1] = (hist[b + 1] as number) + (h[r] as number);
        hist[b + 2] = (hist[b + 2] as number) + 1;
      }
    }
    return hist;
  };
  const leafValue = (G: number, H: number, lo: number, hi: number): number =>
    Math.min(hi, Math.max(lo, -G / (H + o.lambda)));

  const stack: NodeWork[] = [
    {
      node: newNode(),
      start: 0,
      end: rows.length,
      depth: 0,
      hist: histogram(0, rows.length),
      lo: -Infinity,
      hi: Infinity,
    },
  ];
  while (stack.length > 0) {
    const w = stack.pop() as NodeWork;
    let G = 0;
    let H = 0;
    for (let b = 0; b < (nb[0] as number); b++) {
      G += w.hist[b * 3] as number;
      H += w.hist[b * 3 + 1] as number;
    }
    const count = w.end - w.start;
    tree.value[w.node] = o.learningRate * leafValue(G, H, w.lo, w.hi);
    if (w.depth >= o.maxDepth || count < 2 * o.minLeafRows) continue;

    const parentScore = (G * G) / (H + o.lambda);
    let bestGain = 1e-9;
    let bestFeature = -1;
    let bestBin = -1;
    let bestL = 0;
    let bestR = 0;
    for (let c = 0; c < cols; c++) {
      const off = c * stride;
      const bins = nb[c] as number;
      const dir = mono[c] ?? 0;
      let gl = 0;
      let hl = 0;
      let cl = 0;
      for (let b = 0; b < bins - 1; b++) {
        gl += w.hist[off + b * 3] as number;
        hl += w.hist[off + b * 3 + 1] as number;
        cl += w.hist[off + b * 3 + 2] as number;
        if (cl < o.minLeafRows) continue;
        if (count - cl < o.minLeafRows) break;
        const gr = G - gl;
        const hr = H - hl;
        const split = (gl * gl) / (hl + o.lambda) + (gr * gr) / (hr + o.lambda) - parentScore;
        if (split <= bestGain) continue;
        const vl = leafValue(gl, hl, w.lo, w.hi);
        const vr = leafValue(gr, hr, w.lo, w.hi);
        if ((dir > 0 && vl > vr) || (dir < 0 && vl < vr)) continue;
        bestGain = split;
        bestFeature = c;
        bestBin = b;
        bestL = vl;
        bestR = vr;
      }
    }
    if (bestFeature < 0) continue;
    gain[bestFeature] = (gain[bestFeature] as number) + bestGain;

    // Partition rows[start, end) in place: codes ≤ bestBin first.
    const code = codes[bestFeature] as Uint8Array;
    let i = w.start;
    let j = w.end - 1;
    while (i <= j) {
      if ((code[rows[i] as number] as number) <= bestBin) i++;
      else {
        const tmp = rows[i] as number;
        rows[i] = rows[j] as number;
        rows[j] = tmp;
        j--;
      }
    }
    const mid = i;
    const left = newNode();
    const right = newNode();
    tree.feature[w.node] = bestFeature;
    tree.threshold[w.node] = (edges[bestFeature] as Float64Array)[bestBin] as number;
    tree.left[w.node] = left;
    tree.right[w.node] = right;
    const dir = mono[bestFeature] ?? 0;
    const midValue = (bestL + bestR) / 2;
    const bounds = {
      left: { lo: w.lo, hi: dir > 0 ? Math.min(w.hi, midValue) : w.hi },
      right: { lo: dir > 0 ? Math.max(w.lo, midValue) : w.lo, hi: w.hi },
    };
    if (dir < 0) {
      bounds.left = { lo: Math.max(w.lo, midValue), hi: w.hi };
      bounds.right = { lo: w.lo, hi: Math.min(w.hi, midValue) };
    }
    const leftSmaller = mid - w.start <= w.end - mid;
    const small = leftSmaller ? histogram(w.start, mid) : histogram(mid, w.end);
    const large = new Float64Array(w.hist.length);
    for (let k = 0; k < large.length; k++) large[k] = (w.hist[k] as number) - (small[k] as number);
    const [hl, hr] = leftSmaller ? [small, large] : [large, small];
    stack.push(
      { node: left, start: w.start, end: mid, depth: w.depth + 1, hist: hl, ...bounds.left },
      { node: right, start: mid, end: w.end, depth: w.depth + 1, hist: hr, ...bounds.right },
    );
  }
  return tree;
}
