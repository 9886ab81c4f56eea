import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Loan } from '../../core/state/index.js';
import { loan, seedPortfolio, startTestApi, T0, type TestApi } from './support.js';

/** The case inbox's order over the API on real state: expected loss where the credit figures have one. */
describe('case inbox order', () => {
  let t: TestApi;
  beforeAll(async () => {
    t = await startTestApi();
    await seedPortfolio(t.state);
  });
  afterAll(() => t.close());

  const openOn = (borrowerId: string, at: number) =>
    t.alerts.service.open({
      ruleId: 'pd-threshold',
      severity: 'warning',
      subjectKind: 'borrower',
      subjectId: borrowerId,
      borrowerId,
      title: `PD of ${borrowerId} over threshold`,
      evidence: {},
      at,
    });

  it('when one borrower has credit figures and another only loans, then the one with an expected loss comes first, each amount says its basis', async () => {
    // b1 has a loan and no credit figures; b2 has the credit monitor's figures, expected loss 1,200.
    await t.state.loans.upsertLoans([loan('ln-inbox-1', { borrowerId: 'b1', principal: 50_000 }) as Loan]);
    await t.state.credit.upsertExposures([
      {
        borrowerId: 'b2',
        currency: 'EUR',
        outstanding: 20_000,
        undrawn: 0,
        ead: 20_000,
        claimedValue: 0,
        verifiedValue: 0,
        lgd: 0.6,
        pd: 0.1,
        el: 1_200,
        breaches: [],
        lots: [],
        computedAt: T0,
      },
    ]);
    await openOn('b2', T0 + 1_000);
    await openOn('b1', T0 + 2_000);
    const res = await t.app.inject({ url: '/v1/cases', headers: t.auth('officer') });
    expect(res.statusCode, res.body).toBe(200);
    const items = res.json<{
      items: { borrowerId: string; moneyAtRisk?: { amount: number; basis: string } }[];
    }>().items;
    expect(items.map((c) => [c.borrowerId, c.moneyAtRisk?.basis, c.moneyAtRisk?.amount])).toEqual([
      ['b2', 'expected-loss', 1_200],
      ['b1', 'exposure', expect.any(Number) as number],
    ]);
  });
});
