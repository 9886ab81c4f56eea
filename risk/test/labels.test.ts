import { describe, expect, it } from 'vitest';
import type { Borrower, Loan } from '../../core/state/index.js';
import { labelRows } from '../features/dataset.js';
import type { FeatureRow, Portfolio } from '../features/extract.js';
import { FEATURE_NAMES } from '../features/spec.js';

/**
 * Labels of `riskfuse evaluate` (risk/features/dataset.ts labelRows) on a hand-built book: a row is labelled
 * from the whole outcome history, kept only when its horizon is observed, so a row before a train/test split
 * whose default falls after the split is a 1, never a censored 0.
 */
const DAY = 86_400_000;
const T0 = Date.UTC(2024, 0, 1);

function portfolio(defaultAt: number | undefined): Portfolio {
  const loan = {
    id: 'l1',
    borrowerId: 'b1',
    startAt: T0 - 400 * DAY,
    defaultedAt: defaultAt,
  } as unknown as Loan;
  return {
    borrowers: [{ id: 'b1' } as unknown as Borrower],
    assets: new Map(),
    books: new Map([['b1', { loans: [loan], repayments: new Map() }]]),
  };
}

const row = (t: number): FeatureRow => ({
  borrowerId: 'b1',
  t,
  values: new Float64Array(FEATURE_NAMES.length),
  status: { active: true, outstanding: 1000 },
});

describe('labels', () => {
  const split = T0 + 100 * DAY;
  const observedUntil = T0 + 400 * DAY;
  const opts = { horizonDays: 180, population: 'all' as const };

  it('when a row before the split defaults after the split but within its horizon, then it is labelled 1', () => {
    const [r] = labelRows([row(split - 30 * DAY)], portfolio(split + 60 * DAY), opts, observedUntil);
    expect(r?.label).toBe(1);
  });

  it('when a row’s horizon reaches past the observed history, then it is left out rather than labelled 0', () => {
    const rows = labelRows([row(observedUntil - 100 * DAY)], portfolio(undefined), opts, observedUntil);
    expect(rows).toEqual([]);
  });

  it('when the default falls after the horizon, then the row is a 0', () => {
    const [r] = labelRows([row(split - 30 * DAY)], portfolio(split + 200 * DAY), opts, observedUntil);
    expect(r?.label).toBe(0);
  });
});
