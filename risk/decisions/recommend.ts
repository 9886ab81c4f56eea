import type { FunderShare } from '../../core/state/index.js';
import type { CreditParams } from '../credit/borrower-credit.js';
import { expectedLoss, exposureAtDefault, lossGivenDefault } from '../credit/expected-loss.js';
import {
  checkBorrowerCap,
  checkCoLending,
  checkCoverage,
  checkTenor,
  type PolicyViolation,
} from '../policy/checks.js';
import type { LendingPolicy } from '../policy/policy.js';

/**
 * The platform's recommendation on a credit application (the lender's approver decides; risk/decisions/
 * decide.ts): PD and grade from the borrower's latest score, EAD, LGD and EL with the application's amount
 * added to what the borrower owes, the policy's checks, a suggested limit — the largest amount (in steps of
 * `LIMIT_STEP`) whose EL rate stays within `maxElRate` and whose policy checks pass — and the reasons in plain
 * words. Collateral is the borrower's pooled verified value (risk/credit/borrower-credit.ts); a lot named in
 * the application that is not the borrower's is refused by the API before this. Pure.
 * Pinned by risk/test/credit/recommend.test.ts.
 */
export const LIMIT_STEP = 1_000;

export interface RecommendInput {
  readonly amount: number;
  readonly currency: string;
  readonly tenorDays: number;
  readonly funders: readonly FunderShare[];
  /** What the borrower owes now and its committed undrawn limit, in the application's currency. */
  readonly outstanding: number;
  readonly undrawn: number;
  readonly verifiedValue: number;
  readonly claimedValue: number;
  /** Whether the line is secured (the borrower has pledged lots). */
  readonly secured: boolean;
  readonly sector?: string;
  readonly score?: {
    pd: number;
    grade: string;
    reasons: readonly { feature: string; text: string; contribution: number }[];
  };
}

export interface Recommendation {
  readonly outcome: 'approve' | 'approve-lower' | 'decline' | 'refer';
  readonly pd: number | null;
  readonly grade: string | null;
  readonly ead: number;
  readonly lgd: number;
  readonly el: number | null;
  readonly elRate: number | null;
  readonly claimedCoverage: number | null;
  readonly verifiedCoverage: number | null;
  readonly checks: readonly PolicyViolation[];
  readonly suggestedLimit: number;
  /** Plain-words reasons, most important first. */
  readonly reasons: readonly string[];
  /** The model's top PD-raising reason codes (features), the adverse-action reasons of a decline. */
  readonly adverseReasons: readonly { code: string; text: string }[];
  readonly policyVersion: number;
}

export interface RecommendContext {
  readonly policy: LendingPolicy;
  readonly policyVersion: number;
  readonly lenderId: string;
  readonly params: CreditParams;
  readonly maxElRate: number;
}

interface AtAmount {
  ead: number;
  lgd: number;
  el: number | null;
  violations: PolicyViolation[];
}

function at(input: RecommendInput, ctx: RecommendContext, amount: number): AtAmount {
  const ead = exposureAtDefault(input.outstanding + amount, input.undrawn, ctx.params.ccf);
  const { lgd } = lossGivenDefault(ead, input.verifiedValue, ctx.params);
  const el = input.score === undefined ? null : expectedLoss(input.score.pd, lgd, ead);
  const coverage = ead > 0 ? input.verifiedValue / ead : undefined;
  return {
    ead,
    lgd,
    el,
    violations: [
      ...checkTenor(input.tenorDays, ctx.policy),
      ...checkCoLending(input.funders, ctx.lenderId, ctx.policy),
      ...checkBorrowerCap(input.outstanding + amount, input.sector, input.currency, ctx.policy),
      ...checkCoverage(coverage, input.secured, ctx.policy),
    ],
  };
}

const passes = (a: AtAmount, maxElRate: number): boolean =>
  a.violations.length === 0 && (a.el === null || a.ead <= 0 || a.el / a.ead <= maxElRate);

const money = (n: number, currency: string): string => `${Math.round(n).toLocaleString('en-US')} ${currency}`;

export function recommend(input: RecommendInput, ctx: RecommendContext): Recommendation {
  const full = at(input, ctx, input.amount);
  // EL rate and the cap and coverage checks only get worse as the amount grows: the passing amounts are an
  // interval from 0, found by bisection on LIMIT_STEP multiples.
  let lo = 0;
  let hi = Math.floor(input.amount / LIMIT_STEP);
  if (passes(full, ctx.maxElRate)) lo = hi;
  else if (!passes(at(input, ctx, LIMIT_STEP), ctx.maxElRate)) hi = 0;
  else {
    lo = 1;
    while (hi - lo > 1) {
      const mid = Math.floor((lo + hi) / 2);
      if (passes(at(input, ctx, mid * LIMIT_STEP), ctx.maxElRate)) lo = mid;
      else hi = mid;
    }
  }
  const suggestedLimit = passes(full, ctx.maxElRate) ? input.amount : lo * LIMIT_STEP;
  const elRate = full.el === null || full.ead <= 0 ? null : full.el / full.ead;
  const reasons: string[] = [];
  const adverseReasons = (input.score?.reasons ?? [])
    .filter((r) => r.contribution > 0)
    .slice(0, 4)
    .map((r) => ({ code: r.feature, text: r.text }));
  let outcome: Recommendation['outcome'];
  if (input.score === undefined) {
    outcome = 'refer';
    reasons.push('the borrower has no score yet: refer for a manual assessment');
  } else if (suggestedLimit >= input.amount) {
    outcome = 'approve';
    reasons.push(
      `expected loss ${money(full.el ?? 0, input.currency)} (${((elRate ?? 0) * 100).toFixed(2)} % of EAD) is within the ${(ctx.maxElRate * 100).toFixed(2)} % limit and every policy check passes`,
    );
  } else if (suggestedLimit > 0) {
    outcome = 'approve-lower';
    reasons.push(
      `the largest amount within the EL limit and the policy is ${money(suggestedLimit, input.currency)}`,
    );
  } else {
    outcome = 'decline';
    reasons.push('no amount passes the EL limit and the policy');
  }
  for (const v of full.violations) reasons.push(v.message);
  if (input.score !== undefined && elRate !== null && elRate > ctx.maxElRate)
    reasons.push(
      `at the requested amount expected loss is ${(elRate * 100).toFixed(2)} % of EAD (PD ${(input.score.pd * 100).toFixed(2)} %, grade ${input.score.grade}, LGD ${(full.lgd * 100).toFixed(1)} %)`,
    );
  if (input.secured && input.verifiedValue < input.claimedValue)
    reasons.push(
      `the devices verify ${money(input.verifiedValue, input.currency)} of the ${money(input.claimedValue, input.currency)} of collateral claimed`,
    );
  if (outcome !== 'approve') for (const r of adverseReasons) reasons.push(r.text);
  return {
    outcome,
    pd: input.score?.pd ?? null,
    grade: input.score?.grade ?? null,
    ead: full.ead,
    lgd: full.lgd,
    el: full.el,
    elRate,
    claimedCoverage: full.ead > 0 ? input.claimedValue / full.ead : null,
    verifiedCoverage: full.ead > 0 ? input.verifiedValue / full.ead : null,
    checks: full.violations,
    suggestedLimit,
    reasons,
    adverseReasons,
    policyVersion: ctx.policyVersion,
  };
}
