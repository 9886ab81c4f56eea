import { defineConfig, int, num, str, type ConfigOf } from '../../core/config.js';

/**
 * Expected loss and verified collateral: every constant of the EL = PD × LGD × EAD calculation, and the rules
 * by which a pledged lot counts at less than its measured value (risk/credit/collateral.ts). Pinned by
 * risk/test/credit/collateral.test.ts and expected-loss.test.ts.
 */
export const creditConfigSpec = defineConfig({
  lenderId: str('CREDIT_LENDER_ID', {
    doc: "The platform lender's own funder id in co-lent loans (its share is checked against the policy's minimum)",
    default: 'lender',
  }),
  ccf: num('CREDIT_CCF', {
    doc: 'Credit conversion factor: EAD = outstanding + undrawn committed limit × this (Basel F-IRB uses 0.75 for committed lines)',
    default: 0.75,
    min: 0,
    max: 1,
  }),
  unsecuredLgd: num('CREDIT_UNSECURED_LGD', {
    doc: "LGD of the part of the exposure that the collateral expected at default does not cover (Basel F-IRB's 0.45 for senior unsecured claims until the lender's own workout data says otherwise; riskfuse evaluate fits it on realised defaults: 0.99 on the simulated reference world, which recovers nothing unsecured)",
    default: 0.45,
    min: 0,
    max: 1,
  }),
  recoveryRate: num('CREDIT_RECOVERY_RATE', {
    doc: "Share of the collateral's haircut value recovered at default (before liquidation cost)",
    default: 0.9,
    min: 0,
    max: 1,
  }),
  liquidationCost: num('CREDIT_LIQUIDATION_COST', {
    doc: 'Cost of seizing and selling collateral, as a share of what is recovered',
    default: 0.05,
    min: 0,
    max: 1,
  }),
  collateralAtDefault: num('CREDIT_COLLATERAL_AT_DEFAULT', {
    doc: "Share of today's verified collateral value expected to be there when a borrower defaults: LGD and EL are conditional on default, and a failing borrower's stock runs down first (fitted on realised defaults by riskfuse evaluate: 0.72 on the reference world, 400 borrowers × 15 months, fraud rate 0.1, seed 42; 1 values the collateral as the stakes see it now)",
    default: 0.72,
    min: 0,
    max: 1,
  }),
  haircuts: str('CREDIT_HAIRCUTS', {
    doc: 'Per-commodity haircuts as JSON {"commodity": share, "*": default}; unlisted commodities take "*" (built-in: grains 0.20, metals 0.15, others 0.25, "*" 0.30)',
  }),
  staleAfterMs: int('CREDIT_LOT_STALE_MS', {
    doc: 'A lot whose stake has sent no weight for longer than this counts at CREDIT_LOT_STALE_FACTOR (unverified)',
    unit: 'ms',
    default: 86_400_000,
    min: 60_000,
  }),
  staleFactor: num('CREDIT_LOT_STALE_FACTOR', {
    doc: 'Share of value a lot keeps while its weight is unverified (older than CREDIT_LOT_STALE_MS)',
    default: 0,
    min: 0,
    max: 1,
  }),
  outsideFenceFactor: num('CREDIT_LOT_OUTSIDE_FENCE_FACTOR', {
    doc: "Share of value a lot keeps while its stake's last position is outside its site's geofence",
    default: 0,
    min: 0,
    max: 1,
  }),
  tamperFactor: num('CREDIT_LOT_TAMPER_FACTOR', {
    doc: 'Share of value a lot keeps after a tamper signal, until CREDIT_TAMPER_HOLD_MS without one',
    default: 0.5,
    min: 0,
    max: 1,
  }),
  tamperHoldMs: int('CREDIT_TAMPER_HOLD_MS', {
    doc: 'How long after its last tamper signal a lot stays reduced (a seal is re-inspected before it counts again)',
    unit: 'ms',
    default: 7 * 86_400_000,
    min: 0,
  }),
  offlineFactor: num('CREDIT_LOT_OFFLINE_FACTOR', {
    doc: "Share of value a lot keeps while its stake is offline on the broker (last will / retained 'offline')",
    default: 0.5,
    min: 0,
    max: 1,
  }),

  debounceMs: int('CREDIT_DEBOUNCE_MS', {
    doc: "A borrower's coverage, LGD and EL are recomputed this long after a stake reading or presence change moved its lots (changes in between join)",
    unit: 'ms',
    default: 1_000,
    min: 0,
  }),
  refreshIntervalMs: int('CREDIT_REFRESH_INTERVAL_MS', {
    doc: 'How often every borrower is recomputed (new lots and loans, weights going stale without readings)',
    unit: 'ms',
    default: 300_000,
    min: 1_000,
  }),
  maxElRate: num('CREDIT_MAX_EL_RATE', {
    doc: 'Largest expected loss, as a share of EAD, at which a recommendation still suggests approving (the suggested limit is the largest amount within it and the policy)',
    default: 0.02,
    min: 0,
    max: 1,
  }),
  fourEyesAbove: num('CREDIT_FOUR_EYES_ABOVE', {
    doc: 'An application for more than this amount needs the approval of two different approvers',
    default: 250_000,
    min: 0,
  }),
});

export type CreditConfig = ConfigOf<typeof creditConfigSpec>;
