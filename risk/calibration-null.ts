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
 * each grade's PD against its own sampling distribution): each draw labels every row with exactly its own PD,
 * a borrower's rows together, and takes the worst decile.
 *
 * The draw: one uniform U per borrower, and row i is a 1 when U < PDᵢ. Each row defaults with exactly its PD,
 * and a borrower's rows are as dependent as they can be: its weekly horizons overlap by 25 of 26 weeks, so one
 * default is a 1 on nearly all of them. An earlier version drew a default time along the rows' PDs read as
 * hazards. That conditions on the observed PD path, which already knows the outcome: a borrower whose PDs rose
 * towards its real default defaulted in most draws too, and its early, low-PD rows with it, so low deciles
 * looked worse by chance than the PDs claim (risk/test/el-null.test.ts pins the same for the EL range).
 * `pValue` is the share of draws at least as far off as the observed worst decile: a small one says the miss is
 * more than chance. Pinned by risk/test/calibration-null.test.ts.
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
  /** The test rows' PDs and borrower ids. */
  readonly p: ArrayLike<number>;
  readonly groups: readonly string[];
  /** The observed worst decile factor of the same rows. */
  readonly observed: number;
  readonly draws: number;
  readonly seed: number;
}

export function worstDecileUnderCalibration(input: NullInput): WorstDecileNull {
  const { p, groups, observed, draws } = input;
  const n = p.length;
  // Each borrower's rows.
  const byBorrower = new Map<string, number[]>();
  for (let i = 0; i < n; i++) {
    const g = groups[i] as string;
    let rows = byBorrower.get(g);
    if (rows === undefined) byBorrower.set(g, (rows = []));
    rows.push(i);
  }
  const borrowers = [...byBorrower.values()];
  const rand = mulberry32(input.seed);
  const worst: number[] = [];
  const keptP: number[] = [];
  const keptY: number[] = [];
  for (let d = 0; d < draws; d++) {
    keptP.length = 0;
    keptY.length = 0;
    for (const rows of borrowers) {
      const u = rand();
      for (const i of rows) {
        keptP.push(p[i] as number);
        keptY.push(u < (p[i] as number) ? 1 : 0);
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
