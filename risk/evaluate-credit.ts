import type { TelemetryStore } from '../core/storage/telemetry-store.js';
import type { CreditParams } from './credit/borrower-credit.js';
import { expectedLoss, lossGivenDefault, type LgdParams } from './credit/expected-loss.js';
import { fitLgdAtDefault, type LgdFit } from './credit/lgd-at-default.js';
import type { Portfolio } from './features/extract.js';
import { creditAt, DAY_MS, stakeDays } from './credit-at.js';
import { elUnderModel, type ElNull } from './el-null.js';
import { gradeFor, GRADE_BANDS } from './grades.js';

/**
 * The credit half of `riskfuse evaluate`: on the out-of-time test rows, does the platform's expected loss
 * (fused PD × LGD at default × EAD at t) match the losses the borrowers really caused, by grade and in total;
 * and did the stakes see a fraudster's collateral go before it defaulted?
 *
 * The LGD at default is fitted (risk/credit/lgd-at-default.ts) on the workout rows of the defaults whose loss
 * the test does not score — any borrower's before the split date, and the non-test borrowers' after it — and
 * applied to the test rows, so no test outcome enters the fit. The same rows are also valued with the
 * configured parameters (what the live platform shows) and with the collateral as the stakes saw it at t
 * (c = 1), so a report shows what conditioning on default changes.
 *
 * Predicted vs realised is compared row by row, as a PD is against the default rate: a test row (borrower,
 * weekly date t) predicts EL(t) over the model's horizon and realises the borrower's loss if it defaults in
 * (t, t + horizon], else 0; each grade band sums both over its rows. A borrower appears in a band once per
 * week, its default as often: both sides are weighted alike. Each row's EAD, verified collateral and LGD at t
 * come from the stakes' history as risk/credit-at.ts rebuilds them.
 * Pinned by risk/test/evaluate-credit.test.ts.
 */

/** A relative fall of verified collateral value that counts as "coverage dropped". */
export const COVERAGE_DROP_SHARE = 0.2;

export interface CreditTestRow {
  readonly borrowerId: string;
  readonly t: number;
  readonly pd: number;
  readonly lgd: number;
  readonly ead: number;
  /** Verified collateral value at t (what the stakes saw). */
  readonly verifiedValue: number;
  /** The borrower's realised loss if it defaults within the horizon after t, else 0. */
  readonly loss: number;
  readonly defaults: boolean;
}

export interface ElBand {
  readonly grade: string;
  readonly rows: number;
  /** Distinct borrowers defaulting within the horizon of one of the band's rows. */
  readonly defaults: number;
  readonly el: number;
  readonly loss: number;
  /**
   * Where a gap comes from: Σ PD × EAD (the exposure expected to default) against Σ EAD of the rows that did,
   * and the LGD each side implies (EL ÷ Σ PD × EAD against loss ÷ defaulted EAD).
   */
  readonly expectedDefaultedEad: number;
  readonly defaultedEad: number;
  /** EL ÷ loss − 1 (undefined without loss). */
  readonly error?: number;
  /** Within ±`tolerance` — asked of bands with at least `minDefaults` defaults. */
  readonly withinTolerance?: boolean;
}

export interface ElVsLoss {
  readonly bands: readonly ElBand[];
  readonly total: ElBand;
  readonly tolerance: number;
  readonly minDefaults: number;
}

