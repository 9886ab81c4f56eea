import { reliabilityTable } from './metrics.js';

/**
 * The per-decile calibration check of the evaluation report, as a bank's validation function runs it per
 * rating grade: for each equal-count PD decile of the test rows, the defaults seen against the mean PD, the
 * factor between them, and the Jeffreys test of the PD against the observed rate (ECB, "Instructions for
 * reporting the validation results of internal models", 2019, §2.5.3.1: the posterior of the default rate
 * under the Jeffreys prior Beta(½, ½) is Beta(D + ½, N − D + ½)). A decile whose PD lies outside the 95 %
 * interval of that posterior is flagged `under` (PD too low: the conservative failure a supervisor looks for)
 * or `over`. A factor alone misleads in the lowest deciles, where two defaults more or less double the observed
 * rate; the interval says when a factor is evidence.
 * `monotone` says whether the observed rate rises with the deciles (a PD that ranks should order the observed
 * rates); `inversions` counts the adjacent pairs where it falls, and `significantInversions` those whose
 * intervals do not overlap. Pinned by risk/test/decile-check.test.ts.
 */
export interface DecileRow {
  readonly lo: number;
  readonly hi: number;
  readonly count: number;
  readonly defaults: number;
  readonly meanPredicted: number;
  readonly observedRate: number;
  /** max(predicted / observed, observed / predicted); undefined without defaults. */
  readonly ratio?: number;
  /** 95 % Jeffreys interval of the default rate. */
  readonly interval: [number, number];
  readonly verdict: 'ok' | 'under' | 'over';
}

export interface DecileCheck {
  readonly deciles: DecileRow[];
  /** Largest factor over the deciles with defaults (1 = perfect). */
  readonly worstRatio: number;
  readonly monotone: boolean;
  readonly inversions: number;
  readonly significantInversions: number;
  /** Deciles whose PD is outside the Jeffreys interval, by direction. */
  readonly under: number;
  readonly over: number;
}

export function decileCheck(
  p: ArrayLike<number>,
  y: ArrayLike<number>,
  bins = 10,
  level = 0.95,
): DecileCheck {
  const alpha = (1 - level) / 2;
  const deciles: DecileRow[] = reliabilityTable(p, y, bins, 'quantile').map((b) => {
    const defaults = Math.round(b.observedRate * b.count);
    const interval: [number, number] = [
      defaults === 0 ? 0 : betaQuantile(alpha, defaults + 0.5, b.count - defaults + 0.5),
      defaults === b.count ? 1 : betaQuantile(1 - alpha, defaults + 0.5, b.count - defaults + 0.5),
    ];
    const verdict = b.meanPredicted < interval[0] ? 'under' : b.meanPredicted > interval[1] ? 'over' : 'ok';
    return {
      lo: b.lo,
      hi: b.hi,
      count: b.count,
      defaults,
      meanPredicted: b.meanPredicted,
      observedRate: b.observedRate,
      ...(defaults > 0 && b.meanPredicted > 0
        ? { ratio: Math.max(b.meanPredicted / b.observedRate, b.observedRate / b.meanPredicted) }
        : {}),
      interval,
      verdict,
    };
  });
  let inversions = 0;
  let significantInversions = 0;
  for (let k = 1; k < deciles.length; k++) {
    const a = deciles[k - 1] as DecileRow;
    const b = deciles[k] as DecileRow;
    if (b.observedRate < a.observedRate) {
      inversions++;
      if (b.interval[1] < a.interval[0]) significantInversions++;
    }
  }
  return {
    deciles,
    worstRatio: deciles.reduce((w, d) => Math.max(w, d.ratio ?? 1), 1),
    monotone: inversions === 0,
    inversions,
    significantInversions,
    under: deciles.filter((d) => d.verdict === 'under').length,
    over: deciles.filter((d) => d.verdict === 'over').length,
  };
}

/** ln Γ(x), Lanczos (g = 7, n = 9), accurate to ~1e-15 for x > 0. */
function logGamma(x: number): number {
  const c = [
    0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
    12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
  ];
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x);
  const z = x - 1;
  let s = c[0] as number;
  for (let i = 1; i < 9; i++) s += (c[i] as number) / (z + i);
  const t = z + 7.5;
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(s);
}

/** Continued fraction of the incomplete beta function (modified Lentz; Numerical Recipes §6.4). */
function betaContinuedFraction(x: number, a: number, b: number): number {
  const tiny = 1e-300;
  let c = 1;
  let d = 1 - ((a + b) * x) / (a + 1);
  if (Math.abs(d) < tiny) d = tiny;
  d = 1 / d;
  let h = d;
  for (let m = 1; m <= 300; m++) {
    const m2 = 2 * m;
    let aa = (m * (b - m) * x) / ((a + m2 - 1) * (a + m2));
    d = 1 + aa * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + aa / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    h *= d * c;
    aa = (-(a + m) * (a + b + m) * x) / ((a + m2) * (a + m2 + 1));
    d = 1 + aa * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + aa / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const delta = d * c;
    h *= delta;
    if (Math.abs(delta - 1) < 1e-14) break;
  }
  return h;
}

/** The regularised incomplete beta function I_x(a, b): the CDF of Beta(a, b) at x. */
export function betaCdf(x: number, a: number, b: number): number {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  const front = Math.exp(logGamma(a + b) - logGamma(a) - logGamma(b) + a * Math.log(x) + b * Math.log(1 - x));
  return x < (a + 1) / (a + b + 2)
    ? (front * betaContinuedFraction(x, a, b)) / a
    : 1 - (front * betaContinuedFraction(1 - x, b, a)) / b;
}

/** The q-quantile of Beta(a, b), by bisection (the CDF is monotone; 100 halvings reach double precision). */
export function betaQuantile(q: number, a: number, b: number): number {
  let lo = 0;
  let hi = 1;
  for (let i = 0; i < 100; i++) {
    const mid = (lo + hi) / 2;
    if (betaCdf(mid, a, b) < q) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}
