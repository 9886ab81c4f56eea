/**
 * Expected loss = PD × LGD × EAD (Basel II IRB, BCBS 128 §§ 272–318). Pinned by
 * risk/test/credit/expected-loss.test.ts.
 *
 * - EAD = outstanding + undrawn committed limit × CCF (§ 311: 75 % for committed lines under F-IRB).
 * - LGD splits the exposure at the verified collateral value: the secured part loses what recovery misses,
 *   1 − recoveryRate × (1 − liquidationCost); the unsecured part loses `unsecuredLgd` (F-IRB senior
 *   unsecured: 45 %, § 287). The haircut is already in the verified value (risk/credit/collateral.ts).
 */
export interface LgdParams {
  readonly unsecuredLgd: number;
  readonly recoveryRate: number;
  readonly liquidationCost: number;
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

export function lossGivenDefault(ead: number, verifiedValue: number, p: LgdParams): LgdBreakdown {
  if (!(ead > 0)) return { lgd: 0, securedPart: 0, unsecuredPart: 0 };
  const securedPart = Math.min(ead, Math.max(0, verifiedValue));
  const unsecuredPart = ead - securedPart;
  const lgd = (securedPart * securedLgd(p) + unsecuredPart * p.unsecuredLgd) / ead;
  return { lgd, securedPart, unsecuredPart };
}

export function expectedLoss(pd: number, lgd: number, ead: number): number {
  return pd * lgd * ead;
}
