import type { Loan, Repayment } from '../core/state/index.js';
import { DAY_MS, localDay, localDayHourToMs } from './calendar.js';
import type { HealthModel } from './health.js';
import { hash3, Rng, sigmoid } from './random.js';
import type { BorrowerProfile, World } from './world.js';

/**
 * The lender's online view: loans with monthly amortising instalments, paid on time, late or not at all
 * depending on the borrower's health `paymentLagDays` earlier (the cash buffer that lets a failing business
 * keep paying for a while — which is why offline signals lead online ones) and on purely financial shocks
 * that no device sees (health.ts `paymentHealth`). An instalment 90 days past due
 * defaults every loan of the borrower (cross-default). Matured loans are renewed when the borrower still looks
 * healthy. Simulated day by day, lazily, one random stream per borrower; `snapshotAt(ms)` shows only what had
 * happened by `ms`.
 */
export const DEFAULT_DPD = 90;
const STREAM_LOANS = 0x10a7;

interface Instalment {
  readonly id: string;
  readonly dueAt: number;
  readonly amountDue: number;
  paidAt?: number;
}

interface LoanTrack {
  readonly loan: Omit<Loan, 'status' | 'defaultedAt'>;
  readonly months: number;
  readonly instalments: Instalment[];
  defaultedAt?: number;
  settled: boolean;
}

interface Book {
  readonly b: BorrowerProfile;
  readonly rng: Rng;
  readonly loans: LoanTrack[];
  day: number;
  nextLoanNo: number;
  defaultedAt?: number;
  renewal:
    | { readonly day: number; readonly from: LoanTrack; readonly checks: number; readonly approved: boolean }
    | undefined;
}

/** Probability an instalment is paid on its due date, by lagged health. */
export const onTimeProbability = (hp: number): number => 0.992 * sigmoid(3.5 * (hp + 1.45));
/** Daily probability an overdue instalment is paid, by lagged health. */
export const catchUpProbability = (hp: number): number => 0.004 + 0.5 * sigmoid(4 * (hp + 1.1));

/** Calendar-month arithmetic in local time: instalment k of a loan starting at `startAt` is due at 17:00 local. */
function dueAtFor(startAt: number, k: number, tz: number): number {
  const local = new Date(startAt + tz * 3_600_000);
  const y = local.getUTCFullYear();
  const m = local.getUTCMonth() + k;
  const d = Math.min(local.getUTCDate(), 28);
  const day = Date.UTC(y, m, d) / DAY_MS;
  return localDayHourToMs(day, 17, tz);
}

function schedule(loan: Omit<Loan, 'status' | 'defaultedAt'>, months: number, tz: number): Instalment[] {
  const i = loan.annualRatePct / 100 / 12;
  const payment = i === 0 ? loan.principal / months : (loan.principal * i) / (1 - Math.pow(1 + i, -months));
  const amount = Math.round(payment * 100) / 100;
  const width = months >= 100 ? 3 : 2;
  return Array.from({ length: months }, (_, k) => ({
    id: `${loan.id}-r${String(k + 1).padStart(width, '0')}`,
    dueAt: dueAtFor(loan.startAt, k + 1, tz),
    amountDue: amount,
  }));
}

export interface LoanBookSnapshot {
  readonly loans: Loan[];
  readonly repayments: Repayment[];
}

export class LoanBook {
  private readonly books: Book[] = [];

  constructor(
    private readonly world: World,
    private readonly health: HealthModel,
  ) {
    for (const b of world.profiles.borrowers) {
      const loans = world.loans
        .filter((l) => l.borrowerId === b.id)
        .map((l): LoanTrack => {
          const months = Math.round(l.termDays / 30.4375);
          const { status: _s, defaultedAt: _d, ...rest } = l;
          return { loan: rest, months, instalments: schedule(rest, months, b.tzOffsetH), settled: false };
        });
      const firstStart = Math.min(...loans.map((l) => l.loan.startAt), world.startMs);
      this.books.push({
        b,
        rng: new Rng(hash3(world.seed, STREAM_LOANS, b.index)),
        loans,
        day: localDay(firstStart, b.tzOffsetH) - 1,
        nextLoanNo: loans.length + 1,
        renewal: undefined,
      });
    }
  }

  /** Simulates every borrower through the local day containing `ms`. */
  advanceTo(ms: number): void {
    for (const book of this.books) {
      const target = localDay(ms, book.b.tzOffsetH);
      while (book.day < target) this.step(book, book.day + 1);
    }
  }

