import { RiskfuseError } from '../../core/errors.js';
import {
  PSI_DEFAULT_BINS,
  PSI_DEFAULT_EPSILON,
  psiAgainst,
  psiBand,
  psiReference,
  psiTerm,
  sharesOf,
  type PsiBin,
  type PsiReference,
  type PsiResult,
} from './psi.js';

/**
 * A model version's training reference for population stability: the decile bins of each input and of the
 * score (PD) over the rows it was trained on, stored with the model (the model file's `reference`, the state's
 * `model_references`) so that monitoring compares today's population with what the model learnt from, not with
 * last week's. A model without one (trained before references existed, or brought in from elsewhere) gets one
 * from its first scored population, marked `first-scored`: drift is then measured from the day it went live.
 *
 * Missing inputs are a bin of their own (`missingShare`): a sensor feed going dark is population drift too,
 * and a PSI over present values alone would not see it. Pinned by risk/test/model-reference.test.ts.
 */
export type ReferenceSource = 'training' | 'first-scored';

export interface InputReference extends PsiReference {
  /** Share of the reference with no value (a bin of its own). */
  readonly missingShare: number;
}

export interface ModelReference {
  readonly source: ReferenceSource;
  /** When the reference population was observed (training: the model's creation; else the first scoring). */
  readonly at: number;
  readonly count: number;
  readonly inputs: Readonly<Record<string, InputReference>>;
  readonly score: PsiReference;
}

export interface Population {
  /** Per input, one value per member (null = missing). */
  readonly inputs: Readonly<Record<string, readonly (number | null)[]>>;
  readonly scores: readonly number[];
}

export interface InputDrift extends PsiResult {
  readonly missingReference: number;
  readonly missingCurrent: number;
}

export interface DriftReport {
  readonly population: number;
  readonly score: PsiResult;
  readonly inputs: Readonly<Record<string, InputDrift>>;
  /** The input with the largest PSI (undefined without inputs). */
  readonly worstInput?: { readonly name: string; readonly psi: number };
  /** The worst band over the score and every input: what the drift alert is raised on. */
  readonly band: PsiResult['band'];
  /** Inputs and `score` whose band is not stable, most shifted first. */
  readonly shifted: readonly string[];
}

const present = (xs: readonly (number | null)[]): number[] =>
  xs.filter((x): x is number => x !== null && Number.isFinite(x));

function inputReference(values: readonly (number | null)[], bins: number): InputReference {
  if (values.length === 0) throw new RiskfuseError('VALIDATION_FAILED', 'reference input: no rows');
  const xs = present(values);
  const missingShare = (values.length - xs.length) / values.length;
  // All missing: one open bin for values (share 0), so any value appearing later shows as a shift.
  if (xs.length === 0) return { cuts: [], shares: [0], count: values.length, missingShare };
  const ref = psiReference(xs, bins);
  return {
    cuts: ref.cuts,
    shares: ref.shares.map((s) => s * (1 - missingShare)),
    count: values.length,
    missingShare,
  };
}

export function buildReference(
  pop: Population,
  source: ReferenceSource,
  at: number,
  bins = PSI_DEFAULT_BINS,
): ModelReference {
  const inputs: Record<string, InputReference> = {};
  for (const [name, values] of Object.entries(pop.inputs)) inputs[name] = inputReference(values, bins);
  return {
    source,
    at,
    count: pop.scores.length,
    inputs,
    score: psiReference(pop.scores, bins, 'reference scores'),
  };
}

function inputDrift(ref: InputReference, values: readonly (number | null)[], epsilon: number): InputDrift {
  const xs = present(values);
  const n = values.length;
  const missingCurrent = n === 0 ? 0 : (n - xs.length) / n;
  const shares = sharesOf(ref.cuts, xs).map((s) => s * (1 - missingCurrent));
  let psi = psiTerm(ref.missingShare, missingCurrent, epsilon);
  const bins = shares.map((a, i): PsiBin => {
    const e = ref.shares[i] ?? 0;
    const contribution = psiTerm(e, a, epsilon);
    psi += contribution;
    return {
      from: i === 0 ? -Infinity : (ref.cuts[i - 1] as number),
      to: i === ref.cuts.length ? Infinity : (ref.cuts[i] as number),
      referenceShare: e,
      currentShare: a,
      contribution,
    };
  });
  return { psi, band: psiBand(psi), bins, missingReference: ref.missingShare, missingCurrent };
}

const BAND_RANK = { stable: 0, moderate: 1, major: 2 } as const;

/**
 * PSI of today's population against a model's reference, per input the reference holds (inputs the current
 * population lacks count as all missing) and for the score.
 */
export function driftAgainst(
  ref: ModelReference,
  current: Population,
  epsilon = PSI_DEFAULT_EPSILON,
): DriftReport {
  if (current.scores.length === 0)
    throw new RiskfuseError('VALIDATION_FAILED', 'current population: no scores');
  const score = psiAgainst(ref.score, current.scores, epsilon, 'current scores');
  const inputs: Record<string, InputDrift> = {};
  const none = new Array<null>(current.scores.length).fill(null);
  for (const [name, r] of Object.entries(ref.inputs))
    inputs[name] = inputDrift(r, current.inputs[name] ?? none, epsilon);
  let worstInput: DriftReport['worstInput'];
  for (const [name, d] of Object.entries(inputs))
    if (worstInput === undefined || d.psi > worstInput.psi) worstInput = { name, psi: d.psi };
  const all: [string, PsiResult][] = [['score', score], ...Object.entries(inputs)];
  const band = all.reduce<PsiResult['band']>(
    (b, [, r]) => (BAND_RANK[r.band] > BAND_RANK[b] ? r.band : b),
    'stable',
  );
  const shifted = all
    .filter(([, r]) => r.band !== 'stable')
    .sort((a, b) => b[1].psi - a[1].psi)
    .map(([n]) => n);
  return {
    population: current.scores.length,
    score,
    inputs,
    ...(worstInput === undefined ? {} : { worstInput }),
    band,
    shifted,
  };
}

/** Checks a reference read from a model file or the state (MODEL_INVALID with the reason). */
export function checkReference(r: unknown, what: string): ModelReference {
  const bad = (why: string): never => {
    throw new RiskfuseError('MODEL_INVALID', `${what}: reference ${why}`);
  };
  const o = r as Partial<ModelReference> | null;
  if (o === null || typeof o !== 'object') return bad('is not an object');
  if (o.source !== 'training' && o.source !== 'first-scored') return bad('has an unknown source');
  const okBins = (b: unknown): boolean => {
    const x = b as Partial<PsiReference> | null;
    return (
      x !== null &&
      typeof x === 'object' &&
      Array.isArray(x.cuts) &&
      Array.isArray(x.shares) &&
      x.shares.length === x.cuts.length + 1 &&
      x.cuts.every((c, i) => Number.isFinite(c) && (i === 0 || c > (x.cuts?.[i - 1] as number)))
    );
  };
  if (!okBins(o.score)) return bad('score bins are malformed');
  if (o.inputs === null || typeof o.inputs !== 'object') return bad('has no inputs');
  for (const [n, b] of Object.entries(o.inputs)) if (!okBins(b)) return bad(`bins of ${n} are malformed`);
  return o as ModelReference;
}
