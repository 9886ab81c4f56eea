import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Reading } from '../../core/contracts/index.js';
import { parseConfig } from '../../core/config.js';
import { borrower, device, lot, site } from '../../core/state/test/portfolio-fixtures.js';
import { openSqliteTelemetryStore } from '../../core/storage/sqlite-telemetry-store.js';
import { creditConfigSpec } from '../credit/config.js';
import { creditParams } from '../credit/credit-app.js';
import { stakeReading } from './credit/fixtures.js';
import { DAY_MS, outstandingAt } from '../credit-at.js';
import {
  creditTestRows,
  elVsLoss,
  firstDrop,
  fraudCoverageLead,
  type CreditTestRow,
} from '../evaluate-credit.js';
import type { Portfolio } from '../features/extract.js';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const T0 = Date.UTC(2025, 0, 1);
// The collateral as the stakes see it at t and the F-IRB unsecured LGD, so that the LGDs below are hand-checkable.
const params = creditParams(
  parseConfig(creditConfigSpec, { CREDIT_COLLATERAL_AT_DEFAULT: '1', CREDIT_UNSECURED_LGD: '0.45' }),
);

const row = (over: Partial<CreditTestRow>): CreditTestRow => ({
  borrowerId: 'b1',
  t: T0,
  pd: 0.001,
  lgd: 0.5,
  ead: 100_000,
  verifiedValue: 0,
  loss: 0,
  defaults: false,
  ...over,
});

describe('EL against realised loss', () => {
  it('when a hand-built book is summed, then each grade band holds Σ PD × LGD × EAD against Σ loss, and the tolerance is asked only of bands with enough defaults', () => {
    // Grade A (PD < 0.5 %): 1,000 rows of EL 0.003 × 0.5 × 100,000 = 150 → 150,000; one default losing 180,000.
    const a = Array.from({ length: 1000 }, (_, i) =>
      row({ borrowerId: `a${i % 100}`, pd: 0.003, loss: i === 0 ? 180_000 : 0, defaults: i === 0 }),
    );
    // Grade F (8–16 %): 100 rows, EL 0.1 × 0.4 × 50,000 = 2,000 each → 200,000; ten defaulters losing 21,000 each.
    const f = Array.from({ length: 100 }, (_, i) =>
      row({
        borrowerId: `f${i}`,
        pd: 0.1,
        lgd: 0.4,
        ead: 50_000,
        loss: i < 10 ? 21_000 : 0,
        defaults: i < 10,
      }),
    );
    const r = elVsLoss([...a, ...f]);
    expect(r.bands.map((b) => b.grade)).toEqual(['A', 'F']);
    const [bandA, bandF] = r.bands;
    expect(bandA?.el).toBeCloseTo(150_000, 6);
    expect(bandA?.loss).toBe(180_000);
    expect(bandA?.defaults).toBe(1);
    expect(bandA?.error).toBeCloseTo(150 / 180 - 1, 9);
    expect(bandA?.withinTolerance).toBeUndefined();
    expect(bandF?.el).toBeCloseTo(200_000, 6);
    expect(bandF?.loss).toBe(210_000);
    expect(bandF?.defaults).toBe(10);
    expect(bandF?.withinTolerance).toBe(true);
    // Split of the gap: 100 × 0.1 × 50,000 expected to default against 10 × 50,000 that did.
    expect(bandF?.expectedDefaultedEad).toBeCloseTo(500_000, 6);
    expect(bandF?.defaultedEad).toBe(500_000);
    expect(r.total.el).toBeCloseTo(350_000, 6);
    expect(r.total.loss).toBe(390_000);
    expect(r.total.rows).toBe(1100);
    // Twice the loss in F: −52 % is outside ±20 %.
    const worse = elVsLoss(f.map((x) => ({ ...x, loss: x.loss * 2 })));
    expect(worse.bands[0]?.withinTolerance).toBe(false);
  });

  it('when a loan has a schedule, then it owes what is unpaid at t; without one, its principal less what was repaid', () => {
    const loan = {
      id: 'ln1',
      borrowerId: 'b1',
      principal: 1000,
      currency: 'EUR',
      annualRatePct: 0,
      startAt: T0,
      termDays: 60,
      status: 'active' as const,
    };
    const book = {
      loans: [
        loan,
        { ...loan, id: 'ln2', principal: 5000 },
        { ...loan, id: 'ln3', startAt: T0 + 50 * DAY_MS },
      ],
      repayments: new Map([
        [
          'ln1',
          [
            {
              id: 'r1',
              loanId: 'ln1',
              dueAt: T0 + 30 * DAY_MS,
              amountDue: 500,
              paidAt: T0 + 30 * DAY_MS,
              amountPaid: 500,
            },
            { id: 'r2', loanId: 'ln1', dueAt: T0 + 60 * DAY_MS, amountDue: 500, amountPaid: 0 },
          ],
        ],
        [
          'ln2',
          [{ id: 'p1', loanId: 'ln2', dueAt: T0, amountDue: 0, paidAt: T0 + 40 * DAY_MS, amountPaid: 2000 }],
        ],
      ]),
    };
    expect(outstandingAt(book, T0 + 10 * DAY_MS)).toBe(1000 + 5000);
    expect(outstandingAt(book, T0 + 45 * DAY_MS)).toBe(500 + 3000);
    // ln3 starts at day 50 with no schedule: its principal.
    expect(outstandingAt(book, T0 + 55 * DAY_MS)).toBe(500 + 3000 + 1000);
    const defaulted = { ...book, loans: book.loans.map((l) => ({ ...l, defaultedAt: T0 + 20 * DAY_MS })) };
    expect(outstandingAt(defaulted, T0 + 45 * DAY_MS)).toBe(0);
  });

  it('when a series of collateral values falls by a fifth against its last 30 days, then the drop is dated there', () => {
    const s: [number, number][] = Array.from({ length: 60 }, (_, i) => [T0 + i * DAY_MS, i < 40 ? 100 : 85]);
    expect(firstDrop(s)).toBeUndefined();
    s[45] = [T0 + 45 * DAY_MS, 70];
    expect(firstDrop(s)).toBe(T0 + 45 * DAY_MS);
  });
});

