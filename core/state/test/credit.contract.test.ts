import { afterAll, describe, expect, it } from 'vitest';
import type { CreditApplication, CreditDecision, CreditExposure } from '../credit/credit-repository.js';
import { isConstraintError } from '../database.js';
import type { State } from '../state.js';
import { closeAll, STATE_BACKENDS } from './backends.js';
import { borrower, T0 } from './portfolio-fixtures.js';

afterAll(closeAll);

const application = (id: string, over: Partial<CreditApplication> = {}): CreditApplication => ({
  id,
  borrowerId: 'b1',
  amount: 250_000,
  currency: 'CAD',
  tenorDays: 365,
  lotIds: ['lot-1'],
  funders: [
    { funderId: 'lender', sharePct: 40 },
    { funderId: 'bank-b', sharePct: 60 },
  ],
  status: 'pending',
  recommendation: { grade: 'B', suggestedLimit: 200_000 },
  createdAt: T0,
  createdBy: 'k-officer',
  ...over,
});

const decision = (id: string, approver: string, over: Partial<CreditDecision> = {}): CreditDecision => ({
  id,
  applicationId: 'app-1',
  approverKeyId: approver,
  outcome: 'approve',
  amount: 250_000,
  reasons: [],
  at: T0 + 1,
  ...over,
});

async function withBorrowers(state: State): Promise<State> {
  await state.portfolio.upsertBorrowers([borrower('b1'), borrower('b2')]);
  return state;
}

