import { lossGivenDefault, securedLgd, type LgdParams } from './expected-loss.js';

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
 * (loss on the part it does not cover). The fit is calibrated to the realised total first, as the estimates
 * must be (EBA GL/2017/16 § 6.3.2: calibrated to the long-run default-weighted average realised LGD): for
 * each c on a 0.01 grid, u is the value at which Σ EAD × LGD = Σ loss; of those, the c with the least
 * Σ (loss − EAD × LGD)² — squared error in money, because expected loss is summed in money. Plain least
 * squares without the constraint let a few large exposures pull the total 8 points below the realised LGD.
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
  const s = securedLgd(base);
  const totalLoss = rs.reduce((acc, r) => acc + r.loss, 0);
  let best: { sse: number; c: number; u: number } | undefined;
  for (let ci = 0; ci <= GRID; ci++) {
    const c = ci / GRID;
    // u that calibrates the total: Σ EAD × LGD = s × Σ secured + u × Σ unsecured = Σ loss (LGD is linear in u).
    let secured = 0;
    let unsecured = 0;
    for (const r of rs) {
      const part = Math.min(r.ead, Math.max(0, r.verifiedValue * c));
      secured += part;
      unsecured += r.ead - part;
    }
    const u = unsecured > 0 ? (totalLoss - s * secured) / unsecured : base.unsecuredLgd;
    if (!(u >= 0 && u <= 1)) continue;
    const p = { ...base, collateralAtDefault: c, unsecuredLgd: u };
    let sse = 0;
    for (const r of rs) {
      const e = r.loss - r.ead * lossGivenDefault(r.ead, r.verifiedValue, p).lgd;
      sse += e * e;
    }
    // Ties (e.g. no collateral at all leaves c free) keep the earlier, lower-c point: the prudent one.
    if (best === undefined || sse < best.sse) best = { sse, c, u };
  }
  // No c calibrates the total within u ∈ [0, 1] (losses beyond even a fully unsecured loss, or below the
  // secured LGD): the nearest bound of each.
  best ??= {
    sse: Number.NaN,
    c: totalLoss > s * rs.reduce((acc, r) => acc + r.ead, 0) ? 0 : 1,
    u: totalLoss > s * rs.reduce((acc, r) => acc + r.ead, 0) ? 1 : 0,
  };
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
