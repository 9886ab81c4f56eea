import { mulberry32 } from '../core/random.js';
import { expectedLoss } from './credit/expected-loss.js';
import { GRADE_BANDS, gradeFor } from './grades.js';

/**
 * How far realised loss would stray from expected loss in each grade band of these very test rows if the PDs
 * and LGDs were exactly right: the sampling range an "EL within ±20 % of realised loss" check must be read
 * against — a backtest's traffic light (BCBS, "Supervisory framework for the use of backtesting", 1996: a
 * model is judged by where its outcome falls in the distribution the model itself implies).
 *
 * Why it matters here: a band's realised loss is the sum of a handful of defaults (ten defaulting borrowers
 * make a band eligible), each counted on every weekly row whose horizon covers it, and each default's loss
 * varies with what its collateral fetched. One large default more or less moves a band's loss by half, so
 * ±20 % can be out of reach of a perfect model.
 *
 * Each draw (a parametric bootstrap under the model, as risk/calibration-null.ts does for PD deciles):
 * - every row defaults with exactly its own PD, and a borrower's rows together: one uniform draw U per
 *   borrower, and row i counts a default within its horizon when U < PDᵢ (calibration-null.ts explains why
 *   not a default time drawn along the rows' PDs: the observed PD path already knows the outcome);
 * - the default loses, on each row that counts it, that row's EAD × LGD (the loss the row predicts given
 *   default, so the model is exactly right row by row) times one ratio per borrower drawn from the workout
 *   data: realised loss ÷ predicted loss at each earlier default's last observation (defaults the test does
 *   not score, risk/evaluate-credit.ts), scaled to mean 1. So the LGD's own miss on past defaults spreads
 *   the draws as it would spread outcomes, without moving their centre; with no workout ratio every default
 *   loses exactly its predicted LGD;
 * - each band sums EL over its kept rows and the loss over the rows whose horizon covers the default, and
 *   the draw's error is EL ÷ loss − 1, as the report's.
 * Pinned by risk/test/el-null.test.ts.
 */
export interface ElNullRow {
  readonly borrowerId: string;
  readonly pd: number;
  readonly lgd: number;
  readonly ead: number;
}

export interface ElBandNull {
  readonly grade: string;
  /** Draws in which the band had a loss (its error defined). */
  readonly draws: number;
  /** The 2.5 % and 97.5 % points of the band's error (EL ÷ loss − 1) across those draws. */
  readonly low: number;
  readonly high: number;
  /** Share of draws whose error is within ±tolerance (of all draws: a band without loss is not within). */
  readonly shareWithin: number;
  /** Median number of defaulting borrowers in the band. */
  readonly medianDefaults: number;
  /** Equal-tailed: twice the share of draws on the far side of the observed error (capped at 1); undefined without an observed loss. */
  readonly pValue?: number;
}

export interface ElNull {
  readonly draws: number;
  readonly tolerance: number;
  readonly bands: readonly ElBandNull[];
  /** The bands the aim judges: those with `judged` defaulting borrowers observed (see the input). */
  readonly judged: readonly string[];
  /** Share of draws in which every judged band is within ±tolerance at once. */
  readonly shareAllWithin: number;
  /** Workout loss ratios the draws used (0: none, every default loses its predicted LGD). */
  readonly lossRatios: number;
}