/** Sums predicted EL and realised loss per grade band (by the row's PD) and in total. */
export function elVsLoss(
  rows: readonly CreditTestRow[],
  opts: { tolerance?: number; minDefaults?: number } = {},
): ElVsLoss {
  const tolerance = opts.tolerance ?? 0.2;
  const minDefaults = opts.minDefaults ?? 10;
  const band = (grade: string, rs: readonly CreditTestRow[]): ElBand => {
    const el = rs.reduce((s, r) => s + expectedLoss(r.pd, r.lgd, r.ead), 0);
    const loss = rs.reduce((s, r) => s + r.loss, 0);
    const expectedDefaultedEad = rs.reduce((s, r) => s + r.pd * r.ead, 0);
    const defaultedEad = rs.reduce((s, r) => s + (r.defaults ? r.ead : 0), 0);
    const defaults = new Set(rs.filter((r) => r.defaults).map((r) => r.borrowerId)).size;
    const error = loss > 0 ? el / loss - 1 : undefined;
    return {
      grade,
      rows: rs.length,
      defaults,
      el,
      loss,
      expectedDefaultedEad,
      defaultedEad,
      ...(error === undefined ? {} : { error }),
      ...(defaults >= minDefaults && error !== undefined
        ? { withinTolerance: Math.abs(error) <= tolerance }
        : {}),
    };
  };
  const bands = GRADE_BANDS.map((b) =>
    band(
      b.grade,
      rows.filter((r) => gradeFor(r.pd) === b.grade),
    ),
  ).filter((b) => b.rows > 0);
  return { bands, total: band('all', rows), tolerance, minDefaults };
}

export interface TruthDefault {
  readonly borrowerId: string;
  readonly defaultedAt: number;
  readonly ead: number;
  readonly loss: number;
  readonly fraud?: { readonly kind: string; readonly onsetMs: number };
}

/**
 * The credit rows of the test set: each (borrower, t) with its fused PD, LGD and EAD at t, and the loss it
 * realises within `horizonDays`.
 */
export async function creditTestRows(opts: {
  readonly telemetry: TelemetryStore;
  readonly portfolio: Portfolio;
  readonly rows: readonly { borrowerId: string; t: number }[];
  readonly pd: ArrayLike<number>;
  readonly truth: readonly TruthDefault[];
  readonly horizonDays: number;
  readonly params: CreditParams;
}): Promise<CreditTestRow[]> {
  const ts = opts.rows.map((r) => r.t);
  if (ts.length === 0) return [];
  const fromMs = Math.min(...ts) - opts.params.collateral.tamperHoldMs - DAY_MS;
  const toMs = Math.max(...ts);
  const borrowers = new Set(opts.rows.map((r) => r.borrowerId));
  const stakeIds = [...borrowers].flatMap(
    (b) => opts.portfolio.assets.get(b)?.stakes.map((s) => s.device.id) ?? [],
  );
  const days = await stakeDays(opts.telemetry, stakeIds, fromMs, toMs);
  const truth = new Map(opts.truth.map((d) => [d.borrowerId, d]));
  return opts.rows.map((r, i) => {
    const c = creditAt(
      opts.portfolio.assets.get(r.borrowerId)?.stakes ?? [],
      opts.portfolio.books.get(r.borrowerId),
      days,
      r.t,
      opts.params,
    );
    const d = truth.get(r.borrowerId);
    const defaults =
      d !== undefined && d.defaultedAt > r.t && d.defaultedAt <= r.t + opts.horizonDays * DAY_MS;
    return {
      borrowerId: r.borrowerId,
      t: r.t,
      pd: opts.pd[i] as number,
      lgd: c.lgd,
      ead: c.ead,
      verifiedValue: c.verifiedValue,
      loss: defaults ? d.loss : 0,
      defaults,
    };
  });
}

export interface FraudLead {
  /** Fraud borrowers defaulting in the period (after their fraud began). */
  readonly fraudDefaulters: number;
  /** Of them, those whose verified collateral fell by COVERAGE_DROP_SHARE before the default. */
  readonly droppedBefore: number;
  readonly share: number;
  /** Days from the first such drop to the default. */
  readonly leadDays: readonly number[];
  readonly medianLeadDays: number;
}

/**
 * First day on which a borrower's verified collateral value fell below (1 − COVERAGE_DROP_SHARE) of its
 * highest value over the `baselineDays` before; a series of [dayStart, value] in time order.
 */
export function firstDrop(
  series: readonly (readonly [number, number])[],
  baselineDays = 30,
  dropShare = COVERAGE_DROP_SHARE,
): number | undefined {
  for (let i = 0; i < series.length; i++) {
    const [t, v] = series[i] as readonly [number, number];
    let peak = 0;
    for (
      let k = i - 1;
      k >= 0 && t - (series[k] as readonly [number, number])[0] <= baselineDays * DAY_MS;
      k--
    )
      peak = Math.max(peak, (series[k] as readonly [number, number])[1]);
    if (peak > 0 && v < (1 - dropShare) * peak) return t;
  }
  return undefined;
}

