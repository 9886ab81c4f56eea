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
 * - 'platt-hazard': Platt plus a background hazard h0 for defaults whose cause is not yet visible at t (a
 *   cash shock or a business decline that starts inside the horizon): PD = 1 − (1 − σ(a + b·logit))(1 − h0),
 *   i.e. two independent causes, the one the features see and one they cannot — the additive-hazards split
 *   of relative-survival models into an excess and a background hazard (Estève, Benhamou, Croasdale &
 *   Raymond 1990, "Relative survival and the estimation of net survival", Stat Med 9:529–538). A network
 *   trained on log loss drives the logit of its safest rows towards −∞, because in training those rows
 *   almost never default; but a borrower whose trouble starts after t is as likely among them as anywhere,
 *   and Platt's sigmoid cannot put a floor under them without flattening the whole ranking. h0, a and b
 *   (b ≥ 0, 0 ≤ h0 < the slice's default rate) are fitted together by maximum likelihood on the held-out
 *   rows (profile over h0, Fisher scoring in a and b); h0 = 0 is plain Platt, so the slice decides whether
 *   the floor is there. PD is monotone in the logit.
 * Then the floor: no PD below `pdFloor` (Basel III/CRR art. 160(1): 0.03 % for corporate and retail
 * exposures, 0.05 % for qualifying revolving retail under the 2017 reforms), because a model's PD under a
 * few basis points is extrapolation, not evidence.
 * A model saved before this existed has no calibration: `applyCalibration` is then the identity (plus floor).
 * Pinned by risk/test/calibration.test.ts.
 */
export type CalibrationJson =
  | { readonly method: 'none' }
  | { readonly method: 'platt'; readonly a: number; readonly b: number }
  | { readonly method: 'platt-hazard'; readonly a: number; readonly b: number; readonly h0: number }
  | { readonly method: 'isotonic'; readonly logits: number[]; readonly pds: number[] };

export type CalibrationMethod = CalibrationJson['method'];

export const CALIBRATION_METHOD_NAMES: readonly CalibrationMethod[] = [
  'platt-hazard',
  'platt',
  'isotonic',
  'none',
];

/**
 * Platt with the background hazard: it nests plain Platt (h0 = 0), so the held-out slice, not the test
 * period, decides whether a floor for not-yet-visible causes is there.
 */
export const DEFAULT_CALIBRATION: CalibrationMethod = 'platt-hazard';

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
  if (method === 'platt-hazard') return fitPlattHazard(logits, y);
  return fitIsotonic(logits, y);
}

/** Platt's smoothed targets (Platt 1999): (N+ + 1)/(N+ + 2) for a default, 1/(N− + 2) otherwise. */
function plattTargets(y: ArrayLike<number>): Float64Array {
  let pos = 0;
  for (let i = 0; i < y.length; i++) pos += y[i] as number;
  const hiT = (pos + 1) / (pos + 2);
  const loT = 1 / (y.length - pos + 2);
  return Float64Array.from({ length: y.length }, (_, i) => ((y[i] as number) === 1 ? hiT : loT));
}

const mixturePd = (h0: number, f: number): number => h0 + (1 - h0) * sigmoid(f);

/** Soft-target log likelihood of PD = h0 + (1 − h0)σ(a + b·z). */
function mixtureLogLik(z: ArrayLike<number>, t: Float64Array, a: number, b: number, h0: number): number {
  let l = 0;
  for (let i = 0; i < t.length; i++) {
    const p = Math.min(1 - 1e-15, Math.max(1e-15, mixturePd(h0, a + b * (z[i] as number))));
    const ti = t[i] as number;
    l += ti * Math.log(p) + (1 - ti) * Math.log(1 - p);
  }
  return l;
}

/**
 * For a fixed h0, the (a, b ≥ 0) that maximise the mixture's likelihood: Fisher scoring (the Bernoulli
 * information of p(f), f = a + b·z) with a backtracking line search, from (a0, b0).
 */
