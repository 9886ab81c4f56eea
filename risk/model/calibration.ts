import { RiskfuseError } from '../../core/errors.js';

/**
 * Recalibration of a model's PDs on rows it was not fitted on, and the PD floor.
 *
 * Ranking (AUC) and calibration are separate properties: a network chosen by validation AUC, a scorecard
 * whose intercept drifted or an ensemble of logits can rank well and still say 0.003 % where 0.5 % default.
 * Provisioning and pricing use the PD itself, so after training the logit is mapped to a PD by a monotone
 * function fitted on held-out rows (the early-stopping holdout, or the validation borrowers of `riskfuse
 * evaluate`), never on the rows the model was fitted on:
 * - 'platt' (Platt 1999): PD = σ(a + b·logit), two parameters, stable on a few hundred rows; corrects a
 *   shifted intercept and over- or under-confident slopes. The slope is kept at b ≥ 0: a PD must not fall as
 *   the model's risk rises. Where the held-out rows say b < 0 (the logit ranks them the wrong way, as a weak
 *   model's can on a small slice), the fit is the intercept alone: one PD for all, the slice's smoothed rate,
 *   rather than an inverted ranking;
 * - 'isotonic' (Zadrozny & Elkan 2002): the pool-adjacent-violators fit of the observed default rate on the
 *   sorted logits, interpolated linearly between block centres; free-form, needs thousands of rows.
 * Then the floor: no PD below `pdFloor` (Basel III/CRR art. 160(1): 0.03 % for corporate and retail
 * exposures, 0.05 % for qualifying revolving retail under the 2017 reforms), because a model's PD under a
 * few basis points is extrapolation, not evidence.
 * A model saved before this existed has no calibration: `applyCalibration` is then the identity (plus floor).
 * Pinned by risk/test/calibration.test.ts.
 */
export type CalibrationJson =
  | { readonly method: 'none' }
  | { readonly method: 'platt'; readonly a: number; readonly b: number }
  | { readonly method: 'isotonic'; readonly logits: number[]; readonly pds: number[] };

export type CalibrationMethod = CalibrationJson['method'];

/** Default PD floor: 0.03 %, the Basel III floor for corporate and most retail PDs. */
export const DEFAULT_PD_FLOOR = 0.0003;

const sigmoid = (z: number): number => 1 / (1 + Math.exp(-z));

export function fitCalibration(
  method: CalibrationMethod,
  logits: ArrayLike<number>,
  y: ArrayLike<number>,
): CalibrationJson {
  if (logits.length !== y.length)
    throw new RiskfuseError('VALIDATION_FAILED', 'fitCalibration: one label per logit is needed');
  if (method === 'none') return { method };
  if (method === 'platt') return fitPlatt(logits, y);
  return fitIsotonic(logits, y);
}

/** Newton's method on the two-parameter log loss (with Platt's target smoothing against overconfidence). */
function fitPlatt(logits: ArrayLike<number>, y: ArrayLike<number>): CalibrationJson {
  const n = logits.length;
  let pos = 0;
  for (let i = 0; i < n; i++) pos += y[i] as number;
  // Platt's targets: (N+ + 1)/(N+ + 2) and 1/(N− + 2) instead of 1 and 0.
  const hiT = (pos + 1) / (pos + 2);
  const loT = 1 / (n - pos + 2);
  const target = (i: number): number => ((y[i] as number) === 1 ? hiT : loT);
  // log(1 + e^x) without overflow.
  const softplus = (x: number): number => (x > 0 ? x + Math.log1p(Math.exp(-x)) : Math.log1p(Math.exp(x)));
  const loss = (a: number, b: number): number => {
    let l = 0;
    for (let i = 0; i < n; i++) {
      const f = a + b * (logits[i] as number);
      const t = target(i);
      l += t * softplus(-f) + (1 - t) * softplus(f);
    }
    return l;
  };
  // Newton with a backtracking line search from the prior's intercept (Lin, Lin & Weng 2007, "A note on
  // Platt's probabilistic outputs for support vector machines", Algorithm 1): plain Newton from b = 1 can
  // run off to |b| ~ 1e6 on a slice the logit (nearly) separates.
  let a = Math.log((pos + 1) / (n - pos + 1));
  let b = 0;
  let current = loss(a, b);
  for (let iter = 0; iter < 100; iter++) {
    let ga = 0;
    let gb = 0;
    let haa = 1e-12;
    let hab = 0;
    let hbb = 1e-12;
    for (let i = 0; i < n; i++) {
      const z = logits[i] as number;
      const p = sigmoid(a + b * z);
      const e = p - target(i);
      const s = p * (1 - p);
      ga += e;
      gb += e * z;
      haa += s;
      hab += s * z;
      hbb += s * z * z;
    }
    if (Math.abs(ga) < 1e-9 * n && Math.abs(gb) < 1e-9 * n) break;
    const det = haa * hbb - hab * hab;
    if (!(Math.abs(det) > 1e-18)) break;
    const da = (hbb * ga - hab * gb) / det;
    const db = (haa * gb - hab * ga) / det;
    let step = 1;
    let next = loss(a - da, b - db);
    // Armijo condition with the Newton direction: sufficient decrease, else halve the step.
    while (next > current - 1e-4 * step * (ga * da + gb * db) && step > 1e-10) {
      step /= 2;
      next = loss(a - step * da, b - step * db);
    }
    if (step <= 1e-10) break;
    a -= step * da;
    b -= step * db;
    current = next;
    if (Math.abs(step * da) < 1e-10 && Math.abs(step * db) < 1e-10) break;
  }
  if (!(b >= 0)) {
    // Constrained optimum on the boundary b = 0: σ(a) = the mean smoothed target.
    const rate = (pos * hiT + (n - pos) * loT) / n;
    return { method: 'platt', a: Math.log(rate / (1 - rate)), b: 0 };
  }
  return { method: 'platt', a, b };
}

