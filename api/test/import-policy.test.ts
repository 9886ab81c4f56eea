import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loan, seedPortfolio, snapshot, startTestApi, T0, type TestApi } from './support.js';

interface Report {
  applied: boolean;
  created: number;
  updated: number;
  unchanged: number;
  rejected: number;
  rejections: {
    index: number;
    line?: number;
    id?: string;
    column?: string;
    reason: string;
    message: string;
  }[];
}

const shares = (own: number) => [
  { funderId: 'lender', sharePct: own },
  { funderId: 'bank-b', sharePct: 100 - own },
];

describe('loan import against the lending policy', () => {
  let t: TestApi;
  beforeAll(async () => {
    t = await startTestApi();
    await seedPortfolio(t.state);
  });
  afterAll(() => t.close());

  const post = (payload: unknown, query = '', headers: Record<string, string> = {}) =>
    t.app.inject({
      method: 'POST',
      url: `/v1/imports/loans${query}`,
      headers: { ...t.auth('officer'), ...headers },
      payload: payload as string,
    });

  it("when a loan's lender share is 25 %, then its row is refused with POLICY_CO_LENDING_SHARE and nothing is applied (atomic); 30 % passes and the funders are stored", async () => {
    const before = await snapshot(t.state);
    const refused = await post({
      items: [loan('cl-ok', { funders: shares(30) }), loan('cl-25', { funders: shares(25) })],
    });
    expect(refused.statusCode).toBe(422);
    const report = refused.json<{ report: Report }>().report;
    expect(report.applied).toBe(false);
    expect(report.rejections).toEqual([
      expect.objectContaining({
        index: 1,
        id: 'cl-25',
        column: 'funders',
        reason: 'POLICY_CO_LENDING_SHARE',
      }),
    ]);
    expect(await snapshot(t.state)).toEqual(before);

    const ok = await post({ items: [loan('cl-ok', { funders: shares(30) })] });
    expect(ok.statusCode).toBe(200);
    expect((await t.state.lending.listFunders(['cl-ok'])).get('cl-ok')).toEqual([
      { funderId: 'bank-b', sharePct: 70 },
      { funderId: 'lender', sharePct: 30 },
    ]);
    // The same row again is unchanged (funders compared with the stored ones); new shares are an update.
    expect((await post({ items: [loan('cl-ok', { funders: shares(30) })] })).json<Report>()).toMatchObject({
      unchanged: 1,
    });
    expect((await post({ items: [loan('cl-ok', { funders: shares(40) })] })).json<Report>()).toMatchObject({
      updated: 1,
    });
  });

  it('when mode=partial, then the violating row is rejected with its code and the others are applied', async () => {
    const r = await post(
      { items: [loan('cl-p1', { funders: shares(50) }), loan('cl-p2', { funders: shares(10) })] },
      '?mode=partial',
    );
    expect(r.statusCode).toBe(200);
    expect(r.json<Report>()).toMatchObject({ applied: true, created: 1, rejected: 1 });
    expect(r.json<Report>().rejections[0]).toMatchObject({ id: 'cl-p2', reason: 'POLICY_CO_LENDING_SHARE' });
    expect(await t.state.loans.getLoan('cl-p2')).toBeUndefined();
  });

  it("when a loan would take the borrower over its cap, then POLICY_BORROWER_CAP on that row (the file's earlier loans count); within the cap it passes", async () => {
    // b2 owes nothing yet: 600,000 + 400,000 is exactly the cap, a further 1 is over it.
    const r = await post(
      {
        items: [
          loan('cap-1', { borrowerId: 'b2', principal: 600_000 }),
          loan('cap-2', { borrowerId: 'b2', principal: 400_000 }),
          loan('cap-3', { borrowerId: 'b2', principal: 1 }),
        ],
      },
      '?mode=partial',
    );
    expect(r.json<Report>()).toMatchObject({ created: 2, rejected: 1 });
    expect(r.json<Report>().rejections[0]).toMatchObject({
      id: 'cap-3',
      column: 'principal',
      reason: 'POLICY_BORROWER_CAP',
    });
  });

  it('when the tenor exceeds the maximum or the shares do not add up, then POLICY_MAX_TENOR / POLICY_FUNDER_SHARES; a CSV funders cell is read', async () => {
    const csv = [
      'id,borrowerId,principal,currency,annualRatePct,startAt,termDays,status,funders',
      `csv-1,b1,1000,EUR,5,${T0},2000,active,`,
      `csv-2,b1,1000,EUR,5,${T0},300,active,lender:30;bank-b:60`,
      `csv-3,b1,1000,EUR,5,${T0},300,active,lender:35;bank-b:65`,
      `csv-4,b1,1000,EUR,5,${T0},300,active,lender=35`,
    ].join('\n');
    const r = await post(csv, '?mode=partial', { 'content-type': 'text/csv' });
    expect(r.statusCode).toBe(200);
    expect(r.json<Report>().rejections.map((x) => [x.id, x.reason])).toEqual([
      ['csv-1', 'POLICY_MAX_TENOR'],
      ['csv-2', 'POLICY_FUNDER_SHARES'],
      ['csv-4', 'INVALID_VALUE'],
    ]);
    expect((await t.state.lending.listFunders(['csv-3'])).get('csv-3')).toHaveLength(2);
  });

  it('when a repaid loan is imported, then it is history and not checked', async () => {
    const r = await post({
      items: [loan('old-1', { status: 'repaid', funders: shares(10), termDays: 5000 })],
    });
    expect(r.statusCode).toBe(200);
  });
});
