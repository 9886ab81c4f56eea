import { RiskfuseError } from '../../core/errors.js';

/**
 * Population stability index: how far a population (this month's applicants, this week's scores) has moved from
 * the one a model was trained on. Bins are the reference's quantiles (deciles by default), so each holds ~1/B of
 * the training population and no bin is empty by construction on the reference side; a bin the current
 * population leaves empty is floored at `epsilon` so its term stays finite:
 *
 *   PSI = Σ_b (a_b − e_b) · ln(a_b / e_b)      (e = reference share, a = current share)
 *
 * It is the symmetrised Kullback–Leibler divergence of the binned distributions (Siddiqi, "Credit Risk
 * Scorecards", 2006, ch. 8; Yurdakul & Naranjo, "Statistical properties of the population stability index",
 * J. Risk Model Validation 14(4), 2020). Usual reading: < 0.1 stable, 0.1–0.25 moderate shift, > 0.25 major
 * shift. Pure: the model's training rows and the scored population come from the caller. Pinned by
 * `risk/test/psi.test.ts`.
 *
 * It lives in `risk/` because only model monitoring needs it (the alert rules watch raw readings with their own
 * streaming detector); move it to `core/` if another component comes to need it.
 */

export const PSI_DEFAULT_BINS = 10;
/** Share given to an empty bin (scorecard practice uses 1e−4 to 1e−6). */
export const PSI_DEFAULT_EPSILON = 1e-4;

export interface PsiReference {
  /** Ascending interior cut points: bin 0 is (−∞, cut₀), bin i is [cutᵢ₋₁, cutᵢ), the last [cutₖ₋₁, ∞). */
  readonly cuts: readonly number[];
  /** The reference's share in each bin (cuts.length + 1 shares, summing to 1). */
  readonly shares: readonly number[];
  readonly count: number;
}

export interface PsiBin {
  readonly from: number;
  readonly to: number;
  readonly referenceShare: number;
  readonly currentShare: number;
  /** This bin's term of the sum. */
  readonly contribution: number;
}

export interface PsiResult {
  readonly psi: number;
  readonly band: 'stable' | 'moderate' | 'major';
  readonly bins: readonly PsiBin[];
}

function finiteValues(name: string, xs: readonly number[]): readonly number[] {
  if (xs.length === 0) throw new RiskfuseError('VALIDATION_FAILED', `${name}: no values`);
  const bad = xs.findIndex((x) => typeof x !== 'number' || !Number.isFinite(x));
  if (bad >= 0) throw new RiskfuseError('VALIDATION_FAILED', `${name}: value ${bad} is not a finite number`);
  return xs;
}

/** Quantile bins of a reference population (tied cut points collapse, so a 0/1 input has two bins). */
export function psiReference(
  reference: readonly number[],
  bins = PSI_DEFAULT_BINS,
  name = 'reference',
): PsiReference {
  if (!Number.isInteger(bins) || bins < 2)
    throw new RiskfuseError('VALIDATION_FAILED', `bins must be an integer ≥ 2`);
  const sorted = [...finiteValues(name, reference)].sort((a, b) => a - b);
  const cuts: number[] = [];
  for (let k = 1; k < bins; k++) {
    const cut = sorted[Math.floor((k * sorted.length) / bins)] as number;
    // A cut equal to the minimum or to the previous cut would make an empty or duplicate bin.
    if (cut > (sorted[0] as number) && cut !== cuts.at(-1)) cuts.push(cut);
  }
  // A constant reference: bins below, at and above its value, so any move away from it shows.
  if (cuts.length === 0) {
    const v = sorted[0] as number;
    cuts.push(v, v + Math.max(Math.abs(v) * 2 ** -52, Number.MIN_VALUE));
  }
  return { cuts, shares: sharesOf(cuts, sorted), count: sorted.length };
}

