import { maxDecileRatio } from './evaluate-figures.js';
import { mulberry32 } from '../core/random.js';
import { reliabilityTable } from './metrics.js';

/**
 * How far off the worst PD decile of these very test rows would be if the PDs were exactly right: the reference
 * a "worst decile within 2×" figure needs before it can say anything about calibration.
 *
 * Why: the weekly test rows repeat each borrower up to a dozen times, and a borrower's rows default together, so
 * a decile of ~1,000 rows can rest on two or three defaulting borrowers. Two defaults more or less halve or
 * double its observed rate, and the worst of ten such deciles is far from 1 by chance alone. The figure is a
 * parametric bootstrap under the null hypothesis of perfect calibration (the model-based test of calibration,
 * e.g. Tasche, "Validation of internal rating systems and PD estimates", 2008, § 4; the ECB's instructions test
 * each grade's PD against its own sampling distribution): each draw gives every borrower a default time from
 * its own PDs, labels its rows as the evaluation does, and takes the worst decile of the rows still performing.
 *
 * The default time: row i's PD is P(default in (tᵢ, tᵢ + horizon]); read as a constant hazard
 * λᵢ = −ln(1 − PDᵢ) / horizon from tᵢ to the next row (the last row's to tᵢ + horizon), a borrower defaults where
 * its cumulative hazard passes an Exp(1) draw. Rows at or after that default are not performing and leave the
 * draw; a row is a 1 when the default falls in (t, t + horizon]. `pValue` is the share of draws at least as far
 * off as the observed worst decile: a small one says the miss is more than chance. Pinned by
 * risk/test/calibration-null.test.ts.
 */
export interface WorstDecileNull {
  readonly draws: number;
  readonly median: number;
  readonly p95: number;
  /** Share of draws whose worst decile is more than 2× off. */
  readonly shareOver2x: number;
  /** Share of draws at least as far off as `observed`. */
  readonly pValue: number;
  readonly observed: number;
}

export interface NullInput {
  /** The test rows' PDs, borrower ids and dates (ms). */
  readonly p: ArrayLike<number>;
  readonly groups: readonly string[];
  readonly t: ArrayLike<number>;
  readonly horizonMs: number;
  /** The observed worst decile factor of the same rows. */
  readonly observed: number;
  readonly draws: number;
  readonly seed: number;
}

export function worstDecileUnderCalibration(input: NullInput): WorstDecileNull {
  const { p, groups, t, horizonMs, observed, draws } = input;
  if (!(horizonMs > 0)) throw new RangeError(`horizonMs must be > 0, got ${horizonMs}`);
  const n = p.length;
  // Each borrower's rows in date order.
  const byBorrower = new Map<string, number[]>();
  for (let i = 0; i < n; i++) {
    const g = groups[i] as string;
    let rows = byBorrower.get(g);
    if (rows === undefined) byBorrower.set(g, (rows = []));
    rows.push(i);
  }
  const borrowers = [...byBorrower.values()].map((rows) =>
    rows.sort((a, b) => (t[a] as number) - (t[b] as number)),
  );
  const rate = Float64Array.from(
    { length: n },
    (_, i) => -Math.log1p(-Math.min(p[i] as number, 1 - 1e-12)) / horizonMs,
  );
  const rand = mulberry32(input.seed);
  const worst: number[] = [];
  const keptP: number[] = [];
  const keptY: number[] = [];
  for (let d = 0; d < draws; d++) {
    keptP.length = 0;
    keptY.length = 0;
    for (const rows of borrowers) {
      const defaultAt = drawDefault(rows, t, rate, horizonMs, -Math.log(1 - rand()));
      for (const i of rows) {
        const ti = t[i] as number;
        if (ti >= defaultAt) break;
        keptP.push(p[i] as number);
        keptY.push(defaultAt <= ti + horizonMs ? 1 : 0);
      }
    }
    worst.push(maxDecileRatio(reliabilityTable(keptP, keptY, 10, 'quantile')));
  }
  worst.sort((a, b) => a - b);
  const at = (q: number) => worst[Math.min(worst.length - 1, Math.floor(q * worst.length))] as number;
  return {
    draws,
    median: at(0.5),
    p95: at(0.95),
    shareOver2x: worst.filter((w) => w > 2).length / Math.max(1, draws),
    pValue: worst.filter((w) => w >= observed).length / Math.max(1, draws),
    observed,
  };
}

/**
 * Where the borrower's cumulative hazard passes `e` (an Exp(1) draw); Infinity when it never does. `rows` are
 * the borrower's row indexes in date order; `rate` the rows' constant hazards (see the top of this file).
 */
export function drawDefault(
  rows: readonly number[],
  t: ArrayLike<number>,
  rate: Float64Array,
  horizonMs: number,
  e: number,
): number {
  let cum = 0;
  for (let k = 0; k < rows.length; k++) {
    const i = rows[k] as number;
    const start = t[i] as number;
    const next = rows[k + 1];
    const end = next === undefined ? start + horizonMs : (t[next] as number);
    const add = (rate[i] as number) * (end - start);
    if (cum + add >= e) return start + (e - cum) / (rate[i] as number);
    cum += add;
  }
  return Number.POSITIVE_INFINITY;
}
