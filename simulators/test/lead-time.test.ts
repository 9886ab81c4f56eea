import { describe, expect, it } from 'vitest';
import { localDay, localDayHourToMs } from '../calendar.js';
import { createEngine } from '../engine.js';
import type { GeneratedReading } from '../stream.js';
import { generateWorld } from '../world.js';
import { asHelmet, asStake, DAY_MS, median, START_MS } from './support.js';

/**
 * The point of offline data: it moves before the loan book does. In a generated world we look, as a lender
 * would, only at what the devices report and what the loan book shows. For each borrower that defaults, an
 * offline index — half the stake weight relative to pledged, half the worker helmets worn on site in the
 * late morning, each against the borrower's own first 8 weeks — is tracked week by week; a "clear drop" is
 * three weeks in a row below 60 % of that baseline (two weeks would flag every Christmas shutdown). The lead
 * is from the start of that drop to the due date of the first instalment paid more than 7 days late (or not
 * at all).
 */
const DAYS = 450;
const WEEK_MS = 7 * DAY_MS;
const BASELINE_WEEKS = 8;

describe('offline signals lead the loan book', () => {
  it('when borrowers default, then their offline signals dropped weeks before their first late payment', () => {
    const world = generateWorld({ seed: 11, borrowers: 300, startMs: START_MS });
    const engine = createEngine(world);
    const endMs = START_MS + DAYS * DAY_MS;
    const book = engine.loanBook.snapshotAt(endMs);
    const borrowerOfLoan = new Map(book.loans.map((l) => [l.id, l.borrowerId]));
    const defaultedAt = new Map<string, number>();
    for (const l of book.loans) if (l.defaultedAt !== undefined) defaultedAt.set(l.borrowerId, l.defaultedAt);

    const leadsDays: number[] = [];
    let considered = 0;
    for (const [borrowerId, defAt] of defaultedAt) {
      if (defAt < START_MS + (BASELINE_WEEKS + 6) * WEEK_MS) continue;
      const b = world.profiles.borrowers.find((x) => x.id === borrowerId);
      if (b === undefined) throw new Error('fixture');
      const weeks = Math.ceil(DAYS / 7);
      const weight = new Array<number>(weeks).fill(0);
      const weightN = new Array<number>(weeks).fill(0);
      const worn = new Array<number>(weeks).fill(0);
      const stakes = b.deviceIndexes.filter((i) => world.profiles.devices[i]?.role === 'stake');
      const workers = b.deviceIndexes.filter((i) => world.profiles.devices[i]?.role === 'worker');
      const firstDay = localDay(START_MS, b.tzOffsetH);
      const out: GeneratedReading[] = [];
      for (const di of [...stakes, ...workers]) {
        const p = world.profiles.devices[di];
        const pledged = world.lots[p?.lotIndex ?? -1]?.pledgedWeightKg ?? 1;
        const stream = engine.stream(di);
        for (let d = 0; d < DAYS; d++) {
          // Late morning, 10:00–11:00 local: the crew is in, the stock is what it is.
          stream.seek(localDayHourToMs(firstDay + d, 10, b.tzOffsetH));
          out.length = 0;
          stream.drain(localDayHourToMs(firstDay + d, 11, b.tzOffsetH), out);
          const w = Math.floor(d / 7);
          for (const r of out) {
            if (p?.role === 'stake') {
              weight[w] = (weight[w] ?? 0) + asStake(r.payload).weightKg / pledged;
              weightN[w] = (weightN[w] ?? 0) + 1;
            } else if (asHelmet(r.payload).worn) worn[w] = (worn[w] ?? 0) + 1 / workers.length;
          }
        }
      }
      const stock = weight.map((s, w) => s / Math.max(1, weightN[w] ?? 0));
      const baseStock = median(stock.slice(0, BASELINE_WEEKS));
      const baseCrew = median(worn.slice(0, BASELINE_WEEKS));
      const index = stock.map(
        (s, w) => 0.5 * (s / baseStock) + 0.5 * (baseCrew > 0 ? (worn[w] ?? 0) / baseCrew : 1),
      );
      let drop = -1;
      for (let w = BASELINE_WEEKS; w + 2 < weeks; w++) {
        if ((index[w] as number) < 0.6 && (index[w + 1] as number) < 0.6 && (index[w + 2] as number) < 0.6) {
          drop = w;
          break;
        }
      }
      const firstLate = book.repayments
        .filter(
          (r) =>
            borrowerOfLoan.get(r.loanId) === borrowerId && r.dueAt >= START_MS + BASELINE_WEEKS * WEEK_MS,
        )
        .filter((r) => r.paidAt === undefined || r.paidAt - r.dueAt > 7 * DAY_MS)
        .sort((x, y) => x.dueAt - y.dueAt)[0];
      considered++;
      if (drop < 0 || firstLate === undefined) continue;
      leadsDays.push((firstLate.dueAt - (START_MS + drop * WEEK_MS)) / DAY_MS);
    }

    expect(leadsDays.length).toBeGreaterThanOrEqual(6);
    const lead = median(leadsDays);
    // Positive and measured in weeks, not days and not half a year.
    expect(lead).toBeGreaterThan(21);
    expect(lead).toBeLessThan(120);
    // Not every default is seen coming: purely financial shocks leave the devices untouched.
    expect(leadsDays.length).toBeLessThan(considered);
    console.info(
      `defaulters ${considered}, with a clear offline drop ${leadsDays.length}; lead over the first late payment, days: ` +
        `median ${lead.toFixed(0)}, all ${leadsDays.map((x) => x.toFixed(0)).join(' ')}`,
    );
  });
});