function binOf(cuts: readonly number[], x: number): number {
  let lo = 0;
  let hi = cuts.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (x < (cuts[mid] as number)) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/** Each bin's share of `xs` under `cuts` (see PsiReference). */
export function sharesOf(cuts: readonly number[], xs: readonly number[]): number[] {
  const counts = new Array<number>(cuts.length + 1).fill(0);
  for (const x of xs) {
    const b = binOf(cuts, x);
    counts[b] = (counts[b] ?? 0) + 1;
  }
  return counts.map((c) => c / xs.length);
}

/** One bin's term (a − e)·ln(a/e), both shares floored at `epsilon`. */
export function psiTerm(referenceShare: number, currentShare: number, epsilon = PSI_DEFAULT_EPSILON): number {
  const e = Math.max(referenceShare, epsilon);
  const a = Math.max(currentShare, epsilon);
  return (a - e) * Math.log(a / e);
}

export const psiBand = (psi: number): PsiResult['band'] =>
  psi < 0.1 ? 'stable' : psi <= 0.25 ? 'moderate' : 'major';

/** PSI of `current` against a reference's bins. */
export function psiAgainst(
  ref: PsiReference,
  current: readonly number[],
  epsilon = PSI_DEFAULT_EPSILON,
  name = 'current',
): PsiResult {
  if (!(epsilon > 0 && epsilon < 1))
    throw new RiskfuseError('VALIDATION_FAILED', 'epsilon must be in (0, 1)');
  const shares = sharesOf(ref.cuts, finiteValues(name, current));
  let psi = 0;
  const bins = shares.map((a, i): PsiBin => {
    const contribution = psiTerm(ref.shares[i] ?? 0, a, epsilon);
    psi += contribution;
    return {
      from: i === 0 ? -Infinity : (ref.cuts[i - 1] as number),
      to: i === ref.cuts.length ? Infinity : (ref.cuts[i] as number),
      referenceShare: ref.shares[i] ?? 0,
      currentShare: a,
      contribution,
    };
  });
  return { psi, band: psiBand(psi), bins };
}

/** PSI of one population against another (bins from `reference`). */
export const psi = (
  reference: readonly number[],
  current: readonly number[],
  bins = PSI_DEFAULT_BINS,
  epsilon = PSI_DEFAULT_EPSILON,
): PsiResult => psiAgainst(psiReference(reference, bins), current, epsilon);

export interface StabilityReport {
  /** Per model input, by name. */
  readonly inputs: Readonly<Record<string, PsiResult>>;
  /** The model's score (PD) distribution. */
  readonly score: PsiResult;
  /** Inputs whose band is not 'stable', most shifted first. */
  readonly shifted: readonly string[];
}

/**
 * PSI per input and for the score distribution, current population against the training reference. Both sides
 * must name the same inputs; each input is a column of numbers (encode categories as numbers first).
 */
export function stabilityReport(
  reference: {
    readonly inputs: Readonly<Record<string, readonly number[]>>;
    readonly scores: readonly number[];
  },
  current: {
    readonly inputs: Readonly<Record<string, readonly number[]>>;
    readonly scores: readonly number[];
  },
  bins = PSI_DEFAULT_BINS,
  epsilon = PSI_DEFAULT_EPSILON,
): StabilityReport {
  const names = Object.keys(reference.inputs);
  const missing = names.filter((n) => !(n in current.inputs));
  const extra = Object.keys(current.inputs).filter((n) => !(n in reference.inputs));
  if (missing.length > 0 || extra.length > 0)
    throw new RiskfuseError(
      'VALIDATION_FAILED',
      'reference and current populations must have the same inputs',
      {
        details: { missing, extra },
      },
    );
  const inputs: Record<string, PsiResult> = {};
  for (const n of names)
    inputs[n] = psiAgainst(
      psiReference(reference.inputs[n] ?? [], bins, `reference ${n}`),
      current.inputs[n] ?? [],
      epsilon,
      `current ${n}`,
    );
  const score = psiAgainst(
    psiReference(reference.scores, bins, 'reference scores'),
    current.scores,
    epsilon,
    'current scores',
  );
  const shifted = names
    .filter((n) => inputs[n]?.band !== 'stable')
    .sort((a, b) => (inputs[b]?.psi ?? 0) - (inputs[a]?.psi ?? 0));
  return { inputs, score, shifted };
}