const median = (xs: readonly number[]): number => {
  if (xs.length === 0) return 0;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};

/**
 * For the fraud borrowers defaulting in [fromMs, toMs): did their verified collateral drop (firstDrop), from
 * 60 days before the fraud began up to the default; and how many days ahead of the default.
 */
export async function fraudCoverageLead(opts: {
  readonly telemetry: TelemetryStore;
  readonly portfolio: Portfolio;
  readonly truth: readonly TruthDefault[];
  readonly fromMs: number;
  readonly toMs: number;
  readonly params: CreditParams;
}): Promise<FraudLead> {
  const cases = opts.truth.filter(
    (d) =>
      d.fraud !== undefined &&
      d.fraud.onsetMs < d.defaultedAt &&
      d.defaultedAt >= opts.fromMs &&
      d.defaultedAt < opts.toMs,
  );
  const leadDays: number[] = [];
  for (const d of cases) {
    const stakes = opts.portfolio.assets.get(d.borrowerId)?.stakes ?? [];
    const start = Math.floor(((d.fraud?.onsetMs ?? d.defaultedAt) - 60 * DAY_MS) / DAY_MS) * DAY_MS;
    const days = await stakeDays(
      opts.telemetry,
      stakes.map((s) => s.device.id),
      start - opts.params.collateral.tamperHoldMs,
      d.defaultedAt,
    );
    const series: [number, number][] = [];
    for (let t = start + DAY_MS; t <= d.defaultedAt; t += DAY_MS) {
      series.push([t, creditAt(stakes, undefined, days, t, opts.params).verifiedValue]);
    }
    const drop = firstDrop(series);
    if (drop !== undefined) leadDays.push(Math.round((d.defaultedAt - drop) / DAY_MS));
  }
  return {
    fraudDefaulters: cases.length,
    droppedBefore: leadDays.length,
    share: cases.length === 0 ? 0 : leadDays.length / cases.length,
    leadDays,
    medianLeadDays: median(leadDays),
  };
}

/** The rows revalued with other LGD parameters. */
export function withLgd(rows: readonly CreditTestRow[], p: LgdParams): CreditTestRow[] {
  return rows.map((r) => ({ ...r, lgd: lossGivenDefault(r.ead, r.verifiedValue, p).lgd }));
}

/**
 * Realised ÷ predicted loss of each past default at its last observation before default (the workout rows
 * carry the default's loss on every row): how far the LGD model missed, default by default (risk/el-null.ts).
 */
export function lossRatios(workout: readonly CreditTestRow[]): number[] {
  const last = new Map<string, CreditTestRow>();
  for (const r of workout) {
    const seen = last.get(r.borrowerId);
    if (seen === undefined || r.t > seen.t) last.set(r.borrowerId, r);
  }
  return [...last.values()].filter((r) => r.ead * r.lgd > 0).map((r) => r.loss / (r.ead * r.lgd));
}

export interface CreditEvaluation {
  /** EL with the LGD at default fitted before the split (the configured one when no default preceded it). */
  readonly elVsLoss: ElVsLoss;
  /** The range each band's EL-vs-loss error would have if PDs and LGDs were exactly right (risk/el-null.ts). */
  readonly elUnderModel: ElNull;
  /** The fit, on the workout rows of the defaults before the split. */
  readonly lgdFit?: LgdFit;
  /** Totals with the configured LGD parameters, and with the collateral as seen at t (c = 1). */
  readonly configured: ElBand;
  readonly collateralAsSeen: ElBand;
  readonly fraudLead: FraudLead;
  /** Defaults in the test period (any borrower), with and without a fraud before them, and their loss rates. */
  readonly defaults: {
    readonly fraud: { readonly n: number; readonly lossRate: number };
    readonly clean: { readonly n: number; readonly lossRate: number };
  };
}

