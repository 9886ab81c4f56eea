import { lossGivenDefault, type LgdParams } from './expected-loss.js';

/**
 * The LGD-at-default model estimated on realised defaults (workout data), as an advanced-IRB bank estimates
 * its own LGDs (EBA GL/2017/16 §§ 6.3–6.4: realised LGD of each defaulted facility, estimated over the
 * observations before default; CRR Art. 181).
 *
 * A workout row is one observation of a borrower at t, within the horizon before a default that happened:
 * its EAD and verified collateral value at t, and the loss the default finally caused. The model is the
 * shape of risk/credit/expected-loss.ts with two parameters fitted, everything else as configured:
 *
 *   LGD(t) = [min(EAD, V(t) × c) × securedLgd + (EAD − min(EAD, V(t) × c)) × u] ÷ EAD
 *
 * c = `collateralAtDefault` (share of today's verified value still there at default) and u = `unsecuredLgd`
 * (loss on the part it does not cover), chosen on a 0.01 grid to minimise Σ (loss − EAD × LGD)² — squared
 * error in money, because expected loss is summed in money.
 *
 * Why this and not a richer model (coverage trend, tamper and geofence history, fraud flags as inputs): the
 * training period of a lender this size holds a few dozen defaults, each seen at ~25 weekly dates that are
 * strongly correlated; two parameters with a meaning a credit committee can check (how much of the stock a
 * defaulter still has; what the unsecured part loses) are what such a sample supports, and the signals of a
 * fraud in progress already lower V(t) itself (a lot out of its fence or tampered counts at 0 or half:
 * collateral.ts). The fit is out of sample when measured: `riskfuse evaluate` fits on the defaults before its
 * split date and reports EL against realised loss on the test rows after it (risk/evaluate-credit.ts); the
 * configured defaults (CREDIT_COLLATERAL_AT_DEFAULT, CREDIT_UNSECURED_LGD) are its figures on the reference
 * world, and a lender replaces them with its own workout data's. Pinned by
 * risk/test/credit/lgd-at-default.test.ts.
 */
export interface WorkoutRow {
  readonly borrowerId: string;
  readonly ead: number;
  readonly verifiedValue: number;
  /** The realised loss of the default that followed. */
  readonly loss: number;
}

export interface LgdFit {
  readonly collateralAtDefault: number;
  readonly unsecuredLgd: number;
  /** Distinct defaulted borrowers and workout rows the fit saw. */
  readonly defaults: number;
  readonly rows: number;
  /** Σ loss ÷ Σ EAD of the rows, and the fitted model's Σ EAD × LGD ÷ Σ EAD. */
  readonly realisedLgd: number;
  readonly fittedLgd: number;
}

const GRID = 100;

/** Fits c and u (see above) on the workout rows; undefined without a row of positive EAD. */
export function fitLgdAtDefault(rows: readonly WorkoutRow[], base: LgdParams): LgdFit | undefined {
  const rs = rows.filter((r) => r.ead > 0 && Number.isFinite(r.loss));
  if (rs.length === 0) return undefined;
  let best = { sse: Number.POSITIVE_INFINITY, c: 1, u: base.unsecuredLgd };
  for (let ci = 0; ci <= GRID; ci++) {
    for (let ui = 0; ui <= GRID; ui++) {
      const p = { ...base, collateralAtDefault: ci / GRID, unsecuredLgd: ui / GRID };
      let sse = 0;
      for (const r of rs) {
        const e = r.loss - r.ead * lossGivenDefault(r.ead, r.verifiedValue, p).lgd;
        sse += e * e;
      }
      // Ties (e.g. no collateral at all leaves c free) keep the earlier, lower-c point: the prudent one.
      if (sse < best.sse) best = { sse, c: ci / GRID, u: ui / GRID };
    }
  }
  const fitted = { ...base, collateralAtDefault: best.c, unsecuredLgd: best.u };
  const ead = rs.reduce((s, r) => s + r.ead, 0);
  return {
    collateralAtDefault: best.c,
    unsecuredLgd: best.u,
    defaults: new Set(rs.map((r) => r.borrowerId)).size,
    rows: rs.length,
    realisedLgd: rs.reduce((s, r) => s + r.loss, 0) / ead,
    fittedLgd: rs.reduce((s, r) => s + r.ead * lossGivenDefault(r.ead, r.verifiedValue, fitted).lgd, 0) / ead,
  };
}