  /** The loan book as the lender sees it at `ms`: loans started by then, payments made by then. */
  snapshotAt(ms: number): LoanBookSnapshot {
    this.advanceTo(ms);
    const loans: Loan[] = [];
    const repayments: Repayment[] = [];
    for (const book of this.books) {
      for (const t of book.loans) {
        if (t.loan.startAt > ms) continue;
        let allPaid = true;
        for (const inst of t.instalments) {
          const paid = inst.paidAt !== undefined && inst.paidAt <= ms;
          if (!paid) allPaid = false;
          repayments.push({
            id: inst.id,
            loanId: t.loan.id,
            dueAt: inst.dueAt,
            amountDue: inst.amountDue,
            amountPaid: paid ? inst.amountDue : 0,
            ...(paid ? { paidAt: inst.paidAt as number } : {}),
          });
        }
        const defaulted = t.defaultedAt !== undefined && t.defaultedAt <= ms;
        loans.push({
          ...t.loan,
          status: defaulted ? 'defaulted' : allPaid ? 'repaid' : 'active',
          ...(defaulted ? { defaultedAt: t.defaultedAt as number } : {}),
        });
      }
    }
    return { loans, repayments };
  }

  private step(book: Book, day: number): void {
    book.day = day;
    if (book.defaultedAt !== undefined) return;
    const { b, rng } = book;
    const tz = b.tzOffsetH;
    const hp = this.health.paymentHealth(b.index, day);

    if (book.renewal !== undefined && book.renewal.approved && book.renewal.day === day) {
      const prev = book.renewal.from.loan;
      const loan = {
        id: `${b.id}-ln${book.nextLoanNo++}`,
        borrowerId: b.id,
        principal: Math.round((prev.principal * rng.range(0.9, 1.2)) / 1000) * 1000,
        currency: prev.currency,
        annualRatePct: Math.round((prev.annualRatePct + rng.range(-0.5, 0.5)) * 100) / 100,
        startAt: localDayHourToMs(day, 10, tz),
        termDays: prev.termDays,
      };
      const months = book.renewal.from.months;
      book.loans.push({ loan, months, instalments: schedule(loan, months, tz), settled: false });
      book.renewal = undefined;
    }

    // Pay overdue and due instalments oldest first; stop at the first one not paid today.
    const open = book.loans
      .filter((t) => !t.settled && t.loan.startAt <= localDayHourToMs(day + 1, 0, tz))
      .flatMap((t) => t.instalments.filter((i) => i.paidAt === undefined && localDay(i.dueAt, tz) <= day))
      .sort((x, y) => x.dueAt - y.dueAt);
    let paidToday = 0;
    for (const inst of open) {
      if (paidToday >= 2) break;
      const dueToday = localDay(inst.dueAt, tz) === day;
      const p = dueToday && paidToday === 0 ? onTimeProbability(hp) : catchUpProbability(hp);
      if (!rng.chance(p)) break;
      // Whole epoch ms, as every stored timestamp (PostgreSQL keeps them in BIGINT columns).
      inst.paidAt = Math.round(
        dueToday
          ? localDayHourToMs(day, rng.range(9, 16.5), tz)
          : localDayHourToMs(day, rng.range(9, 17), tz),
      );
      paidToday++;
    }

    // Default: the oldest unpaid instalment 90 days past due.
    const oldest = open.find((i) => i.paidAt === undefined);
    if (oldest !== undefined && oldest.dueAt + DEFAULT_DPD * DAY_MS <= localDayHourToMs(day + 1, 0, tz)) {
      const at = oldest.dueAt + DEFAULT_DPD * DAY_MS;
      book.defaultedAt = at;
      for (const t of book.loans) if (!t.settled && t.loan.startAt <= at) t.defaultedAt = at;
      return;
    }

    // Matured and fully paid: settle, then consider a renewal.
    for (const t of book.loans) {
      if (t.settled || t.instalments.some((i) => i.paidAt === undefined)) continue;
      t.settled = true;
      if (book.renewal === undefined) book.renewal = { day, from: t, checks: 0, approved: false };
    }
    const r = book.renewal;
    if (r !== undefined && !r.approved && r.day === day) {
      if (hp > -0.7 && rng.chance(0.85)) book.renewal = { ...r, day: day + rng.int(3, 30), approved: true };
      else if (r.checks < 3) book.renewal = { ...r, day: day + 30, checks: r.checks + 1 };
      else book.renewal = undefined;
    }
  }
}
