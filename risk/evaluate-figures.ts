import type { Imputer } from './features/dataset.js';
import { toMatrix } from './features/dataset.js';
import type { FeatureRow } from './features/extract.js';
import { DAY_MS } from './features/online.js';
import type { ReliabilityBin } from './metrics.js';
import type { Classifier } from './model/types.js';

/** The evaluation's per-model figures beyond discrimination: alert threshold, lead time, decile calibration, ROC thinning. */

export interface LeadTimeReport {
  /** Defaulters (test borrowers, default inside the test period) with scores before default. */
  readonly defaulters: number;
  /** Days before default of the first weekly score at or above the threshold (0 = never crossed). */
  readonly firstCrossingDays: number[];
  /** Days before default of the start of the last uninterrupted run above the threshold (0 = not alerting). */
  readonly sustainedDays: number[];
  readonly medianFirstDays: number;
  readonly medianSustainedDays: number;
  readonly missed: number;
  readonly histogram: Record<string, number>;
}

/** The PD above which a model alerts so that `fpr` of the test non-defaulters' rows alert. */
export function alertThreshold(p: ArrayLike<number>, y: ArrayLike<number>, fpr: number): number {
  const neg: number[] = [];
  for (let i = 0; i < p.length; i++) if (y[i] === 0) neg.push(p[i] as number);
  neg.sort((a, b) => b - a);
  return neg[Math.max(0, Math.floor(neg.length * fpr) - 1)] ?? 1;
}

function median(xs: readonly number[]): number {
  if (xs.length === 0) return 0;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

/**
 * max over deciles of max(predicted / observed, observed / predicted), deciles without a default left out:
 * 1 is perfect, 2 means some decile is off by a factor of two.
 */
export function maxDecileRatio(table: readonly ReliabilityBin[]): number {
  let worst = 1;
  for (const b of table) {
    if (b.observedRate <= 0 || b.meanPredicted <= 0) continue;
    worst = Math.max(worst, b.meanPredicted / b.observedRate, b.observedRate / b.meanPredicted);
  }
  return worst;
}

export function leadTimes(
  model: Classifier,
  imputer: Imputer,
  rows: readonly FeatureRow[],
  defaulters: ReadonlyMap<string, number>,
  threshold: number,
  toPd: (logits: Float32Array) => ArrayLike<number>,
): LeadTimeReport {
  const p = rows.length === 0 ? new Float32Array(0) : toPd(model.predictLogit(toMatrix(rows, imputer)));
  const by = new Map<string, { t: number; pd: number }[]>();
  rows.forEach((r, i) => {
    const list = by.get(r.borrowerId) ?? [];
    list.push({ t: r.t, pd: p[i] as number });
    by.set(r.borrowerId, list);
  });
  const firstDays: number[] = [];
  const sustainedDays: number[] = [];
  for (const [id, d] of defaulters) {
    const scores = (by.get(id) ?? []).sort((a, b) => a.t - b.t);
    if (scores.length === 0) continue;
    const first = scores.find((s) => s.pd >= threshold);
    firstDays.push(first === undefined ? 0 : Math.round((d - first.t) / DAY_MS));
    let runStart: number | undefined;
    for (const s of scores) runStart = s.pd >= threshold ? (runStart ?? s.t) : undefined;
    sustainedDays.push(runStart === undefined ? 0 : Math.round((d - runStart) / DAY_MS));
  }
  const histogram: Record<string, number> = {
    missed: 0,
    '1-30': 0,
    '31-60': 0,
    '61-90': 0,
    '91-180': 0,
    '>180': 0,
  };
  for (const v of sustainedDays) {
    const k =
      v === 0
        ? 'missed'
        : v <= 30
          ? '1-30'
          : v <= 60
            ? '31-60'
            : v <= 90
              ? '61-90'
              : v <= 180
                ? '91-180'
                : '>180';
    histogram[k] = (histogram[k] ?? 0) + 1;
  }
  return {
    defaulters: sustainedDays.length,
    firstCrossingDays: firstDays,
    sustainedDays,
    medianFirstDays: median(firstDays),
    medianSustainedDays: median(sustainedDays),
    missed: sustainedDays.filter((v) => v === 0).length,
    histogram,
  };
}

export function thinRoc(
  fpr: ArrayLike<number>,
  tpr: ArrayLike<number>,
  points: number,
): { fpr: number[]; tpr: number[] } {
  const n = fpr.length;
  const step = Math.max(1, Math.floor(n / points));
  const f: number[] = [];
  const t: number[] = [];
  for (let i = 0; i < n; i += step) {
    f.push(Math.round((fpr[i] as number) * 1e4) / 1e4);
    t.push(Math.round((tpr[i] as number) * 1e4) / 1e4);
  }
  if (n > 0) {
    f.push(fpr[n - 1] as number);
    t.push(tpr[n - 1] as number);
  }
  return { fpr: f, tpr: t };
}
