import { afterAll, describe, expect, it } from 'vitest';
import { isConstraintError } from '../database.js';
import type { Loan } from '../loans/loan-repository.js';
import type { State } from '../state.js';
import { closeAll, STATE_BACKENDS } from './backends.js';
import { borrower, seedPortfolio, T0 } from './portfolio-fixtures.js';

afterAll(closeAll);

const loan = (id: string, over: Partial<Loan> = {}): Loan => ({
  id,
  borrowerId: 'b1',
  principal: 1e5,
  currency: 'EUR',
  annualRatePct: 8,
  startAt: T0,
  termDays: 360,
  status: 'active',
  ...over,
});

describe.each(STATE_BACKENDS)('loan repository on %s', (backend) => {
  const open = async (): Promise<State> => {
    const state = await backend.open();
    await seedPortfolio(state);
    await state.portfolio.upsertBorrowers([borrower('b2'), borrower('b3')]);
    return state;
  };

  it('when the loan book is written, then loans and their schedules read back in due order', async () => {
    const state = await open();
    await state.loans.upsertLoans([loan('ln1')]);
    await state.loans.upsertRepayments([
      { id: 'r2', loanId: 'ln1', dueAt: T0 + 2, amountDue: 10, amountPaid: 0 },
      { id: 'r1', loanId: 'ln1', dueAt: T0 + 1, amountDue: 10, paidAt: T0 + 1, amountPaid: 10 },
      { id: 'r0', loanId: 'ln1', dueAt: T0 + 2, amountDue: 10.5, amountPaid: 0 },
    ]);
    expect((await state.loans.listRepayments('ln1')).map((r) => r.id)).toEqual(['r1', 'r0', 'r2']);
    expect(await state.loans.getRepayment('r1')).toEqual({
      id: 'r1',
      loanId: 'ln1',
      dueAt: T0 + 1,
      amountDue: 10,
      paidAt: T0 + 1,
      amountPaid: 10,
    });
    expect(await state.loans.getRepayment('r0')).toEqual({
      id: 'r0',
      loanId: 'ln1',
      dueAt: T0 + 2,
      amountDue: 10.5,
      amountPaid: 0,
    });
    expect(await state.loans.listLoans('b1')).toEqual([loan('ln1')]);
    expect(await state.loans.getLoan('ln1')).toEqual(loan('ln1'));
    expect(await state.loans.getLoan('nope')).toBeUndefined();
    expect(await state.loans.getRepayment('nope')).toBeUndefined();
  });

  it('when a loan or repayment is upserted again, then it changes in place and optional times come and go', async () => {
    const state = await open();
    await state.loans.upsertLoans([loan('ln1')]);
    await state.loans.upsertRepayments([
      { id: 'r1', loanId: 'ln1', dueAt: T0 + 1, amountDue: 10, amountPaid: 0 },
    ]);
    await state.loans.upsertLoans([
      loan('ln1', { status: 'defaulted', defaultedAt: T0 + 9, principal: 5, annualRatePct: 7.25 }),
    ]);
    await state.loans.upsertRepayments([
      { id: 'r1', loanId: 'ln1', dueAt: T0 + 3, amountDue: 12, paidAt: T0 + 4, amountPaid: 12 },
    ]);
    expect(await state.loans.getLoan('ln1')).toEqual(
      loan('ln1', { status: 'defaulted', defaultedAt: T0 + 9, principal: 5, annualRatePct: 7.25 }),
    );
    expect(await state.loans.getRepayment('r1')).toMatchObject({ dueAt: T0 + 3, paidAt: T0 + 4 });
    await state.loans.upsertLoans([loan('ln1', { status: 'active' })]);
    expect(await state.loans.getLoan('ln1')).toEqual(loan('ln1'));
    expect(await state.loans.listLoans()).toHaveLength(1);
  });

  it('when loans and repayments are read by a list of ids, then the stored ones come back by id and unknown ids are absent', async () => {
    const state = await open();
    const odd = `x' OR 1=1 --"\\%_é`;
    await state.loans.upsertLoans([loan('ln1'), loan(odd, { status: 'defaulted', defaultedAt: T0 + 1 })]);
    await state.loans.upsertRepayments([
      { id: 'r1', loanId: 'ln1', dueAt: T0 + 1, amountDue: 10, paidAt: T0 + 1, amountPaid: 10 },
      { id: 'r2', loanId: odd, dueAt: T0 + 2, amountDue: 10.5, amountPaid: 0 },
    ]);
    const loans = await state.loans.getLoans(['ln1', 'nope', odd, 'ln1', '']);
    expect([...loans.keys()].sort()).toEqual(['ln1', odd].sort());
    expect(loans.get('ln1')).toEqual(await state.loans.getLoan('ln1'));
    expect(loans.get(odd)).toEqual(loan(odd, { status: 'defaulted', defaultedAt: T0 + 1 }));
    const repayments = await state.loans.getRepayments(['r2', 'r1', 'r1', 'ln1']);
    expect([...repayments.keys()].sort()).toEqual(['r1', 'r2']);
    expect(repayments.get('r1')).toEqual(await state.loans.getRepayment('r1'));
    expect(repayments.get('r2')).toEqual({
      id: 'r2',
      loanId: odd,
      dueAt: T0 + 2,
      amountDue: 10.5,
      amountPaid: 0,
    });
    expect((await state.loans.getLoans([])).size).toBe(0);
    expect((await state.loans.getRepayments([])).size).toBe(0);
    expect((await state.loans.getLoans(['ln', 'LN1', 'ln1 '])).size).toBe(0);
  });

  it('when thousands of ids are asked at once, then one call answers them all, past any parameter limit', async () => {
    const state = await open();
    const count = 40_000;
    await state.loans.upsertLoans(
      Array.from({ length: count }, (_, i) => loan(`ln${i}`, { borrowerId: i % 2 === 0 ? 'b1' : 'b2' })),
    );
    const asked = Array.from({ length: count + 500 }, (_, i) => `ln${i}`);
    const found = await state.loans.getLoans(asked);
    expect(found.size).toBe(count);
    expect(found.get('ln39999')).toEqual(loan('ln39999', { borrowerId: 'b2' }));
    expect(found.has(`ln${count}`)).toBe(false);
    await state.transaction(async () => {
      expect((await state.loans.getLoans(['ln7'])).get('ln7')?.borrowerId).toBe('b2');
    });
  });

  it('when a repayment names an unknown loan, then the batch is refused whole', async () => {
    const state = await open();
    await state.loans.upsertLoans([loan('ln1')]);
    const write = state.loans.upsertRepayments([
      { id: 'r1', loanId: 'ln1', dueAt: T0, amountDue: 1, amountPaid: 0 },
      { id: 'r2', loanId: 'nope', dueAt: T0, amountDue: 1, amountPaid: 0 },
    ]);
    await expect(write).rejects.toSatisfy((err) => isConstraintError(err, 'foreign-key'));
    expect(await state.loans.listRepayments('ln1')).toEqual([]);
  });

  it('when loans are queried, then borrower and status filter and pages follow the id', async () => {
    const state = await open();
    await state.loans.upsertLoans([
      loan('ln3', { borrowerId: 'b2' }),
      loan('ln1'),
      loan('ln2', { status: 'repaid' }),
      loan('ln4', { status: 'defaulted', defaultedAt: T0 }),
    ]);
    const ids = async (q: Parameters<State['loans']['queryLoans']>[0]) =>
      (await state.loans.queryLoans(q)).map((l) => l.id);
    expect(await ids({ limit: 10 })).toEqual(['ln1', 'ln2', 'ln3', 'ln4']);
    expect(await ids({ limit: 10, borrowerId: 'b1' })).toEqual(['ln1', 'ln2', 'ln4']);
    expect(await ids({ limit: 10, status: 'active' })).toEqual(['ln1', 'ln3']);
    expect(await ids({ limit: 10, borrowerId: 'b1', status: 'active' })).toEqual(['ln1']);
    expect(await ids({ limit: 2, afterId: 'ln1' })).toEqual(['ln2', 'ln3']);
    expect(await ids({ limit: 2, afterId: 'ln4' })).toEqual([]);
    expect((await state.loans.listLoans()).map((l) => l.id)).toEqual(['ln1', 'ln2', 'ln3', 'ln4']);
  });

  it('when exposures are read, then active loans give what is still due per borrower and currency', async () => {
    const state = await open();
    await state.loans.upsertLoans([
      loan('ln1'),
      loan('ln2', { currency: 'USD' }),
      loan('ln3', { borrowerId: 'b2' }),
      loan('ln4', { borrowerId: 'b2', status: 'repaid' }),
      loan('ln5', { borrowerId: 'b3', status: 'defaulted', defaultedAt: T0 }),
    ]);
    await state.loans.upsertRepayments([
      { id: 'r1', loanId: 'ln1', dueAt: T0 + 1, amountDue: 100, amountPaid: 40 },
      { id: 'r2', loanId: 'ln1', dueAt: T0 + 2, amountDue: 100, amountPaid: 0 },
      { id: 'r3', loanId: 'ln2', dueAt: T0 + 1, amountDue: 50, amountPaid: 50 },
      { id: 'r4', loanId: 'ln4', dueAt: T0 + 1, amountDue: 999, amountPaid: 0 },
      { id: 'r5', loanId: 'ln5', dueAt: T0 + 1, amountDue: 999, amountPaid: 0 },
    ]);
    const whole = await state.loans.borrowerExposures();
    expect([...whole.entries()]).toEqual([
      [
        'b1',
        [
          { currency: 'EUR', outstanding: 160 },
          { currency: 'USD', outstanding: 0 },
        ],
      ],
      ['b2', [{ currency: 'EUR', outstanding: 1e5 }]],
    ]);
    const named = await state.loans.borrowerExposures(['b2', 'b3', 'nope', 'b2']);
    expect([...named.entries()]).toEqual([['b2', [{ currency: 'EUR', outstanding: 1e5 }]]]);
    expect((await state.loans.borrowerExposures(['b1'])).get('b1')).toEqual(whole.get('b1'));
    expect((await state.loans.borrowerExposures([])).size).toBe(0);
  });

  it('when a loan has no repayment schedule, then it owes its principal less what was repaid', async () => {
    const state = await open();
    await state.loans.upsertLoans([
      loan('ln1', { principal: 80_000 }),
      loan('ln2', { principal: 50_000 }),
      loan('ln3', { borrowerId: 'b2', principal: 10_000 }),
    ]);
    // ln1: no rows at all; ln2: unscheduled repayments (amount due 0); ln3 repaid more than its principal.
    await state.loans.upsertRepayments([
      { id: 'p1', loanId: 'ln2', dueAt: T0 + 1, amountDue: 0, paidAt: T0 + 1, amountPaid: 15_000 },
      { id: 'p2', loanId: 'ln2', dueAt: T0 + 2, amountDue: 0, paidAt: T0 + 2, amountPaid: 5_000 },
      { id: 'p3', loanId: 'ln3', dueAt: T0 + 1, amountDue: 0, paidAt: T0 + 1, amountPaid: 12_000 },
    ]);
    const got = await state.loans.borrowerExposures();
    expect(got.get('b1')).toEqual([{ currency: 'EUR', outstanding: 80_000 + 30_000 }]);
    expect(got.get('b2')).toEqual([{ currency: 'EUR', outstanding: 0 }]);
  });
});
