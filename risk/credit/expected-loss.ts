/**
 * Expected loss = PD × LGD × EAD (Basel II IRB, BCBS 128 §§ 272–318). Pinned by
 * risk/test/credit/expected-loss.test.ts.
 *
 * - EAD = outstanding + undrawn committed limit × CCF (§ 311: 75 % for committed lines under F-IRB).
 * - LGD splits the exposure at the collateral value expected AT DEFAULT: the secured part loses what recovery
 *   misses, 1 − recoveryRate × (1 − liquidationCost); the unsecured part loses `unsecuredLgd`. The haircut is
 *   already in the verified value (risk/credit/collateral.ts).
 *
 * Why "at default" and not the collateral as the stakes see it today: LGD is the loss rate *given default*
 * (BCBS 128 § 468 and CRR Art. 181(1)(b): estimates reflect the conditions of a default, a downturn LGD;
 * EBA GL/2017/16 § 6: LGD is estimated on realised defaults, the workout data). A borrower that defaults
 * does not default with today's stock: as it fails it sells stock without restocking, and a fraudster's lot
 * is gone or claimed by other creditors (simulators/fraud-credit.ts, lots.ts). So the value expected at
 * default is today's verified value × `collateralAtDefault` — the share of verified collateral a defaulting
 * borrower still had at default, estimated on the lender's realised defaults (risk/credit/lgd-at-default.ts,
 * refitted on each `riskfuse evaluate`'s training period). The live *coverage* figure stays what the devices
 * see today; only LGD and EL use the value at default. Pinned by risk/test/credit/lgd-at-default.test.ts.
 */
export interface LgdParams {
  readonly unsecuredLgd: number;
  readonly recoveryRate: number;
  readonly liquidationCost: number;
  /** Share of today's verified collateral value expected to be there at default (1: none runs down). */
  readonly collateralAtDefault: number;
}

export function exposureAtDefault(outstanding: number, undrawn: number, ccf: number): number {
  return Math.max(0, outstanding) + Math.max(0, undrawn) * ccf;
}

/** The LGD of the collateral-backed part of an exposure. */
export function securedLgd(p: LgdParams): number {
  return Math.max(0, 1 - p.recoveryRate * (1 - p.liquidationCost));
}

export interface LgdBreakdown {
  readonly lgd: number;
  readonly securedPart: number;
  readonly unsecuredPart: number;
}

/** LGD given default: `verifiedValue` is today's; the part expected at default secures the exposure. */
export function lossGivenDefault(ead: number, verifiedValue: number, p: LgdParams): LgdBreakdown {
  if (!(ead > 0)) return { lgd: 0, securedPart: 0, unsecuredPart: 0 };
  const securedPart = Math.min(ead, Math.max(0, verifiedValue * p.collateralAtDefault));
  const unsecuredPart = ead - securedPart;
  const lgd = (securedPart * securedLgd(p) + unsecuredPart * p.unsecuredLgd) / ead;
  return { lgd, securedPart, unsecuredPart };
}

export function expectedLoss(pd: number, lgd: number, ead: number): number {
  return pd * lgd * ead;
}
