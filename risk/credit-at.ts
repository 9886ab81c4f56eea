import type { CollateralLot, Device, Site } from '../core/state/index.js';
import type { TelemetryStore } from '../core/storage/telemetry-store.js';
import { pointInPolygon } from '../core/geo.js';
import type { CreditParams } from './credit/borrower-credit.js';
import { coverage, valueLot, type LotObservation } from './credit/collateral.js';
import { exposureAtDefault, lossGivenDefault } from './credit/expected-loss.js';
import type { BorrowerBook } from './features/online.js';

/**
 * A borrower's credit position at a past time t, rebuilt from its loan book and its stakes' telemetry for
 * `riskfuse evaluate` (risk/evaluate-credit.ts): what it owed at t and so its EAD, what its collateral was
 * verifiably worth as the stakes saw it at t, and the LGD the two give under the credit parameters passed in.
 *
 * The verified collateral at t is valued by risk/credit/collateral.ts from the stakes' daily aggregates: weight
 * last reported within a day of t, position inside the fence, tamper within the hold; broker presence has no
 * history and is left out.
 * Pinned by risk/test/evaluate-credit.test.ts (outstandingAt directly; the valuation through creditTestRows and
 * fraudCoverageLead).
 */
export const DAY_MS = 86_400_000;

/**
 * What the borrower owed at t: of the loans started by t and not in default before t, each scheduled
 * instalment's amount less what was paid by t; a loan without a schedule owes its principal less what was
 * repaid by t (as core/state/loans/sql-loan-repository.ts counts the live book).
 */
export function outstandingAt(book: BorrowerBook, t: number): number {
  let total = 0;
  for (const loan of book.loans) {
    if (loan.startAt > t) continue;
    if (loan.defaultedAt !== undefined && loan.defaultedAt <= t) continue;
    const rs = book.repayments.get(loan.id) ?? [];
    const paidBy = (r: { paidAt?: number; amountPaid: number }) =>
      r.paidAt !== undefined && r.paidAt <= t ? r.amountPaid : 0;
    const due = rs.reduce((s, r) => s + r.amountDue, 0);
    const paid = rs.reduce((s, r) => s + paidBy(r), 0);
    total += due > 0 ? due - paid : Math.max(0, loan.principal - paid);
  }
  return Math.max(0, total);
}

/** One stake's daily aggregates: last weight and position of the day, whether its tamper switch opened. */
interface StakeDay {
  weightKg?: number;
  lat?: number;
  lon?: number;
  tamper?: boolean;
}

/** Daily stake aggregates over [fromMs, toMs) (UTC days), by device then day start. */
export async function stakeDays(
  telemetry: TelemetryStore,
  deviceIds: readonly string[],
  fromMs: number,
  toMs: number,
): Promise<Map<string, Map<number, StakeDay>>> {
  const out = new Map<string, Map<number, StakeDay>>();
  const from = Math.floor(fromMs / DAY_MS) * DAY_MS;
  const days = Math.max(1, Math.ceil((toMs - from) / DAY_MS));
  // Buckets per query stay under the store's cap (MAX_AGGREGATE_BUCKETS).
  const chunk = Math.max(1, Math.floor(50_000 / days));
  for (let i = 0; i < deviceIds.length; i += chunk) {
    const ids = deviceIds.slice(i, i + chunk);
    for (const [field, fn] of [
      ['weightKg', 'last'],
      ['lat', 'last'],
      ['lon', 'last'],
      ['tamper', 'max'],
    ] as const) {
      const rows = await telemetry.aggregate({
        kind: 'stake',
        deviceIds: ids,
        field,
        fromMs: from,
        toMs,
        intervalMs: DAY_MS,
        groupBy: 'device',
        fns: [fn],
      });
      for (const r of rows) {
        if (r.count === 0) continue;
        const v = r[fn];
        if (!Number.isFinite(v)) continue;
        let byDay = out.get(r.group);
        if (byDay === undefined) out.set(r.group, (byDay = new Map<number, StakeDay>()));
        const d = byDay.get(r.startMs) ?? {};
        if (field === 'tamper') d.tamper = v >= 1;
        else d[field] = v;
        byDay.set(r.startMs, d);
      }
    }
  }
  return out;
}

/** What a lot's stake had said by t (a UTC midnight), from its daily aggregates. */
export function observationAt(
  days: ReadonlyMap<number, StakeDay> | undefined,
  site: Site,
  t: number,
  tamperHoldMs: number,
): { observation: LotObservation; at: number } {
  const day = t - DAY_MS;
  const d = days?.get(day);
  let lastTamperAt: number | undefined;
  for (let k = day; k >= t - tamperHoldMs; k -= DAY_MS) {
    if (days?.get(k)?.tamper === true) {
      lastTamperAt = k + DAY_MS - 1;
      break;
    }
  }
  const inside =
    d?.lat !== undefined && d.lon !== undefined && site.geofence.length >= 3
      ? pointInPolygon([d.lat, d.lon], site.geofence)
      : undefined;
  return {
    at: t,
    observation: {
      ...(d?.weightKg === undefined ? {} : { lastWeightKg: d.weightKg, lastWeightAt: t - 1 }),
      ...(inside === undefined ? {} : { insideFence: inside }),
      ...(lastTamperAt === undefined ? {} : { lastTamperAt }),
    },
  };
}

export type StakeOf = { readonly device: Device; readonly lot: CollateralLot; readonly site: Site };

/** A borrower's verified collateral value and LGD and EAD at t. */
export function creditAt(
  stakes: readonly StakeOf[],
  book: BorrowerBook | undefined,
  days: ReadonlyMap<string, ReadonlyMap<number, StakeDay>>,
  t: number,
  p: CreditParams,
): { ead: number; verifiedValue: number; lgd: number } {
  const ead = exposureAtDefault(book === undefined ? 0 : outstandingAt(book, t), 0, p.ccf);
  const currency = book?.loans[0]?.currency ?? stakes[0]?.lot.currency ?? 'CAD';
  const lots = stakes.map((s) => {
    const { observation } = observationAt(days.get(s.device.id), s.site, t, p.collateral.tamperHoldMs);
    return valueLot(s.lot, observation, p.collateral, t);
  });
  const verifiedValue = coverage(lots, ead, currency).verifiedValue;
  return { ead, verifiedValue, lgd: lossGivenDefault(ead, verifiedValue, p).lgd };
}