function fitIsotonic(logits: ArrayLike<number>, y: ArrayLike<number>): CalibrationJson {
  const n = logits.length;
  const order = Array.from({ length: n }, (_, i) => i).sort(
    (i, j) => (logits[i] as number) - (logits[j] as number),
  );
  // Blocks: [sum of logits, sum of y, count]; merged while the observed rate decreases.
  const sx: number[] = [];
  const sy: number[] = [];
  const cnt: number[] = [];
  for (const i of order) {
    sx.push(logits[i] as number);
    sy.push(y[i] as number);
    cnt.push(1);
    while (cnt.length > 1) {
      const k = cnt.length - 1;
      if ((sy[k - 1] as number) / (cnt[k - 1] as number) <= (sy[k] as number) / (cnt[k] as number)) break;
      sx[k - 1]! += sx.pop() as number;
      sy[k - 1]! += sy.pop() as number;
      cnt[k - 1]! += cnt.pop() as number;
    }
  }
  // Half a row at the overall rate added to each block keeps every PD strictly inside (0, 1); the running
  // maximum restores monotonicity the shrinkage can break between a tiny block and a large one.
  const overall = sy.reduce((a, b) => a + b, 0) / n;
  const pds = sy.map((s, k) => (s + 0.5 * overall) / ((cnt[k] as number) + 0.5));
  for (let k = 1; k < pds.length; k++) pds[k] = Math.max(pds[k] as number, pds[k - 1] as number);
  return { method: 'isotonic', logits: sx.map((s, k) => s / (cnt[k] as number)), pds };
}

/** PD of one raw logit under `c` (undefined = a model saved without calibration: σ(logit)), floored. */
export function calibratedPd(logit: number, c: CalibrationJson | undefined, pdFloor = 0): number {
  let pd: number;
  if (c === undefined || c.method === 'none') pd = sigmoid(logit);
  else if (c.method === 'platt') pd = sigmoid(c.a + c.b * logit);
  else pd = interpolate(c.logits, c.pds, logit);
  return Math.min(1, Math.max(pdFloor, pd));
}

export function applyCalibration(
  logits: ArrayLike<number>,
  c: CalibrationJson | undefined,
  pdFloor = 0,
): Float64Array {
  return Float64Array.from({ length: logits.length }, (_, i) =>
    calibratedPd(logits[i] as number, c, pdFloor),
  );
}

/** PD → logit, clamped away from 0 and 1 so a saturated PD stays finite. */
export function logitOf(pd: number): number {
  const p = Math.min(1 - 1e-12, Math.max(1e-12, pd));
  return Math.log(p / (1 - p));
}

function interpolate(xs: readonly number[], ys: readonly number[], x: number): number {
  const n = xs.length;
  if (n === 0) return sigmoid(x);
  if (x <= (xs[0] as number)) return ys[0] as number;
  if (x >= (xs[n - 1] as number)) return ys[n - 1] as number;
  let lo = 0;
  let hi = n - 1;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if ((xs[mid] as number) <= x) lo = mid;
    else hi = mid;
  }
  const x0 = xs[lo] as number;
  const x1 = xs[hi] as number;
  const t = x1 === x0 ? 0 : (x - x0) / (x1 - x0);
  return (ys[lo] as number) + t * ((ys[hi] as number) - (ys[lo] as number));
}

/** Checks a calibration read from a file (MODEL_INVALID with the reason). */
export function checkCalibration(c: unknown, what: string): CalibrationJson {
  const bad = (why: string): never => {
    throw new RiskfuseError('MODEL_INVALID', `${what}: calibration ${why}`);
  };
  const o = c as Record<string, unknown> | null;
  if (o === null || typeof o !== 'object') return bad('is not an object');
  if (o.method === 'none') return { method: 'none' };
  if (o.method === 'platt') {
    if (typeof o.a !== 'number' || typeof o.b !== 'number' || !Number.isFinite(o.a) || !Number.isFinite(o.b))
      return bad('platt needs finite a and b');
    return { method: 'platt', a: o.a, b: o.b };
  }
  if (o.method === 'isotonic') {
    const xs = o.logits;
    const ys = o.pds;
    if (
      !Array.isArray(xs) ||
      !Array.isArray(ys) ||
      xs.length !== ys.length ||
      xs.length === 0 ||
      !xs.every(
        (v, i) => typeof v === 'number' && Number.isFinite(v) && (i === 0 || v >= (xs[i - 1] as number)),
      ) ||
      !ys.every((v) => typeof v === 'number' && v >= 0 && v <= 1)
    )
      return bad('isotonic needs ascending logits and PDs in [0, 1] of the same length');
    return { method: 'isotonic', logits: xs as number[], pds: ys as number[] };
  }
  return bad(`method ${JSON.stringify(o.method)} is unknown`);
}