describe.each(STATE_BACKENDS)('credit repository on %s', (backend) => {
  it('when the queue is listed by amount or by age over several statuses, then each page continues the order exactly where the last one ended', async () => {
    const state = await withBorrowers(await backend.open());
    const apps = [
      application('a1', { amount: 100, createdAt: T0 + 3 }),
      application('a2', { amount: 300, createdAt: T0 + 1, status: 'referred' }),
      application('a3', { amount: 300, createdAt: T0 + 2, status: 'awaiting-second' }),
      application('a4', { amount: 200, createdAt: T0 + 1 }),
      application('a5', { amount: 900, createdAt: T0, status: 'approved' }),
    ];
    for (const a of apps) await state.credit.insertApplication(a);
    const open = ['pending', 'awaiting-second', 'referred'] as const;
    const walk = async (sort: 'amount' | 'age') => {
      const ids: string[] = [];
      let after: { key: number; id: string } | undefined;
      for (;;) {
        const page = await state.credit.queryApplications({
          limit: 2,
          status: open,
          sort,
          ...(after === undefined ? {} : { after }),
        });
        ids.push(...page.map((a) => a.id));
        const last = page[page.length - 1];
        if (page.length < 2 || last === undefined) return ids;
        after = { key: sort === 'amount' ? last.amount : last.createdAt, id: last.id };
      }
    };
    expect(await walk('amount')).toEqual(['a2', 'a3', 'a4', 'a1']);
    expect(await walk('age')).toEqual(['a2', 'a4', 'a3', 'a1']);
    expect((await state.credit.queryApplications({ limit: 10 })).map((a) => a.id)).toEqual([
      'a1',
      'a2',
      'a3',
      'a4',
      'a5',
    ]);
    await state.close();
  });

  it('when an application is filed and decided, then it reads back whole and the status moves only from the status read', async () => {
    const state = await withBorrowers(await backend.open());
    await state.credit.insertApplication(application('app-1'));
    await state.credit.insertApplication(application('app-2', { borrowerId: 'b2', status: 'referred' }));
    expect(await state.credit.getApplication('app-1')).toEqual(application('app-1'));
    expect((await state.credit.queryApplications({ limit: 10, status: 'pending' })).map((a) => a.id)).toEqual(
      ['app-1'],
    );
    expect((await state.credit.queryApplications({ limit: 10, borrowerId: 'b2' })).map((a) => a.id)).toEqual([
      'app-2',
    ]);
    expect(
      await state.credit.updateApplicationStatus('app-1', 'pending', {
        status: 'approved',
        decidedAt: T0 + 5,
        decidedAmount: 200_000,
      }),
    ).toBe(true);
    // A second decider read it as pending too: refused, nothing changes.
    expect(await state.credit.updateApplicationStatus('app-1', 'pending', { status: 'declined' })).toBe(
      false,
    );
    expect(await state.credit.getApplication('app-1')).toMatchObject({
      status: 'approved',
      decidedAt: T0 + 5,
      decidedAmount: 200_000,
    });
  });

  it('when the same approver decides an application twice, then the second is refused as unique; decisions cannot be changed or deleted', async () => {
    const state = await withBorrowers(await backend.open());
    await state.credit.insertApplication(application('app-1'));
    await state.credit.insertDecision(decision('d1', 'k-ann', { reasons: ['GOOD'], comment: 'ok' }));
    let err: unknown;
    try {
      await state.credit.insertDecision(decision('d2', 'k-ann'));
    } catch (e) {
      err = e;
    }
    expect(isConstraintError(err, 'unique')).toBe(true);
    await state.credit.insertDecision(
      decision('d3', 'k-bob', { outcome: 'decline', amount: undefined } as never),
    );
    const list = await state.credit.listDecisions('app-1');
    expect(list.map((d) => [d.id, d.approverKeyId])).toEqual([
      ['d1', 'k-ann'],
      ['d3', 'k-bob'],
    ]);
    expect(list[0]).toEqual(decision('d1', 'k-ann', { reasons: ['GOOD'], comment: 'ok' }));
    for (const sql of ["UPDATE credit_decisions SET outcome = 'decline'", 'DELETE FROM credit_decisions']) {
      let refused: unknown;
      try {
        await state.db.run(sql);
      } catch (e) {
        refused = e;
      }
      expect(isConstraintError(refused, 'append-only')).toBe(true);
    }
    expect(await state.credit.listDecisions('app-1')).toHaveLength(2);
  });

  it('when a review is opened for a borrower with one open, then nothing opens; once closed, a new one may open', async () => {
    const state = await withBorrowers(await backend.open());
    const review = {
      id: 'rv-1',
      borrowerId: 'b1',
      reason: 'POLICY_MIN_COVERAGE',
      evidence: { verifiedCoverage: 0.4 },
      status: 'open' as const,
      openedAt: T0,
    };
    expect(await state.credit.openReview(review)).toBe(true);
    expect(await state.credit.openReview({ ...review, id: 'rv-2', reason: 'GRADE_DOWN' })).toBe(false);
    // Inside a transaction the refused insert leaves the transaction usable (PostgreSQL would abort it otherwise).
    await state.transaction(async () => {
      expect(await state.credit.openReview({ ...review, id: 'rv-3' })).toBe(false);
      await state.audit.appendAudit({ at: T0, action: 'open', resource: 'limit-review' });
    });
    expect(await state.credit.listReviews({ limit: 10, status: 'open' })).toEqual([review]);
    expect(await state.credit.closeReview('rv-1', 'k-ann', T0 + 9)).toBe(true);
    expect(await state.credit.closeReview('rv-1', 'k-ann', T0 + 9)).toBe(false);
    expect(await state.credit.getReview('rv-1')).toMatchObject({ status: 'closed', closedBy: 'k-ann' });
    expect(await state.credit.getReview('rv-none')).toBeUndefined();
    expect(await state.credit.openReview({ ...review, id: 'rv-4', openedAt: T0 + 10 })).toBe(true);
    expect((await state.credit.listReviews({ limit: 10, borrowerId: 'b1' })).map((r) => r.id)).toEqual([
      'rv-4',
      'rv-1',
    ]);
  });

  it('when exposures are upserted, then the latest per borrower reads back, with absent figures absent', async () => {
    const state = await withBorrowers(await backend.open());
    const e: CreditExposure = {
      borrowerId: 'b1',
      currency: 'CAD',
      outstanding: 100,
      undrawn: 0,
      ead: 100,
      claimedValue: 150,
      verifiedValue: 40,
      claimedCoverage: 1.5,
      verifiedCoverage: 0.4,
      lgd: 0.3,
      pd: 0.02,
      el: 0.6,
      breaches: [{ code: 'POLICY_MIN_COVERAGE', message: 'low', limit: 1, actual: 0.4 }],
      lots: [{ lotId: 'lot-1', conditions: ['outside-geofence'] }],
      computedAt: T0,
    };
    const bare: CreditExposure = {
      borrowerId: 'b2',
      currency: 'CAD',
      outstanding: 0,
      undrawn: 0,
      ead: 0,
      claimedValue: 0,
      verifiedValue: 0,
      lgd: 0,
      breaches: [],
      lots: [],
      computedAt: T0,
    };
    await state.credit.upsertExposures([e, bare]);
    await state.credit.upsertExposures([{ ...e, verifiedCoverage: 1.2, breaches: [], computedAt: T0 + 1 }]);
    const all = await state.credit.getExposures();
    expect(all.get('b1')).toEqual({ ...e, verifiedCoverage: 1.2, breaches: [], computedAt: T0 + 1 });
    expect(all.get('b2')).toEqual(bare);
    expect([...(await state.credit.getExposures(['b2'])).keys()]).toEqual(['b2']);
  });
});

