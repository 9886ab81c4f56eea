import { localDay } from './calendar.js';
import { hash3, Rng } from './random.js';
import type { ScenarioKind, ScenarioSpec } from './scenarios.js';
import type { BorrowerProfile, DeclineEvent, ResolvedScenario } from './world-types.js';

/**
 * What collateral fraud does to a borrower's credit in the simulated world, so that a model can learn it and
 * `riskfuse evaluate` can measure it.
 *
 * The pattern lenders fear is the warehouse-receipt fraud of Qingdao port (2014): Decheng Mining pledged the
 * same aluminium and copper to several banks with duplicate receipts, and some of the metal was not there at
 * all; when it came out the borrower defaulted on every lender at once and the banks recovered little, the
 * goods being gone or claimed by several creditors (court cases ran for years). Collateral taken out of a
 * lender's control is rarely an accident: a borrower sells or re-pledges its stock to raise cash it cannot
 * raise otherwise, or to leave with it. So, per fraud scenario (removal, moved, spoof, tamper):
 *
 * - **Chance of default** — with probability `defaultProbability` of its kind the borrower's finances fail:
 *   a financial shock (health.ts `paymentHealth`, as the world's cash shocks) starting 0–`lagDaysMax` days
 *   after the fraud begins, `depth` deep over `rampDays`, never recovering. Its instalments then stop and it
 *   defaults (90 days past due) some four to six months after the fraud — what the devices saw first. The
 *   rates rank the kinds by intent: hiding the lot from its stake (spoof) or trucking most of it out (removal)
 *   is how a borrower in distress raises cash; a lot driven away and later back (moved) is sometimes a
 *   re-pledge that unwinds; pilferage under an opened seal (tamper) is often an employee, not the owner.
 * - **The goods stay gone** — a failing borrower's removed stock is never restocked and a moved or spoofed lot
 *   never comes back (the scenario runs to the end of the world).
 * - **Recovery at default** — the lender recovers only the collateral actually present at its pledged spot at
 *   default (lots.ts: removals and pilferage take weight out, a moved or spoofed lot away at default counts
 *   zero), at the world’s recovery rate less liquidation cost, times `titleRecovery` of the (first) fraud kind
 *   the borrower committed before defaulting: the share a lender keeps when other creditors hold receipts
 *   over the same goods (duplicate pledging) and the sale is contested.
 *
 * The figures are this simulation's assumptions (no public loss data separates these kinds), stated here so
 * that they can be changed in one place; `fraudDefaults: false` in WorldOptions turns the first effect off.
 * Pinned by simulators/test/credit-outcomes.test.ts.
 */
export type FraudKind = Extract<ScenarioKind, 'removal' | 'moved' | 'spoof' | 'tamper'>;

export interface FraudCreditEffect {
  /** Probability the fraud is followed by the borrower's financial failure (and so a default). */
  readonly defaultProbability: number;
  /** Share of the normal recovery on the collateral present that the lender keeps (contested title). */
  readonly titleRecovery: number;
}

export const FRAUD_CREDIT_EFFECTS: Readonly<Record<FraudKind, FraudCreditEffect>> = {
  removal: { defaultProbability: 0.6, titleRecovery: 0.5 },
  spoof: { defaultProbability: 0.6, titleRecovery: 0.4 },
  moved: { defaultProbability: 0.4, titleRecovery: 0.6 },
  tamper: { defaultProbability: 0.2, titleRecovery: 0.8 },
};

/** The financial failure that follows a fraud (see above). */
export const FRAUD_DISTRESS = { lagDaysMax: 30, depth: 3.5, rampDays: 20 } as const;

/**
 * Recovery on collateral at default in the world: goods sold at `recoveryRate` of their market value, less
 * `liquidationCost` of the proceeds (the platform's CREDIT_RECOVERY_RATE and CREDIT_LIQUIDATION_COST defaults
 * are the lender's estimates of these). Exposure not covered by what is recovered is lost.
 */
export const WORLD_RECOVERY = { recoveryRate: 0.9, liquidationCost: 0.05 } as const;

const STREAM_FRAUD = 0xf7a;
const STREAM_FRAUD_DRAW = 0xf7b;

export const isFraudKind = (k: ScenarioKind): k is FraudKind =>
  k === 'removal' || k === 'moved' || k === 'spoof' || k === 'tamper';

/**
 * Adds to the borrowers' cash shocks the financial failures the world's fraud scenarios bring on; a failing
 * borrower's removed or relocated goods never come back (the scenario runs to the end of the world), as the
 * metal at Qingdao did not. Returns the scenarios with those ends.
 */
export function applyFraudDistress(
  seed: number,
  scenarios: readonly ResolvedScenario[],
  profiles: BorrowerProfile[],
): ResolvedScenario[] {
  return scenarios.map((s, si) => {
    if (!isFraudKind(s.kind)) return s;
    let failed = false;
    const effect = FRAUD_CREDIT_EFFECTS[s.kind];
    const rng = new Rng(hash3(seed, STREAM_FRAUD, si));
    for (const bi of s.borrowerIndexes) {
      const bp = profiles[bi];
      const fails = rng.chance(effect.defaultProbability);
      const lag = rng.range(0, FRAUD_DISTRESS.lagDaysMax);
      if (bp === undefined || !fails) continue;
      const shock: DeclineEvent = {
        startDay: localDay(s.startMs, bp.tzOffsetH) + Math.round(lag),
        depth: FRAUD_DISTRESS.depth,
        rampDays: FRAUD_DISTRESS.rampDays,
        recoverDays: 0,
        cause: 'scenario',
      };
      profiles[bi] = { ...bp, cashShocks: [...bp.cashShocks, shock] };
      failed = true;
    }
    // Tamper stays as drawn: its episodes are a pilferage spree of bounded length (scenario-effects.ts).
    return failed && s.kind !== 'tamper' ? { ...s, endMs: Number.POSITIVE_INFINITY } : s;
  });
}

/** Mix of fraud kinds drawn by `fraudScenarios`. */
export const FRAUD_KIND_WEIGHTS: Readonly<Record<FraudKind, number>> = {
  removal: 0.35,
  tamper: 0.25,
  moved: 0.2,
  spoof: 0.2,
};

/**
 * Collateral frauds at random over a history (the training world of `riskfuse evaluate`): each borrower
 * commits one with hazard `ratePerYear` (at most one each), of a kind drawn by FRAUD_KIND_WEIGHTS, starting
 * between `firstDay` and `days` (days after the world's start). Independent of the borrower's health, so a
 * fraud adds default risk rather than marking borrowers already failing. Seeded.
 */
export function fraudScenarios(
  borrowerIds: readonly string[],
  opts: {
    readonly seed: number;
    readonly ratePerYear: number;
    readonly days: number;
    readonly firstDay?: number;
  },
): ScenarioSpec[] {
  const first = opts.firstDay ?? 30;
  if (!(opts.ratePerYear > 0) || opts.days <= first) return [];
  const out: ScenarioSpec[] = [];
  const window = opts.days - first;
  const p = 1 - Math.exp((-opts.ratePerYear * window) / 365);
  borrowerIds.forEach((id, i) => {
    const rng = new Rng(hash3(opts.seed, STREAM_FRAUD_DRAW, i));
    const hit = rng.chance(p);
    const kind = rng.weighted(FRAUD_KIND_WEIGHTS);
    const startDay = Math.round((first + rng.range(0, window)) * 10) / 10;
    if (hit) out.push({ kind, target: id, startDay });
  });
  return out;
}
