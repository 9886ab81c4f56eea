import type { Loan, Repayment } from '../../core/state/index.js';

/**
 * Online features from the loan book as the lender saw it at t: loans started by t, payments made by t
 * (`paidAt` ≤ t; a payment after t counts as unpaid), defaults declared by t. Pure functions.
 */
export const DAY_MS = 86_400_000;
const LATE_GRACE_DAYS = 5;

export interface BorrowerBook {
  readonly loans: readonly Loan[];
  /** loanId → its instalments. */
  readonly repayments: ReadonlyMap<string, readonly Repayment[]>;
}

export interface BookStatus {
  /** Any loan started by t and not yet settled or defaulted. */
  readonly active: boolean;
  /** Earliest default declared at or before t. */
  readonly defaultedBy?: number;
  /** Unpaid scheduled amount at t (loans started by t, not defaulted). */
  readonly outstanding: number;
}

const paidBy = (r: Repayment, t: number): boolean => r.paidAt !== undefined && r.paidAt <= t;

/** Earliest default of the borrower (any time), for labels. */
export function firstDefaultAt(book: BorrowerBook): number | undefined {
  let first: number | undefined;
  for (const l of book.loans) {
    if (l.defaultedAt !== undefined && (first === undefined || l.defaultedAt < first)) first = l.defaultedAt;
  }
  return first;
}

export function bookStatus(book: BorrowerBook, t: number): BookStatus {
  let active = false;
  let outstanding = 0;
  let defaultedBy: number | undefined;
  for (const l of book.loans) {
    if (l.startAt > t) continue;
    if (l.defaultedAt !== undefined && l.defaultedAt <= t) {
      if (defaultedBy === undefined || l.defaultedAt < defaultedBy) defaultedBy = l.defaultedAt;
      continue;
    }
    let unpaid = 0;
    for (const r of book.repayments.get(l.id) ?? []) if (!paidBy(r, t)) unpaid += r.amountDue;
    if (unpaid > 0) active = true;
    outstanding += unpaid;
  }
  return { active, outstanding, ...(defaultedBy === undefined ? {} : { defaultedBy }) };
}

/** The online feature values at t, keyed by feature name (all defined; see spec.ts for units). */
export function onlineFeatures(book: BorrowerBook, t: number): Record<string, number> {
  let scheduled = 0;
  let outstanding = 0;
  let dpdNow = 0;
  let dpd90 = 0;
  let dpd180 = 0;
  let late90 = 0;
  let late180 = 0;
  let due180 = 0;
  let paid180 = 0;
  let firstStart = Number.POSITIVE_INFINITY;
  const paidLateness: { dueAt: number; lateDays: number }[] = [];
  for (const l of book.loans) {
    if (l.startAt > t) continue;
    firstStart = Math.min(firstStart, l.startAt);
    const defaulted = l.defaultedAt !== undefined && l.defaultedAt <= t;
    for (const r of book.repayments.get(l.id) ?? []) {
      const paid = paidBy(r, t);
      if (!defaulted) {
        scheduled += r.amountDue;
        if (!paid) outstanding += r.amountDue;
      }
      if (r.dueAt >= t) continue;
      const ageDays = (t - r.dueAt) / DAY_MS;
      const dpd = Math.max(0, ((paid ? (r.paidAt as number) : t) - r.dueAt) / DAY_MS);
      if (!paid) dpdNow = Math.max(dpdNow, dpd);
      if (paid) paidLateness.push({ dueAt: r.dueAt, lateDays: ((r.paidAt as number) - r.dueAt) / DAY_MS });
      if (ageDays <= 180) {
        dpd180 = Math.max(dpd180, dpd);
        due180 += r.amountDue;
        if (paid) paid180 += r.amountDue;
        if (dpd > LATE_GRACE_DAYS) late180++;
        if (ageDays <= 90) {
          dpd90 = Math.max(dpd90, dpd);
          if (dpd > LATE_GRACE_DAYS) late90++;
        }
      }
    }
  }
  paidLateness.sort((a, b) => b.dueAt - a.dueAt);
  let trend = 0;
  if (paidLateness.length >= 6) {
    const mean = (xs: { lateDays: number }[]): number => xs.reduce((s, x) => s + x.lateDays, 0) / xs.length;
    trend = mean(paidLateness.slice(0, 3)) - mean(paidLateness.slice(3, 6));
  }
  return {
    utilisation: scheduled > 0 ? outstanding / scheduled : 0,
    dpd_now: dpdNow,
    dpd_max_90d: dpd90,
    dpd_max_180d: dpd180,
    late_payments_90d: late90,
    late_payments_180d: late180,
    repayment_ratio_180d: due180 > 0 ? paid180 / due180 : 1,
    loan_age_days: Number.isFinite(firstStart) ? (t - firstStart) / DAY_MS : 0,
    log_exposure: Math.log10(1 + outstanding),
    payment_timing_trend_days: trend,
  };
}
