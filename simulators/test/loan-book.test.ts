import { describe, expect, it } from 'vitest';
import type { Loan, Repayment } from '../../core/state/index.js';
import { createEngine } from '../engine.js';
import { DEFAULT_DPD } from '../loan-book.js';
import { generateWorld } from '../world.js';
import { DAY_MS, START_MS } from './support.js';

const YEAR_MS = 365 * DAY_MS;

/** Share of the borrowers still performing at `fromMs` that default within the following year. */
function annualDefaultRate(
  loans: readonly Loan[],
  fromMs: number,
): { rate: number; defaults: number; atRisk: number } {
  const defaultedAt = new Map<string, number>();
  for (const l of loans) if (l.defaultedAt !== undefined) defaultedAt.set(l.borrowerId, l.defaultedAt);
  const borrowers = new Set(loans.filter((l) => l.startAt < fromMs + YEAR_MS).map((l) => l.borrowerId));
  let atRisk = 0;
  let defaults = 0;
  for (const b of borrowers) {
    const at = defaultedAt.get(b);
    if (at !== undefined && at < fromMs) continue;
    atRisk++;
    if (at !== undefined && at < fromMs + YEAR_MS) defaults++;
  }
  return { rate: defaults / atRisk, defaults, atRisk };
}

describe('loan book', () => {
  const world = generateWorld({ seed: 2024, borrowers: 600, startMs: START_MS });
  const engine = createEngine(world);
  const asOf = START_MS + 2 * YEAR_MS;
  const book = engine.loanBook.snapshotAt(asOf);

  it('when a portfolio runs for two years, then about 4–9 % of performing borrowers default each year after the first', () => {
    // The first year is lower (declines that start in it take ~5 months to reach 90 days past due); the
    // steady state is the second year.
    const y2 = annualDefaultRate(book.loans, START_MS + YEAR_MS);
    expect(y2.rate).toBeGreaterThan(0.04);
    expect(y2.rate).toBeLessThan(0.09);
    const y1 = annualDefaultRate(book.loans, START_MS);
    expect(y1.rate).toBeGreaterThan(0.01);
    expect(y1.rate).toBeLessThan(y2.rate);
  });

  it('when borrowers are healthy, then most instalments are paid on time and late ones are mostly a few days late', () => {
    const defaulted = new Set(book.loans.filter((l) => l.status === 'defaulted').map((l) => l.id));
    const due = book.repayments.filter((r) => r.dueAt < asOf && !defaulted.has(r.loanId));
    const late = due.filter((r) => r.paidAt === undefined || r.paidAt > r.dueAt);
    expect(late.length / due.length).toBeGreaterThan(0.02);
    expect(late.length / due.length).toBeLessThan(0.1);
    const paidLate = late
      .filter((r) => r.paidAt !== undefined)
      .map((r) => ((r.paidAt as number) - r.dueAt) / DAY_MS);
    paidLate.sort((a, b) => a - b);
    expect(paidLate[Math.floor(paidLate.length / 2)]).toBeLessThan(10);
  });

  it('when a loan defaults, then an instalment was 90 days past due at that moment and nothing is paid after', () => {
    const byLoan = new Map<string, Repayment[]>();
    for (const r of book.repayments) byLoan.set(r.loanId, [...(byLoan.get(r.loanId) ?? []), r]);
    const defaulted = book.loans.filter((l) => l.status === 'defaulted');
    expect(defaulted.length).toBeGreaterThan(20);
    for (const l of defaulted) {
      const at = l.defaultedAt as number;
      const rs = byLoan.get(l.id) ?? [];
      const overdue = rs.filter(
        (r) => r.dueAt + DEFAULT_DPD * DAY_MS <= at && (r.paidAt === undefined || r.paidAt > at),
      );
      // The instalment that triggered it, on this loan or (cross-default) on another loan of the borrower.
      const sameBorrower = book.loans
        .filter((x) => x.borrowerId === l.borrowerId)
        .flatMap((x) => byLoan.get(x.id) ?? []);
      const trigger = sameBorrower.some(
        (r) => Math.abs(r.dueAt + DEFAULT_DPD * DAY_MS - at) < 1 && r.paidAt === undefined,
      );
      expect(overdue.length > 0 || trigger).toBe(true);
      expect(rs.every((r) => r.paidAt === undefined || r.paidAt <= at)).toBe(true);
    }
  });

  it('when the book is read at a moment, then it shows nothing that happened after that moment', () => {
    const at = START_MS + 200 * DAY_MS;
    const snap = createEngine(world).loanBook.snapshotAt(at);
    for (const l of snap.loans) {
      expect(l.startAt).toBeLessThanOrEqual(at);
      if (l.defaultedAt !== undefined) expect(l.defaultedAt).toBeLessThanOrEqual(at);
    }
    for (const r of snap.repayments) {
      if (r.paidAt !== undefined) expect(r.paidAt).toBeLessThanOrEqual(at);
      expect(r.amountPaid === 0 || r.amountPaid === r.amountDue).toBe(true);
    }
    // The later snapshot agrees with the earlier one about the past.
    const later = new Map(book.repayments.map((r) => [r.id, r]));
    for (const r of snap.repayments)
      if (r.paidAt !== undefined) expect(later.get(r.id)?.paidAt).toBe(r.paidAt);
  });

  it('when loans are scheduled, then instalments are monthly and repay the principal with interest', () => {
    const byLoan = new Map<string, Repayment[]>();
    for (const r of book.repayments) byLoan.set(r.loanId, [...(byLoan.get(r.loanId) ?? []), r]);
    for (const l of book.loans.slice(0, 200)) {
      const rs = (byLoan.get(l.id) ?? []).sort((a, b) => a.dueAt - b.dueAt);
      expect(rs.length).toBe(Math.round(l.termDays / 30.4375));
      const total = rs.reduce((s, r) => s + r.amountDue, 0);
      expect(total).toBeGreaterThan(l.principal);
      expect(total).toBeLessThan(l.principal * (1 + (l.annualRatePct / 100) * (l.termDays / 365)));
      for (let i = 1; i < rs.length; i++) {
        const gapDays = ((rs[i] as Repayment).dueAt - (rs[i - 1] as Repayment).dueAt) / DAY_MS;
        expect(gapDays).toBeGreaterThanOrEqual(27);
        expect(gapDays).toBeLessThanOrEqual(32);
      }
    }
    // Matured loans are renewed.
    expect(book.loans.length).toBeGreaterThan(world.loans.length * 1.5);
  });
});