describe('credit figures from the stored stake readings', () => {
  /** b1: one lot of 100 t at 1 EUR/kg (haircut 30 %: wheat is not in the table), a 60,000 EUR loan. */
  const portfolio = (): Portfolio => {
    const s = site('s1', 'b1');
    const l = lot('l1', 'b1', 's1', { pledgedWeightKg: 100_000, unitPricePerKg: 1 });
    const d = device('stk-1', { lotId: 'l1' }).device;
    return {
      borrowers: [borrower('b1')],
      assets: new Map([
        [
          'b1',
          {
            borrowerId: 'b1',
            region: 'X',
            stakes: [{ device: d, lot: l, site: s }],
            workerHelmets: [],
            inspectorHelmets: [],
            parcelFeeds: [],
            siteFeeds: [],
          },
        ],
      ]),
      books: new Map([
        [
          'b1',
          {
            loans: [
              {
                id: 'ln1',
                borrowerId: 'b1',
                principal: 60_000,
                currency: 'EUR',
                annualRatePct: 8,
                startAt: T0 - 100 * DAY_MS,
                termDays: 365,
                status: 'active' as const,
              },
            ],
            repayments: new Map(),
          },
        ],
      ]),
    };
  };

  it('when a fraudster’s stake shows its lot emptied weeks before the default, then the test rows price the loss and the coverage drop leads the default', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rf-evcredit-'));
    dirs.push(dir);
    const telemetry = openSqliteTelemetryStore(join(dir, 't.db'));
    // Full for 40 days, then trucked out on day 40 (10 t left); default on day 100.
    const readings: Reading[] = [];
    for (let day = 0; day < 100; day++) {
      for (let h = 0; h < 24; h += 6)
        readings.push(
          stakeReading(T0 + day * DAY_MS + h * 3_600_000, readings.length + 1, {
            weightKg: day < 40 ? 100_000 : 10_000,
          }),
        );
    }
    await telemetry.writeReadings(readings);
    const defaultedAt = T0 + 100 * DAY_MS;
    const truth = [
      {
        borrowerId: 'b1',
        defaultedAt,
        ead: 60_000,
        loss: 55_000,
        fraud: { kind: 'removal', onsetMs: T0 + 40 * DAY_MS },
      },
    ];
    try {
      const rows = await creditTestRows({
        telemetry,
        portfolio: portfolio(),
        rows: [
          { borrowerId: 'b1', t: T0 + 30 * DAY_MS },
          { borrowerId: 'b1', t: T0 + 60 * DAY_MS },
        ],
        pd: [0.01, 0.2],
        truth,
        horizonDays: 180,
        params,
      });
      // Day 30: 70,000 verified ≥ 60,000 EAD, all secured: LGD 1 − 0.9 × 0.95. Day 60: 7,000 secured.
      expect(rows[0]?.ead).toBe(60_000);
      expect(rows[0]?.lgd).toBeCloseTo(1 - 0.9 * 0.95, 9);
      expect(rows[1]?.lgd).toBeCloseTo((7_000 * (1 - 0.9 * 0.95) + 53_000 * 0.45) / 60_000, 9);
      expect(rows.map((r) => r.loss)).toEqual([55_000, 55_000]);
      expect(rows.every((r) => r.defaults)).toBe(true);

      const lead = await fraudCoverageLead({
        telemetry,
        portfolio: portfolio(),
        truth,
        fromMs: T0,
        toMs: T0 + 200 * DAY_MS,
        params,
      });
      expect(lead).toMatchObject({ fraudDefaulters: 1, droppedBefore: 1, share: 1 });
      // The first day whose previous day ended with the lot emptied: day 41, 59 days before the default.
      expect(lead.medianLeadDays).toBe(59);
    } finally {
      await telemetry.close();
    }
  });
});
