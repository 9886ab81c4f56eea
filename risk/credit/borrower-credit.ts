import type { CollateralRules, LotObservation, LotValuation } from './collateral.js';
import { coverage, valueLot } from './collateral.js';
import { expectedLoss, exposureAtDefault, lossGivenDefault, type LgdParams } from './expected-loss.js';
import type { CollateralLot, CreditExposure } from '../../core/state/index.js';

/**
 * One borrower's credit figures: EAD, claimed and verified coverage, LGD and EL, from the loan book, the
 * committed limit, the lots with what their stakes last said, and the PD. Collateral is pooled over the
 * borrower's loans (an all-assets pledge, as warehouse-receipt lending usually is), so a loan's EL is
 * PD × the borrower's LGD × the loan's EAD. Figures are in the borrower's main currency (the one with the
 * largest outstanding); lots in other currencies do not count. Pure. Pinned by
 * risk/test/credit/expected-loss.test.ts.
 */
export interface CreditParams extends LgdParams {
  readonly ccf: number;
  readonly collateral: CollateralRules;
}

export interface BorrowerCreditInput {
  readonly borrowerId: string;
  readonly pd?: number;
  readonly exposures: readonly { currency: string; outstanding: number }[];
  /** Committed but undrawn limit, by currency. */
  readonly undrawn?: ReadonlyMap<string, number>;
  readonly lots: readonly { lot: CollateralLot; observation: LotObservation }[];
}

/** The figures stored per borrower (`CreditExposure`), with its lots typed and before the policy is checked. */
export interface BorrowerCredit extends Omit<CreditExposure, 'breaches' | 'lots'> {
  readonly lots: readonly LotValuation[];
}

export function mainCurrency(
  exposures: readonly { currency: string; outstanding: number }[],
  lots: readonly { lot: CollateralLot }[],
): string {
  let best: { currency: string; outstanding: number } | undefined;
  for (const e of exposures) if (best === undefined || e.outstanding > best.outstanding) best = e;
  return best?.currency ?? lots[0]?.lot.currency ?? 'CAD';
}

export function borrowerCredit(input: BorrowerCreditInput, p: CreditParams, nowMs: number): BorrowerCredit {
  const currency = mainCurrency(input.exposures, input.lots);
  const outstanding = input.exposures.find((e) => e.currency === currency)?.outstanding ?? 0;
  const undrawn = input.undrawn?.get(currency) ?? 0;
  const ead = exposureAtDefault(outstanding, undrawn, p.ccf);
  const lots = input.lots.map((l) => valueLot(l.lot, l.observation, p.collateral, nowMs));
  const cov = coverage(lots, ead, currency);
  const { lgd } = lossGivenDefault(ead, cov.verifiedValue, p);
  return {
    borrowerId: input.borrowerId,
    currency,
    outstanding,
    undrawn,
    ead,
    claimedValue: cov.claimedValue,
    verifiedValue: cov.verifiedValue,
    ...(cov.claimed === undefined ? {} : { claimedCoverage: cov.claimed }),
    ...(cov.verified === undefined ? {} : { verifiedCoverage: cov.verified }),
    lgd,
    ...(input.pd === undefined ? {} : { pd: input.pd, el: expectedLoss(input.pd, lgd, ead) }),
    lots,
    computedAt: nowMs,
  };
}

/** Portfolio totals per currency: EAD and EL (of borrowers with a PD), and the EAD-weighted LGD. */
export function portfolioCredit(
  all: readonly BorrowerCredit[],
): { currency: string; ead: number; el: number; lgd: number; borrowers: number }[] {
  const acc = new Map<string, { ead: number; el: number; lgdEad: number; borrowers: number }>();
  for (const b of all) {
    const a = acc.get(b.currency) ?? { ead: 0, el: 0, lgdEad: 0, borrowers: 0 };
    a.ead += b.ead;
    a.el += b.el ?? 0;
    a.lgdEad += b.lgd * b.ead;
    a.borrowers += 1;
    acc.set(b.currency, a);
  }
  return [...acc]
    .sort(([x], [y]) => (x < y ? -1 : 1))
    .map(([currency, a]) => ({
      currency,
      ead: a.ead,
      el: a.el,
      lgd: a.ead > 0 ? a.lgdEad / a.ead : 0,
      borrowers: a.borrowers,
    }));
}
