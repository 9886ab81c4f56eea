import { GRADE_BANDS } from '../grades.js';
import { auc, brier, ks } from '../metrics.js';

/**
 * Backtesting a model version on outcomes as they arrive: each past score is an observation (borrower, time,
 * PD, grade); once its outcome is known it is labelled — 1 when the borrower defaulted within the model's
 * horizon after the score, 0 when the whole horizon passed without default — and the labelled ones are judged
 * like an evaluation's test set: AUC, KS, Brier, and per grade the mean predicted PD beside the observed
 * default rate (the EBA's PD back-testing: "Guidelines on PD estimation", EBA/GL/2017/16, §§ 217–222).
 * Observations whose horizon is still open and that have not defaulted are pending, never counted as good:
 * counting them would flatter every model in its first months. Pure; pinned by risk/test/model-backtest.test.ts.
 */
export interface BacktestObservation {
  readonly borrowerId: string;
  readonly at: number;
  readonly pd: number;
  readonly grade: string;
}

export interface GradeBacktest {
  readonly grade: string;
  readonly count: number;
  readonly defaults: number;
  readonly meanPd: number;
  readonly observedRate: number;
}

export interface BacktestFigures {
  readonly observations: number;
  readonly labelled: number;
  readonly pending: number;
  readonly defaults: number;
  /** null until both outcomes are present. */
  readonly auc: number | null;
  readonly ks: number | null;
  readonly brier: number | null;
  readonly meanPd: number | null;
  readonly observedRate: number | null;
  /** Grades A–G that hold labelled observations, best first. */
  readonly grades: readonly GradeBacktest[];
}

/**
 * The outcome of each observation as of `now`: `defaults` maps a borrower to its (first) default time.
 * Observations at or after a borrower's default are out of the population (a defaulted borrower is not scored
 * for default again) and dropped.
 */
export function labelObservations(
  observations: readonly BacktestObservation[],
  defaults: ReadonlyMap<string, number>,
  horizonMs: number,
  now: number,
): { labelled: (BacktestObservation & { label: 0 | 1 })[]; pending: number } {
  const labelled: (BacktestObservation & { label: 0 | 1 })[] = [];
  let pending = 0;
  for (const o of observations) {
    const d = defaults.get(o.borrowerId);
    if (d !== undefined && d <= o.at) continue;
    if (d !== undefined && d <= o.at + horizonMs && d <= now) labelled.push({ ...o, label: 1 });
    else if (o.at + horizonMs <= now) labelled.push({ ...o, label: 0 });
    else pending++;
  }
  return { labelled, pending };
}

const finiteOrNull = (x: number): number | null => (Number.isFinite(x) ? x : null);

export function backtestFigures(
  labelled: readonly (BacktestObservation & { label: 0 | 1 })[],
  pending = 0,
): BacktestFigures {
  const p = Float64Array.from(labelled, (o) => o.pd);
  const y = Uint8Array.from(labelled, (o) => o.label);
  const defaults = y.reduce((s, v) => s + v, 0);
  const both = defaults > 0 && defaults < labelled.length;
  const byGrade = new Map<string, { count: number; defaults: number; sumPd: number }>();
  for (const o of labelled) {
    const g = byGrade.get(o.grade) ?? { count: 0, defaults: 0, sumPd: 0 };
    g.count++;
    g.defaults += o.label;
    g.sumPd += o.pd;
    byGrade.set(o.grade, g);
  }
  const order = GRADE_BANDS.map((b) => b.grade);
  const grades = [...byGrade.entries()]
    .sort((a, b) => order.indexOf(a[0]) - order.indexOf(b[0]))
    .map(([grade, g]) => ({
      grade,
      count: g.count,
      defaults: g.defaults,
      meanPd: g.sumPd / g.count,
      observedRate: g.defaults / g.count,
    }));
  const n = labelled.length;
  return {
    observations: n + pending,
    labelled: n,
    pending,
    defaults,
    auc: both ? finiteOrNull(auc(p, y)) : null,
    ks: both ? finiteOrNull(ks(p, y)) : null,
    brier: n === 0 ? null : brier(p, y),
    meanPd: n === 0 ? null : p.reduce((s, v) => s + v, 0) / n,
    observedRate: n === 0 ? null : defaults / n,
    grades,
  };
}
