import { RiskfuseError } from '../../core/errors.js';
import type { Matrix } from '../model/types.js';
import type { FeatureRow, Portfolio } from './extract.js';
import { DAY_MS, firstDefaultAt } from './online.js';
import { FEATURE_NAMES, FEATURES } from './spec.js';

/**
 * From feature rows to model inputs: labels, the population a model is trained and judged on, and the
 * imputation that turns missing values into numbers (fitted on training rows only, saved with the model).
 */
export interface LabelOptions {
  /** Default within this many days after t is the event; default 180. */
  readonly horizonDays: number;
  /**
   * `performing`: borrowers with no instalment more than `maxDpd` days past due at t (the book a PD model is
   * for; IFRS 9 stage 1–2); `all`: every borrower not yet in default.
   */
  readonly population: 'performing' | 'all';
  readonly maxDpd?: number;
}

export interface LabelledRow extends FeatureRow {
  readonly label: 0 | 1;
  /** When the borrower defaulted, if ever (for lead times). */
  readonly defaultAt?: number;
}

/** Labels rows whose horizon is fully observed by `observedUntil`, within the population; drops the rest. */
export function labelRows(
  rows: readonly FeatureRow[],
  portfolio: Portfolio,
  opts: LabelOptions,
  observedUntil: number,
): LabelledRow[] {
  const h = opts.horizonDays * DAY_MS;
  const maxDpd = opts.maxDpd ?? 30;
  const dpdIndex = FEATURE_NAMES.indexOf('dpd_now');
  const out: LabelledRow[] = [];
  const defaults = new Map<string, number | undefined>();
  for (const b of portfolio.borrowers) {
    const book = portfolio.books.get(b.id);
    defaults.set(b.id, book === undefined ? undefined : firstDefaultAt(book));
  }
  for (const r of rows) {
    if (r.status.defaultedBy !== undefined || !r.status.active) continue;
    if (opts.population === 'performing' && (r.values[dpdIndex] ?? 0) > maxDpd) continue;
    const d = defaults.get(r.borrowerId);
    // Only rows whose whole horizon is observed: keeping early defaulters from later dates would bias the set.
    if (r.t + h > observedUntil) continue;
    const label = d !== undefined && d > r.t && d <= r.t + h ? 1 : 0;
    out.push({ ...r, label, ...(d === undefined ? {} : { defaultAt: d }) });
  }
  return out;
}

/** Median imputation with missing flags, per the spec's policy; fitted on training rows. */
export interface Imputer {
  /** Base feature names (in FEATURE_NAMES order) used by this model. */
  readonly features: readonly string[];
  readonly medians: readonly number[];
  /** Features that get a `…__missing` input. */
  readonly flagged: readonly string[];
}

export function fitImputer(rows: readonly FeatureRow[], features: readonly string[]): Imputer {
  if (rows.length === 0)
    throw new RiskfuseError('VALIDATION_FAILED', 'no training rows to fit the imputer on');
  const medians: number[] = [];
  const flagged: string[] = [];
  for (const name of features) {
    const i = FEATURE_NAMES.indexOf(name);
    const def = FEATURES[i];
    if (i < 0 || def === undefined) throw new RiskfuseError('VALIDATION_FAILED', `unknown feature ${name}`);
    const vals = rows.map((r) => r.values[i] as number).filter((v) => !Number.isNaN(v));
    vals.sort((a, b) => a - b);
    medians.push(vals.length === 0 ? 0 : (vals[Math.floor(vals.length / 2)] as number));
    if (def.missing === 'median+flag') flagged.push(name);
  }
  return { features, medians, flagged };
}

/** Model input names for an imputer: the features, then one `…__missing` flag per flagged feature. */
export function inputNames(imp: Imputer): string[] {
  return [...imp.features, ...imp.flagged.map((f) => `${f}__missing`)];
}

export function toMatrix(rows: readonly FeatureRow[], imp: Imputer): Matrix {
  const cols = imp.features.length + imp.flagged.length;
  const data = new Float32Array(rows.length * cols);
  const idx = imp.features.map((f) => FEATURE_NAMES.indexOf(f));
  const flagIdx = imp.flagged.map((f) => FEATURE_NAMES.indexOf(f));
  rows.forEach((r, k) => {
    const o = k * cols;
    idx.forEach((i, j) => {
      const v = r.values[i] as number;
      data[o + j] = Number.isNaN(v) ? (imp.medians[j] as number) : v;
    });
    flagIdx.forEach((i, j) => {
      data[o + idx.length + j] = Number.isNaN(r.values[i]) ? 1 : 0;
    });
  });
  return { rows: rows.length, cols, data };
}

export function labels(rows: readonly LabelledRow[]): Uint8Array {
  return Uint8Array.from(rows, (r) => r.label);
}
