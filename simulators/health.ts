import { localDay } from './calendar.js';
import { hash3, Rng, sigmoid } from './random.js';
import type { DeclineEvent, World } from './world.js';

/**
 * Latent business health: one number per borrower per (local) day that nobody observes directly. Around 0 an
 * ordinary business, below −1 in trouble, below −2 failing. It is the sum of
 * - a mean-reverting (Ornstein–Uhlenbeck) process around the borrower's quality, hit by occasional sudden
 *   shocks that fade over weeks (a lost customer, a breakdown) — these cause false alarms;
 * - sustained declines (pre-drawn per borrower, or injected by the `decline` scenario) that ramp down over
 *   weeks and mostly never recover — these end in default;
 * - a regional drought's hit to farm incomes (`drought` scenario).
 * It drives the devices at once and the loan book `paymentLagDays` later (loan-book.ts).
 */
export const WARMUP_DAYS = 460;
const THETA_PER_DAY = 0.035;
const SIGMA_PER_DAY = 0.11;
const STREAM_HEALTH = 0x4ea1;

export function declineOffset(events: readonly DeclineEvent[], day: number): number {
  let off = 0;
  for (const e of events) {
    const t = day - e.startDay;
    if (t <= 0) continue;
    let f = Math.min(1, t / e.rampDays);
    if (e.recoverAfterDays !== undefined) {
      const up = t - e.rampDays - e.recoverAfterDays;
      if (up > 0) f *= Math.max(0, 1 - up / e.recoverDays);
    }
    off -= e.depth * f;
  }
  return off;
}

/** How much of its normal activity a business at health `h` keeps (0–1): ~0.95 at 0, 0.5 at −1.3, ~0.05 at −2.6. */
export function activityLevel(h: number): number {
  return sigmoid(2.3 * (h + 1.3));
}

export class HealthModel {
  private readonly series: Float64Array[] = [];
  private readonly rngs: Rng[] = [];
  private readonly xs: number[] = [];
  private readonly firstDay: number[] = [];
  private readonly droughts: { borrower: number; startDay: number; endDay: number }[] = [];

  constructor(private readonly world: World) {
    for (const b of world.profiles.borrowers) {
      const rng = new Rng(hash3(world.seed, STREAM_HEALTH, b.index));
      this.rngs.push(rng);
      this.xs.push(b.quality + rng.gauss(0, 0.35));
      this.firstDay.push(localDay(world.startMs, b.tzOffsetH) - WARMUP_DAYS);
      this.series.push(new Float64Array(0));
    }
    for (const s of world.scenarios) {
      if (s.kind !== 'drought') continue;
      for (const bi of s.borrowerIndexes) {
        const b = world.profiles.borrowers[bi];
        if (b === undefined || b.sector !== 'agriculture') continue;
        this.droughts.push({
          borrower: bi,
          startDay: localDay(s.startMs, b.tzOffsetH),
          endDay: Number.isFinite(s.endMs) ? localDay(s.endMs, b.tzOffsetH) : Number.POSITIVE_INFINITY,
        });
      }
    }
  }

  /** First day (local epoch day) with a defined health. */
  firstDayOf(borrower: number): number {
    return this.firstDay[borrower] ?? 0;
  }

  /** Latent health of `borrower` on local epoch day `day` (days before the warm-up read the first value). */
  at(borrower: number, day: number): number {
    const first = this.firstDay[borrower];
    if (first === undefined) throw new RangeError(`no borrower #${borrower}`);
    const i = Math.max(0, Math.floor(day) - first);
    let s = this.series[borrower] as Float64Array;
    if (i >= s.length) s = this.extend(borrower, i + 1);
    return s[i] as number;
  }

  /**
   * What repayments follow on `day`: business health `paymentLagDays` earlier (the cash buffer), plus any
   * purely financial shock, which hits at once.
   */
  paymentHealth(borrower: number, day: number): number {
    const p = this.world.profiles.borrowers[borrower];
    if (p === undefined) throw new RangeError(`no borrower #${borrower}`);
    return this.at(borrower, day - p.paymentLagDays) + declineOffset(p.cashShocks, day);
  }

  /** Activity level (0–1) of the business on that day. */
  activity(borrower: number, day: number): number {
    return activityLevel(this.at(borrower, day));
  }

  /** Health at an instant (the local day it falls in). */
  atMs(borrower: number, ms: number): number {
    const b = this.world.profiles.borrowers[borrower];
    return this.at(borrower, localDay(ms, b?.tzOffsetH ?? 0));
  }

  private extend(borrower: number, length: number): Float64Array {
    const old = this.series[borrower] as Float64Array;
    const n = Math.max(length, old.length * 2, 512);
    const s = new Float64Array(n);
    s.set(old);
    const p = this.world.profiles.borrowers[borrower];
    if (p === undefined) throw new RangeError(`no borrower #${borrower}`);
    const rng = this.rngs[borrower] as Rng;
    const first = this.firstDay[borrower] as number;
    let x = this.xs[borrower] as number;
    for (let i = old.length; i < n; i++) {
      const day = first + i;
      s[i] = x + declineOffset(p.declines, day) + this.droughtOffset(borrower, day);
      x += THETA_PER_DAY * (p.quality - x) + SIGMA_PER_DAY * rng.normal();
      if (rng.chance(p.shockRatePerDay)) x -= rng.range(0.7, 1.9);
    }
    this.xs[borrower] = x;
    this.series[borrower] = s;
    return s;
  }

  private droughtOffset(borrower: number, day: number): number {
    let off = 0;
    for (const d of this.droughts) {
      if (d.borrower !== borrower || day < d.startDay) continue;
      const into = Math.min(1, (day - d.startDay) / 25);
      const after = day > d.endDay ? Math.max(0, 1 - (day - d.endDay) / 60) : 1;
      off -= 0.7 * into * after;
    }
    return off;
  }
}