export function elUnderModel(input: {
  readonly rows: readonly ElNullRow[];
  /** Realised ÷ predicted loss of past defaults (see above). */
  readonly lossRatios: readonly number[];
  /** The observed error per band (EL ÷ loss − 1), for the p-values. */
  readonly observed: Readonly<Record<string, number | undefined>>;
  readonly draws: number;
  readonly seed: number;
  readonly tolerance?: number;
  /** Grades the aim judges (the bands with ≥ 10 defaulting borrowers in the test). */
  readonly judged: readonly string[];
}): ElNull {
  const { rows, draws } = input;
  const tolerance = input.tolerance ?? 0.2;
  // Scaled to mean 1: under the model each default loses its predicted LGD on average, and misses by as much
  // as past defaults did. (Unscaled, a workout sample whose ratios average above 1 — a few well-secured
  // defaults that lost much — would make the model's own range say its EL is low.)
  const kept = input.lossRatios.filter((r) => Number.isFinite(r) && r >= 0);
  const mean = kept.reduce((a, r) => a + r, 0) / Math.max(1, kept.length);
  const judged = new Set(input.judged);
  const ratios = mean > 0 ? kept.map((r) => r / mean) : [];
  // The grade bands, then the total ('all', as the report's last line).
  const grades = [...GRADE_BANDS.map((b) => b.grade), 'all'];
  const ALL = grades.length - 1;
  const bandOf = Int32Array.from(rows, (r) => grades.indexOf(gradeFor(r.pd)));
  const el = Float64Array.from(rows, (r) => expectedLoss(r.pd, r.lgd, r.ead));
  const lossAt = Float64Array.from(rows, (r) => r.ead * r.lgd);
  const pd = Float64Array.from(rows, (r) => r.pd);
  const byBorrower = new Map<string, number[]>();
  rows.forEach((r, i) => {
    const list = byBorrower.get(r.borrowerId);
    if (list === undefined) byBorrower.set(r.borrowerId, [i]);
    else list.push(i);
  });
  const borrowers = [...byBorrower.values()];

  const rand = mulberry32(input.seed);
  const errors = grades.map(() => [] as number[]);
  const defaultsSeen = grades.map(() => [] as number[]);
  const within = new Float64Array(grades.length);
  let allWithin = 0;
  // Every row stays in every draw, so each band's EL is the same in all of them.
  const predicted = new Float64Array(grades.length);
  rows.forEach((_, i) => {
    const b = bandOf[i] as number;
    predicted[b] = (predicted[b] as number) + (el[i] as number);
    predicted[ALL] = (predicted[ALL] as number) + (el[i] as number);
  });
  const lost = new Float64Array(grades.length);
  const defaulted = new Float64Array(grades.length);
  const hit = new Uint8Array(grades.length);
  for (let d = 0; d < draws; d++) {
    lost.fill(0);
    defaulted.fill(0);
    for (const list of borrowers) {
      const u = rand();
      const ratio = ratios.length === 0 ? 1 : (ratios[Math.floor(rand() * ratios.length)] as number);
      hit.fill(0);
      for (const i of list) {
        const b = bandOf[i] as number;
        if (u < (pd[i] as number)) {
          const loss = (lossAt[i] as number) * ratio;
          lost[b] = (lost[b] as number) + loss;
          lost[ALL] = (lost[ALL] as number) + loss;
          hit[b] = 1;
          hit[ALL] = 1;
        }
      }
      for (let b = 0; b < grades.length; b++) defaulted[b] = (defaulted[b] as number) + (hit[b] as number);
    }
    let every = true;
    for (let b = 0; b < grades.length; b++) {
      const loss = lost[b] as number;
      const error = loss > 0 ? (predicted[b] as number) / loss - 1 : undefined;
      defaultsSeen[b]?.push(defaulted[b] as number);
      if (error !== undefined) errors[b]?.push(error);
      const ok = error !== undefined && Math.abs(error) <= tolerance;
      if (ok) within[b] = (within[b] as number) + 1;
      if (judged.has(grades[b] as string) && !ok) every = false;
    }
    if (every) allWithin += 1;
  }

  const bands: ElBandNull[] = [];
  grades.forEach((grade, b) => {
    const es = (errors[b] as number[]).sort((x, y) => x - y);
    if (es.length === 0) return;
    const q = (p: number) => es[Math.min(es.length - 1, Math.floor(p * es.length))] as number;
    const observed = input.observed[grade];
    const counts = (defaultsSeen[b] as number[]).sort((x, y) => x - y);
    bands.push({
      grade,
      draws: es.length,
      low: q(0.025),
      high: q(0.975),
      shareWithin: (within[b] as number) / Math.max(1, draws),
      medianDefaults: counts[Math.floor(counts.length / 2)] ?? 0,
      ...(observed === undefined
        ? {}
        : {
            pValue: Math.min(
              1,
              (2 * Math.min(es.filter((e) => e <= observed).length, es.filter((e) => e >= observed).length)) /
                es.length,
            ),
          }),
    });
  });
  return {
    draws,
    tolerance,
    judged: [...judged],
    bands,
    shareAllWithin: allWithin / Math.max(1, draws),
    lossRatios: ratios.length,
  };
}