function fitMixtureAb(
  z: ArrayLike<number>,
  t: Float64Array,
  h0: number,
  a0: number,
  b0: number,
): { a: number; b: number; ll: number } {
  let a = a0;
  let b = Math.max(0, b0);
  let ll = mixtureLogLik(z, t, a, b, h0);
  for (let iter = 0; iter < 100; iter++) {
    let ga = 0;
    let gb = 0;
    let faa = 1e-12;
    let fab = 0;
    let fbb = 1e-12;
    for (let i = 0; i < t.length; i++) {
      const zi = z[i] as number;
      const s = sigmoid(a + b * zi);
      const p = Math.min(1 - 1e-15, Math.max(1e-15, h0 + (1 - h0) * s));
      const dp = (1 - h0) * s * (1 - s);
      const v = p * (1 - p);
      const g = (((t[i] as number) - p) * dp) / v;
      const w = (dp * dp) / v;
      ga += g;
      gb += g * zi;
      faa += w;
      fab += w * zi;
      fbb += w * zi * zi;
    }
    // With b held at its bound 0 (the slice ranks the wrong way), only a moves.
    const pinned = b === 0 && gb <= 0;
    const det = faa * fbb - fab * fab;
    const da = pinned ? ga / faa : (fbb * ga - fab * gb) / det;
    const db = pinned ? 0 : (faa * gb - fab * ga) / det;
    if (!Number.isFinite(da) || !Number.isFinite(db)) break;
    let step = 1;
    let na = a + da;
    let nb = Math.max(0, b + db);
    let next = mixtureLogLik(z, t, na, nb, h0);
    while (!(next >= ll) && step > 1e-10) {
      step /= 2;
      na = a + step * da;
      nb = Math.max(0, b + step * db);
      next = mixtureLogLik(z, t, na, nb, h0);
    }
    if (!(next >= ll)) break;
    const moved = Math.abs(na - a) + Math.abs(nb - b);
    a = na;
    b = nb;
    const gain = next - ll;
    ll = next;
    if (moved < 1e-10 || gain < 1e-12 * t.length) break;
  }
  return { a, b, ll };
}

/**
 * Platt with a background hazard (see the header): the profile likelihood over h0 on a grid from 0 to the
 * slice's default rate, then golden-section refinement around the best grid point. Starts from plain Platt.
 */
function fitPlattHazard(logits: ArrayLike<number>, y: ArrayLike<number>): CalibrationJson {
  const t = plattTargets(y);
  const platt = fitPlatt(logits, y);
  if (platt.method !== 'platt') return platt;
  let rate = 0;
  for (let i = 0; i < t.length; i++) rate += t[i] as number;
  rate /= Math.max(1, t.length);
  const GRID = 40;
  const fitAt = (h0: number): { a: number; b: number; ll: number; h0: number } => ({
    ...fitMixtureAb(logits, t, h0, platt.a, platt.b),
    h0,
  });
  let best = fitAt(0);
  let bestK = 0;
  for (let k = 1; k < GRID; k++) {
    const cand = fitAt((rate * k) / GRID);
    if (cand.ll > best.ll) {
      best = cand;
      bestK = k;
    }
  }
  // Golden-section search of the profile likelihood between the grid neighbours of the best point.
  let lo = (rate * Math.max(0, bestK - 1)) / GRID;
  let hi = (rate * Math.min(GRID - 1, bestK + 1)) / GRID;
  const phi = (Math.sqrt(5) - 1) / 2;
  let x1 = hi - phi * (hi - lo);
  let x2 = lo + phi * (hi - lo);
  let f1 = fitAt(x1);
  let f2 = fitAt(x2);
  for (let iter = 0; iter < 30 && hi - lo > 1e-7; iter++) {
    if (f1.ll >= f2.ll) {
      hi = x2;
      x2 = x1;
      f2 = f1;
      x1 = hi - phi * (hi - lo);
      f1 = fitAt(x1);
    } else {
      lo = x1;
      x1 = x2;
      f1 = f2;
      x2 = lo + phi * (hi - lo);
      f2 = fitAt(x2);
    }
  }
  for (const f of [f1, f2]) if (f.ll > best.ll) best = f;
  return { method: 'platt-hazard', a: best.a, b: best.b, h0: best.h0 };
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
  else if (c.method === 'platt-hazard') pd = mixturePd(c.h0, c.a + c.b * logit);
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
  if (o.method === 'platt-hazard') {
    const finite = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
    if (!finite(o.a) || !finite(o.b) || !finite(o.h0) || o.b < 0 || o.h0 < 0 || o.h0 >= 1)
      return bad('platt-hazard needs finite a, b ≥ 0 and h0 in [0, 1)');
    return { method: 'platt-hazard', a: o.a, b: o.b, h0: o.h0 };
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
