import { borrowerCapOf, type LendingPolicy } from './policy.js';

/**
 * The lending policy's checks, each with a stable reason code (what an import report, a recommendation and a
 * `policy.breached` event carry). Pure. Pinned by risk/test/credit/policy.test.ts.
 */
export const POLICY_CODES = [
  'POLICY_CO_LENDING_SHARE',
  'POLICY_FUNDER_SHARES',
  'POLICY_BORROWER_CAP',
  'POLICY_MIN_COVERAGE',
  'POLICY_MAX_TENOR',
] as const;
export type PolicyCode = (typeof POLICY_CODES)[number];

export interface PolicyViolation {
  readonly code: PolicyCode;
  readonly message: string;
  readonly limit: number;
  readonly actual: number;
}

export interface Funder {
  readonly funderId: string;
  readonly sharePct: number;
}

/** Shares must add up to 100 % (to a hundredth of a percent: CSV rounding). */
const SHARE_TOLERANCE_PCT = 0.01;

const fmt = (n: number): string => n.toLocaleString('en-US', { maximumFractionDigits: 2 });

/**
 * Co-lending: a loan's funders' shares add up to 100 % and the platform lender's own share is at least the
 * policy's minimum. A loan without recorded funders is the lender's alone (100 %).
 */
export function checkCoLending(
  funders: readonly Funder[],
  lenderId: string,
  policy: LendingPolicy,
): PolicyViolation[] {
  if (funders.length === 0) return [];
  const out: PolicyViolation[] = [];
  const total = funders.reduce((s, f) => s + f.sharePct, 0);
  if (Math.abs(total - 100) > SHARE_TOLERANCE_PCT) {
    out.push({
      code: 'POLICY_FUNDER_SHARES',
      message: `funders' shares add up to ${fmt(total)} %, not 100 %`,
      limit: 100,
      actual: total,
    });
  }
  const own = funders.filter((f) => f.funderId === lenderId).reduce((s, f) => s + f.sharePct, 0);
  const min = policy.coLending.minOwnSharePct;
  if (own + SHARE_TOLERANCE_PCT < min) {
    out.push({
      code: 'POLICY_CO_LENDING_SHARE',
      message: `the lender's own share is ${fmt(own)} %; the policy requires at least ${fmt(min)} %`,
      limit: min,
      actual: own,
    });
  }
  return out;
}

export function checkTenor(termDays: number, policy: LendingPolicy): PolicyViolation[] {
  if (termDays <= policy.maxTenorDays) return [];
  return [
    {
      code: 'POLICY_MAX_TENOR',
      message: `tenor ${termDays} days exceeds the policy's maximum of ${policy.maxTenorDays} days`,
      limit: policy.maxTenorDays,
      actual: termDays,
    },
  ];
}

/** The borrower's outstanding (after the loan or application in question) against the cap of its type. */
export function checkBorrowerCap(
  outstanding: number,
  sector: string | undefined,
  currency: string,
  policy: LendingPolicy,
): PolicyViolation[] {
  const cap = borrowerCapOf(policy, sector);
  if (outstanding <= cap) return [];
  return [
    {
      code: 'POLICY_BORROWER_CAP',
      message: `the borrower would owe ${fmt(outstanding)} ${currency}, over the cap of ${fmt(cap)} ${currency}${sector === undefined ? '' : ` for ${sector}`}`,
      limit: cap,
      actual: outstanding,
    },
  ];
}

/**
 * Verified coverage of a secured line (a borrower with pledged lots) against the policy's minimum. An
 * unsecured line, or one with nothing exposed (coverage undefined), passes.
 */
export function checkCoverage(
  verifiedCoverage: number | undefined,
  secured: boolean,
  policy: LendingPolicy,
): PolicyViolation[] {
  if (!secured || verifiedCoverage === undefined || verifiedCoverage >= policy.minVerifiedCoverage) return [];
  return [
    {
      code: 'POLICY_MIN_COVERAGE',
      message: `verified collateral covers ${fmt(verifiedCoverage * 100)} % of the exposure; the policy requires ${fmt(policy.minVerifiedCoverage * 100)} %`,
      limit: policy.minVerifiedCoverage,
      actual: verifiedCoverage,
    },
  ];
}