/** The credit figures of an evaluation (see the top of this file). */
export async function evaluateCredit(opts: {
  readonly telemetry: TelemetryStore;
  readonly portfolio: Portfolio;
  readonly testRows: readonly { borrowerId: string; t: number }[];
  /** Labelled observations of any borrower and date: the workout rows of the LGD fit are taken from them. */
  readonly historyRows: readonly { borrowerId: string; t: number }[];
  readonly fusedPd: ArrayLike<number>;
  readonly truth: readonly TruthDefault[];
  readonly horizonDays: number;
  readonly splitMs: number;
  readonly toMs: number;
  readonly params: CreditParams;
  /** Draws of the EL range under the model (default 1,000). */
  readonly nullDraws?: number;
}): Promise<CreditEvaluation> {
  const rows = await creditTestRows({
    telemetry: opts.telemetry,
    portfolio: opts.portfolio,
    rows: opts.testRows,
    pd: opts.fusedPd,
    truth: opts.truth,
    horizonDays: opts.horizonDays,
    params: opts.params,
  });
  // Workout data: every default whose loss the test does not score — any borrower's before the split, and a
  // non-test borrower's at any time — each seen at its observations within the horizon before it. A lender's
  // training period holds few defaults (2 before the split of a 400-borrower, 15-month world); the borrowers
  // the PD model trained or stopped on add theirs without showing the fit a single test outcome.
  const testBorrowers = new Set(opts.testRows.map((r) => r.borrowerId));
  const before = opts.truth.filter((d) => d.defaultedAt < opts.splitMs || !testBorrowers.has(d.borrowerId));
  const defaulted = new Set(before.map((d) => d.borrowerId));
  const history = opts.historyRows.filter((r) => defaulted.has(r.borrowerId));
  const workout = (
    await creditTestRows({
      telemetry: opts.telemetry,
      portfolio: opts.portfolio,
      rows: history,
      pd: new Float64Array(history.length),
      truth: before,
      horizonDays: opts.horizonDays,
      params: opts.params,
    })
  ).filter((r) => r.defaults);
  const lgdFit = fitLgdAtDefault(workout, opts.params);
  const fitted =
    lgdFit === undefined
      ? opts.params
      : {
          ...opts.params,
          collateralAtDefault: lgdFit.collateralAtDefault,
          unsecuredLgd: lgdFit.unsecuredLgd,
        };
  const fraudLead = await fraudCoverageLead({
    telemetry: opts.telemetry,
    portfolio: opts.portfolio,
    truth: opts.truth,
    fromMs: opts.splitMs,
    toMs: opts.toMs,
    params: opts.params,
  });
  const inPeriod = opts.truth.filter((d) => d.defaultedAt >= opts.splitMs && d.defaultedAt < opts.toMs);
  const rate = (xs: readonly TruthDefault[]) => {
    const ead = xs.reduce((s, d) => s + d.ead, 0);
    return { n: xs.length, lossRate: ead > 0 ? xs.reduce((s, d) => s + d.loss, 0) / ead : 0 };
  };
  const scored = withLgd(rows, fitted);
  const vsLoss = elVsLoss(scored);
  return {
    elVsLoss: vsLoss,
    elUnderModel: elUnderModel({
      rows: scored,
      lossRatios: lossRatios(withLgd(workout, fitted)),
      observed: Object.fromEntries([...vsLoss.bands, vsLoss.total].map((b) => [b.grade, b.error])),
      draws: opts.nullDraws ?? 1_000,
      seed: 42,
      tolerance: vsLoss.tolerance,
      judged: vsLoss.bands.filter((b) => b.withinTolerance !== undefined).map((b) => b.grade),
    }),
    ...(lgdFit === undefined ? {} : { lgdFit }),
    configured: elVsLoss(rows).total,
    collateralAsSeen: elVsLoss(withLgd(rows, { ...opts.params, collateralAtDefault: 1 })).total,
    fraudLead,
    defaults: {
      fraud: rate(inPeriod.filter((d) => d.fraud !== undefined)),
      clean: rate(inPeriod.filter((d) => d.fraud === undefined)),
    },
  };
}
