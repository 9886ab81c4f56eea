import { RiskfuseError } from '../../core/errors.js';
import type { CollateralLot } from '../../core/state/index.js';

/**
 * Verified collateral: what a pledged lot is worth as its stake sees it now, not as the loan file claims.
 *
 *   claimed value  = pledged weight × unit price × (1 − haircut of the commodity)
 *   verified value = min(measured weight, pledged weight) × unit price × (1 − haircut) × status factor
 *
 * Weight above the pledge is not collateral (it may be pledged to someone else), hence the min. The status
 * factor is the smallest of the factors of every condition the lot is in (the most severe one rules; they do
 * not multiply, so two conditions that both point at the same removal are not counted twice):
 * - unverified: no weight for longer than `staleAfterMs` (or never) → `staleFactor` (default 0);
 * - outside its geofence: the stake's last position is outside its site's fence → `outsideFenceFactor` (0);
 * - tampered: a tamper signal within `tamperHoldMs` → `tamperFactor` (0.5) — the seal was opened, part of the
 *   lot may be gone (pilferage) though the load cell still reads;
 * - offline: the stake's broker presence is offline → `offlineFactor` (0.5).
 * Claimed and verified both carry the haircut, so that their gap is exactly what the devices see.
 * Pinned by risk/test/credit/collateral.test.ts.
 */
export type LotCondition = 'unverified' | 'outside-geofence' | 'tampered' | 'offline';

/** What the devices last said about one lot (from the telemetry store and broker presence). */
export interface LotObservation {
  readonly lastWeightKg?: number;
  readonly lastWeightAt?: number;
  /** Whether the stake's last position lies inside the lot's site geofence (undefined: no position yet). */
  readonly insideFence?: boolean;
  readonly lastTamperAt?: number;
  readonly online?: boolean;
}

export interface CollateralRules {
  readonly staleAfterMs: number;
  readonly staleFactor: number;
  readonly outsideFenceFactor: number;
  readonly tamperFactor: number;
  readonly tamperHoldMs: number;
  readonly offlineFactor: number;
  readonly haircut: (commodity: string) => number;
}

export interface LotValuation {
  readonly lotId: string;
  readonly commodity: string;
  readonly currency: string;
  readonly haircut: number;
  readonly claimedValue: number;
  readonly measuredWeightKg?: number;
  readonly verifiedValue: number;
  /** The status factor applied (1: counted in full). */
  readonly factor: number;
  readonly conditions: readonly LotCondition[];
}

/** Built-in haircuts: exchange-traded grains and metals hold value best; the rest less so (CREDIT_HAIRCUTS). */
export const DEFAULT_HAIRCUTS: Readonly<Record<string, number>> = {
  canola: 0.2,
  'hard red spring wheat': 0.2,
  'malt barley': 0.2,
  'red lentils': 0.2,
  oats: 0.2,
  'hot-rolled steel coil': 0.15,
  'aluminium ingot': 0.15,
  'copper cathode': 0.15,
  rebar: 0.15,
  'rebar bundles': 0.15,
  '*': 0.3,
};

/** The haircut lookup of CREDIT_HAIRCUTS (JSON object of shares in [0, 1]) over the built-in table. */
export function parseHaircuts(json: string | undefined): (commodity: string) => number {
  let table: Record<string, number> = { ...DEFAULT_HAIRCUTS };
  if (json !== undefined && json.trim() !== '') {
    let parsed: unknown;
    try {
      parsed = JSON.parse(json);
    } catch (err) {
      throw new RiskfuseError('CONFIG_INVALID', `CREDIT_HAIRCUTS is not JSON: ${(err as Error).message}`);
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
      throw new RiskfuseError('CONFIG_INVALID', 'CREDIT_HAIRCUTS must be a JSON object {"commodity": share}');
    for (const [k, v] of Object.entries(parsed)) {
      if (typeof v !== 'number' || !(v >= 0 && v <= 1))
        throw new RiskfuseError('CONFIG_INVALID', `CREDIT_HAIRCUTS["${k}"] must be a number in [0, 1]`);
    }
    table = { ...table, ...(parsed as Record<string, number>) };
  }
  const fallback = table['*'] ?? 0.3;
  return (commodity) => table[commodity] ?? fallback;
}

/** The lot's conditions at `nowMs`, in a fixed order. */
export function lotConditions(obs: LotObservation, rules: CollateralRules, nowMs: number): LotCondition[] {
  const out: LotCondition[] = [];
  if (obs.lastWeightAt === undefined || nowMs - obs.lastWeightAt > rules.staleAfterMs) out.push('unverified');
  if (obs.insideFence === false) out.push('outside-geofence');
  if (obs.lastTamperAt !== undefined && nowMs - obs.lastTamperAt <= rules.tamperHoldMs) out.push('tampered');
  if (obs.online === false) out.push('offline');
  return out;
}

const FACTOR: Record<LotCondition, (r: CollateralRules) => number> = {
  unverified: (r) => r.staleFactor,
  'outside-geofence': (r) => r.outsideFenceFactor,
  tampered: (r) => r.tamperFactor,
  offline: (r) => r.offlineFactor,
};

export function valueLot(
  lot: CollateralLot,
  obs: LotObservation,
  rules: CollateralRules,
  nowMs: number,
): LotValuation {
  const haircut = rules.haircut(lot.commodity);
  const perKg = lot.unitPricePerKg * (1 - haircut);
  const conditions = lotConditions(obs, rules, nowMs);
  const factor = Math.min(1, ...conditions.map((c) => FACTOR[c](rules)));
  const measured = obs.lastWeightKg;
  const counted = measured === undefined ? 0 : Math.min(Math.max(0, measured), lot.pledgedWeightKg);
  return {
    lotId: lot.id,
    commodity: lot.commodity,
    currency: lot.currency,
    haircut,
    claimedValue: lot.pledgedWeightKg * perKg,
    ...(measured === undefined ? {} : { measuredWeightKg: measured }),
    verifiedValue: counted * perKg * factor,
    factor,
    conditions,
  };
}

export interface Coverage {
  readonly claimedValue: number;
  readonly verifiedValue: number;
  /** Value ÷ exposure; undefined when nothing is exposed. */
  readonly claimed?: number;
  readonly verified?: number;
}

/** Coverage of `exposure` by the lots valued in its currency (lots in other currencies do not count). */
export function coverage(lots: readonly LotValuation[], exposure: number, currency: string): Coverage {
  let claimedValue = 0;
  let verifiedValue = 0;
  for (const l of lots) {
    if (l.currency !== currency) continue;
    claimedValue += l.claimedValue;
    verifiedValue += l.verifiedValue;
  }
  if (!(exposure > 0)) return { claimedValue, verifiedValue };
  return {
    claimedValue,
    verifiedValue,
    claimed: claimedValue / exposure,
    verified: verifiedValue / exposure,
  };
}