describe.each(STATE_BACKENDS)('lending repository on %s', (backend) => {
  it('when funders are replaced, then each loan holds only its new funders', async () => {
    const state = await withBorrowers(await backend.open());
    const loan = (id: string) => ({
      id,
      borrowerId: 'b1',
      principal: 100,
      currency: 'CAD',
      annualRatePct: 8,
      startAt: T0,
      termDays: 365,
      status: 'active' as const,
    });
    await state.loans.upsertLoans([loan('l1'), loan('l2')]);
    await state.lending.replaceFunders(
      new Map([
        [
          'l1',
          [
            { funderId: 'lender', sharePct: 30 },
            { funderId: 'bank-b', sharePct: 70 },
          ],
        ],
        ['l2', [{ funderId: 'lender', sharePct: 100 }]],
      ]),
    );
    await state.lending.replaceFunders(new Map([['l1', [{ funderId: 'lender', sharePct: 100 }]]]));
    const funders = await state.lending.listFunders();
    expect(Object.fromEntries(funders)).toEqual({
      l1: [{ funderId: 'lender', sharePct: 100 }],
      l2: [{ funderId: 'lender', sharePct: 100 }],
    });
    expect([...(await state.lending.listFunders(['l2'])).keys()]).toEqual(['l2']);
  });

  it('when policies are saved, then versions count up from 1 and the newest is current; two saves at once get two versions', async () => {
    const state = await backend.open();
    expect(await state.lending.currentPolicy()).toBeUndefined();
    await state.lending.savePolicy({ a: 1 }, T0, 'k-admin');
    await Promise.all([
      state.lending.savePolicy({ a: 2 }, T0 + 1),
      state.lending.savePolicy({ a: 3 }, T0 + 2),
    ]);
    const list = await state.lending.listPolicies(10);
    expect(list.map((p) => p.version)).toEqual([3, 2, 1]);
    expect(list[2]).toEqual({ version: 1, policy: { a: 1 }, createdAt: T0, createdBy: 'k-admin' });
    expect((await state.lending.currentPolicy())?.version).toBe(3);
  });

  it('when a limit is set twice, then the second replaces the first', async () => {
    const state = await withBorrowers(await backend.open());
    await state.lending.setLimit({ borrowerId: 'b1', currency: 'CAD', amount: 100, updatedAt: T0 });
    await state.lending.setLimit({
      borrowerId: 'b1',
      currency: 'CAD',
      amount: 250,
      applicationId: 'app-1',
      updatedAt: T0 + 1,
    });
    expect((await state.lending.listLimits()).get('b1')).toEqual({
      borrowerId: 'b1',
      currency: 'CAD',
      amount: 250,
      applicationId: 'app-1',
      updatedAt: T0 + 1,
    });
  });
});
