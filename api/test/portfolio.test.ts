import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedPortfolio, snapshot, startTestApi, type TestApi } from './support.js';

interface Page<T> {
  items: T[];
  nextCursor?: string;
}

describe('borrowers, sites, lots', () => {
  let t: TestApi;
  beforeAll(async () => {
    t = await startTestApi();
    await seedPortfolio(t.state);
  });
  afterAll(() => t.close());

  const admin = () => t.auth('admin');

  it('when an admin creates, reads, changes and deletes a borrower, then each step is audited with before and after', async () => {
    const created = await t.app.inject({
      method: 'POST',
      url: '/v1/borrowers',
      headers: admin(),
      payload: { id: 'b9', name: 'Coop Nine', sector: 'agriculture', region: 'east' },
    });
    expect(created.statusCode).toBe(201);
    expect(created.json()).toMatchObject({ id: 'b9', name: 'Coop Nine', sector: 'agriculture' });
    const read = await t.app.inject({ url: '/v1/borrowers/b9', headers: t.auth('officer') });
    expect(read.json()).toEqual(created.json());
    const patched = await t.app.inject({
      method: 'PATCH',
      url: '/v1/borrowers/b9',
      headers: admin(),
      payload: { name: 'Coop Nine Ltd' },
    });
    expect(patched.statusCode).toBe(200);
    expect(patched.json()).toMatchObject({ id: 'b9', name: 'Coop Nine Ltd', region: 'east' });
    const deleted = await t.app.inject({ method: 'DELETE', url: '/v1/borrowers/b9', headers: admin() });
    expect(deleted.statusCode).toBe(204);
    expect((await t.app.inject({ url: '/v1/borrowers/b9', headers: admin() })).statusCode).toBe(404);

    const audit = await t.app.inject({
      url: '/v1/audit?resource=borrower&resourceId=b9',
      headers: t.auth('auditor'),
    });
    const entries =
      audit.json<
        Page<{ action: string; before?: { name: string }; after?: { name: string }; requestId: string }>
      >().items;
    expect(entries.map((e) => e.action)).toEqual(['delete', 'update', 'create']);
    expect(entries[1]).toMatchObject({ before: { name: 'Coop Nine' }, after: { name: 'Coop Nine Ltd' } });
    expect(entries[0]).toMatchObject({ before: { name: 'Coop Nine Ltd' } });
    expect(entries[0]?.after).toBeUndefined();
    expect(entries[2]?.requestId).toBe(created.headers['x-request-id']);
  });

  it('when a borrower id is taken, then creating it again is a 409 and the original stays', async () => {
    const before = await snapshot(t.state);
    const res = await t.app.inject({
      method: 'POST',
      url: '/v1/borrowers',
      headers: admin(),
      payload: { id: 'b1', name: 'Impostor', sector: 'trading', region: 'x' },
    });
    expect(res.statusCode).toBe(409);
    expect(await snapshot(t.state)).toEqual(before);
  });

  it('when a borrower, site or lot still has dependents, then delete is a 409 naming them and nothing is deleted', async () => {
    const before = await snapshot(t.state);
    const b = await t.app.inject({ method: 'DELETE', url: '/v1/borrowers/b1', headers: admin() });
    expect(b.statusCode).toBe(409);
    expect(b.json()).toMatchObject({ code: 'CONFLICT', dependents: { sites: 1, lots: 1 } });
    const s = await t.app.inject({ method: 'DELETE', url: '/v1/sites/s1', headers: admin() });
    expect(s.json()).toMatchObject({ status: 409, dependents: { lots: 1 } });
    expect(await snapshot(t.state)).toEqual(before);
  });

  it('when sites and lots are created, then references are checked (borrower exists, site is the borrower’s)', async () => {
    const site = {
      id: 's2',
      borrowerId: 'b2',
      name: 'Coil yard',
      kind: 'yard',
      lat: 10,
      lon: 20,
      geofence: [
        [10, 20],
        [10, 20.01],
        [10.01, 20.01],
      ],
    };
    const unknownBorrower = await t.app.inject({
      method: 'POST',
      url: '/v1/sites',
      headers: admin(),
      payload: { ...site, borrowerId: 'nobody' },
    });
    expect(unknownBorrower.statusCode).toBe(400);
    expect(unknownBorrower.json()).toMatchObject({ errors: [{ path: 'body/borrowerId' }] });
    const created = await t.app.inject({ method: 'POST', url: '/v1/sites', headers: admin(), payload: site });
    expect(created.statusCode).toBe(201);
    expect(created.json()).toEqual(site);

    const lot = {
      id: 'l2',
      borrowerId: 'b1',
      siteId: 's2',
      commodity: 'steel coil',
      pledgedWeightKg: 20_000,
      unitPricePerKg: 0.8,
      currency: 'EUR',
      pledgedAt: 1,
    };
    const wrongSite = await t.app.inject({ method: 'POST', url: '/v1/lots', headers: admin(), payload: lot });
    expect(wrongSite.statusCode).toBe(400);
    expect(wrongSite.json<{ detail: string }>().detail).toMatch(/belongs to borrower b2/);
    const ok = await t.app.inject({
      method: 'POST',
      url: '/v1/lots',
      headers: admin(),
      payload: { ...lot, borrowerId: 'b2' },
    });
    expect(ok.statusCode).toBe(201);
    const moved = await t.app.inject({
      method: 'PATCH',
      url: '/v1/lots/l2',
      headers: admin(),
      payload: { pledgedWeightKg: 18_000 },
    });
    expect(moved.json()).toMatchObject({ pledgedWeightKg: 18_000, siteId: 's2' });
    const fence = await t.app.inject({
      method: 'PATCH',
      url: '/v1/sites/s2',
      headers: admin(),
      payload: {
        geofence: [
          [10, 20],
          [10, 21],
          [11, 21],
          [11, 20],
        ],
      },
    });
    expect(fence.json<{ geofence: unknown[] }>().geofence).toHaveLength(4);
    expect(
      (await t.app.inject({ url: '/v1/lots?siteId=s2', headers: admin() })).json<Page<unknown>>().items,
    ).toHaveLength(1);
    expect(
      (await t.app.inject({ url: '/v1/sites?borrowerId=b2', headers: admin() })).json<Page<unknown>>().items,
    ).toHaveLength(1);
    expect((await t.app.inject({ url: '/v1/sites/s2', headers: t.auth('auditor') })).json()).toMatchObject({
      id: 's2',
      kind: 'yard',
    });
    expect((await t.app.inject({ url: '/v1/lots/l2', headers: t.auth('auditor') })).json()).toMatchObject({
      id: 'l2',
      borrowerId: 'b2',
    });
    expect((await t.app.inject({ method: 'DELETE', url: '/v1/lots/l2', headers: admin() })).statusCode).toBe(
      204,
    );
    expect((await t.app.inject({ method: 'DELETE', url: '/v1/sites/s2', headers: admin() })).statusCode).toBe(
      204,
    );
  });

  it('when 23 borrowers are paged 5 at a time by name descending, then each is seen once, in order', async () => {
    await t.state.portfolio.upsertBorrowers(
      Array.from({ length: 21 }, (_, i) => ({
        id: `p${String(i).padStart(2, '0')}`,
        name: `Paged ${String.fromCharCode(65 + (i % 7))}`,
        sector: 'trading' as const,
        region: 'paging',
        createdAt: i,
      })),
    );
    const seen: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const res = await t.app.inject({
        url: `/v1/borrowers?region=paging&sort=-name&limit=5${cursor ? `&cursor=${cursor}` : ''}`,
        headers: t.auth('auditor'),
      });
      const page = res.json<Page<{ id: string; name: string }>>();
      seen.push(...page.items.map((b) => `${b.name}|${b.id}`));
      cursor = page.nextCursor;
      pages += 1;
    } while (cursor !== undefined);
    expect(pages).toBe(5);
    expect(seen).toHaveLength(21);
    expect(seen).toEqual([...seen].sort().reverse());
    const search = await t.app.inject({ url: '/v1/borrowers?q=steel', headers: t.auth('officer') });
    expect(search.json<Page<{ id: string }>>().items.map((b) => b.id)).toEqual(['b2']);
  });

  it('when the portfolio summary is read, then it counts borrowers by sector, collateral value and exposure', async () => {
    await t.state.loans.upsertLoans([
      {
        id: 'ln-s',
        borrowerId: 'b1',
        principal: 1000,
        currency: 'EUR',
        annualRatePct: 5,
        startAt: 0,
        termDays: 90,
        status: 'active',
      },
    ]);
    await t.state.loans.upsertRepayments([
      { id: 'r-s', loanId: 'ln-s', dueAt: 1, amountDue: 400, amountPaid: 100, paidAt: 1 },
    ]);
    const res = await t.app.inject({ url: '/v1/portfolio/summary', headers: t.auth('officer') });
    expect(res.statusCode).toBe(200);
    const summary = res.json<{
      borrowers: number;
      collateralValue: unknown;
      exposure: unknown;
      byGrade: unknown;
      loans: unknown;
    }>();
    expect(summary.borrowers).toBe((await t.state.portfolio.listBorrowers()).length);
    expect(summary.collateralValue).toEqual([{ currency: 'EUR', value: 300 }]);
    expect(summary.exposure).toEqual([
      { currency: 'EUR', activeLoans: 1, principal: 1000, outstanding: 300 },
    ]);
    expect(summary.loans).toEqual({ active: 1 });
    expect(summary.byGrade).toBeNull();
  });
});
