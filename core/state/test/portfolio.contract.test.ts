import { afterAll, describe, expect, it } from 'vitest';
import { RiskfuseError } from '../../errors.js';
import { isConstraintError } from '../database.js';
import type { Borrower, BorrowerQuery } from '../portfolio/portfolio-repository.js';
import type { State } from '../state.js';
import { closeAll, STATE_BACKENDS } from './backends.js';
import { borrower, device, lot, seedPortfolio, site, T0 } from './portfolio-fixtures.js';

afterAll(closeAll);

/** Every borrower of a query, page by page (keyset on the sort value and id), as `name/id`. */
async function pageAll(state: State, query: Omit<BorrowerQuery, 'after'>): Promise<string[]> {
  const seen: string[] = [];
  let after: BorrowerQuery['after'];
  for (;;) {
    const page = await state.portfolio.queryBorrowers({ ...query, ...(after ? { after } : {}) });
    seen.push(...page.map((b) => `${b.name}/${b.id}`));
    const last = page.at(-1);
    if (page.length < query.limit || last === undefined) return seen;
    const value = query.sort === 'name' ? last.name : query.sort === 'createdAt' ? last.createdAt : last.id;
    after = { value, id: last.id };
  }
}

const byteOrder = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

async function caught(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  throw new Error('expected a rejection');
}

describe.each(STATE_BACKENDS)('portfolio repository on %s', (backend) => {
  const open = async (): Promise<State> => {
    const state = await backend.open();
    await seedPortfolio(state);
    return state;
  };

  it('when the portfolio is written, then it reads back whole, the geofence included', async () => {
    const state = await open();
    expect(await state.portfolio.getBorrower('b1')).toEqual(borrower('b1', { name: 'Grain Co' }));
    expect(await state.portfolio.listSites('b1')).toEqual([site('s1', 'b1', { name: 'Depot' })]);
    expect((await state.portfolio.getSite('s1'))?.geofence).toEqual([
      [0, 0],
      [0, 1],
      [1, 1],
    ]);
    expect(await state.portfolio.getLot('l1')).toEqual(lot('l1', 'b1', 's1'));
    expect(await state.portfolio.listLots()).toEqual([lot('l1', 'b1', 's1')]);
    expect(await state.portfolio.getBorrower('nope')).toBeUndefined();
    expect(await state.portfolio.getSite('nope')).toBeUndefined();
    expect(await state.portfolio.getLot('nope')).toBeUndefined();
    expect(await state.portfolio.listSites('nope')).toEqual([]);
  });

  it('when borrowers are looked up in a batch, then the existing ones come back by id across pages', async () => {
    const state = await open();
    const many = Array.from({ length: 2_500 }, (_, i) => borrower(`m${String(i).padStart(4, '0')}`));
    await state.portfolio.upsertBorrowers(many);
    const found = await state.portfolio.getBorrowers(['b1', 'nope', ...many.map((b) => b.id)]);
    expect(found.size).toBe(2_501);
    expect(found.get('b1')).toEqual(borrower('b1', { name: 'Grain Co' }));
    expect(found.get('m2499')).toEqual(many[2_499]);
    expect(found.has('nope')).toBe(false);
    expect((await state.portfolio.getBorrowers([])).size).toBe(0);
  });

  it('when a batch references an unknown site, then nothing of the batch is written', async () => {
    const state = await open();
    const err = await caught(state.portfolio.upsertLots([lot('l2', 'b1', 's1'), lot('l3', 'b1', 'nope')]));
    expect(isConstraintError(err, 'foreign-key')).toBe(true);
    expect((await state.portfolio.listLots()).map((l) => l.id)).toEqual(['l1']);
  });

  it('when a borrower is upserted again, then its fields change but not its creation time', async () => {
    const state = await open();
    await state.portfolio.upsertBorrowers([
      borrower('b1', { name: 'Grain Co Ltd', sector: 'agriculture', region: 'south', createdAt: T0 + 5 }),
    ]);
    expect(await state.portfolio.getBorrower('b1')).toEqual(
      borrower('b1', { name: 'Grain Co Ltd', sector: 'agriculture', region: 'south', createdAt: T0 }),
    );
    expect(await state.portfolio.listBorrowers()).toHaveLength(1);
  });

  it('when one batch repeats an id, then the last one wins as if applied in turn (PostgreSQL cannot update a row twice in one statement)', async () => {
    const state = await open();
    await state.portfolio.upsertBorrowers([
      borrower('b9', { name: 'first', createdAt: T0 + 1 }),
      borrower('b8', { name: 'other' }),
      borrower('b9', { name: 'second', createdAt: T0 + 2 }),
      borrower('b9', { name: 'third', region: 'east', createdAt: T0 + 3 }),
    ]);
    expect(await state.portfolio.getBorrower('b9')).toEqual(
      borrower('b9', { name: 'third', region: 'east', createdAt: T0 + 1 }),
    );
    await state.portfolio.upsertLots([
      lot('l1', 'b1', 's1', { commodity: 'corn' }),
      lot('l1', 'b1', 's1', { commodity: 'rice', pledgedWeightKg: 5 }),
    ]);
    expect(await state.portfolio.getLot('l1')).toEqual(
      lot('l1', 'b1', 's1', { commodity: 'rice', pledgedWeightKg: 5 }),
    );
  });

  it('when a row is inserted twice without an upsert, then a unique ConstraintError (CONFLICT) says so', async () => {
    const state = await open();
    const err = await caught(
      state.db.run(
        `INSERT INTO borrowers (id, name, sector, region, created_at) VALUES ('b1', 'x', 'trading', 'r', 0)`,
      ),
    );
    expect(isConstraintError(err, 'unique')).toBe(true);
    expect((err as RiskfuseError).code).toBe('CONFLICT');
    expect((await state.portfolio.getBorrower('b1'))?.name).toBe('Grain Co');
  });

  it('when a portfolio item has dependents, then they are counted and the delete is refused with them', async () => {
    const state = await open();
    expect(await state.portfolio.dependents('borrower', 'b1')).toEqual({ sites: 1, lots: 1 });
    expect(await state.portfolio.dependents('site', 's1')).toEqual({ lots: 1 });
    expect(await state.portfolio.dependents('lot', 'l1')).toEqual({});
    await state.devices.upsertDevices([device('stk-1', { lotId: 'l1' })]);
    expect(await state.portfolio.dependents('lot', 'l1')).toEqual({ devices: 1 });
    expect(await state.portfolio.dependents('borrower', 'b1')).toEqual({ sites: 1, lots: 1, devices: 1 });

    const err = await caught(state.portfolio.deletePortfolioItem('borrower', 'b1'));
    expect(err).toBeInstanceOf(RiskfuseError);
    expect(err).toMatchObject({
      code: 'CONFLICT',
      status: 409,
      details: { dependents: { sites: 1, lots: 1, devices: 1 } },
      message: 'borrower b1 still has 1 sites, 1 lots, 1 devices; delete or move them first',
    });
    expect(isConstraintError((err as Error).cause, 'foreign-key')).toBe(true);
    await expect(state.portfolio.deletePortfolioItem('lot', 'l1')).rejects.toMatchObject({
      code: 'CONFLICT',
      details: { dependents: { devices: 1 } },
    });
    expect(await state.portfolio.getBorrower('b1')).toBeDefined();
  });

  it('when items are deleted dependents first, then each delete succeeds once', async () => {
    const state = await open();
    expect(await state.portfolio.deletePortfolioItem('lot', 'l1')).toBe(true);
    expect(await state.portfolio.deletePortfolioItem('lot', 'l1')).toBe(false);
    expect(await state.portfolio.deletePortfolioItem('site', 's1')).toBe(true);
    expect(await state.portfolio.deletePortfolioItem('borrower', 'b1')).toBe(true);
    expect(await state.portfolio.listBorrowers()).toEqual([]);
  });

  it('when a refused delete is caught inside a transaction, then the transaction goes on and commits', async () => {
    const state = await open();
    await state.transaction(async () => {
      await expect(state.portfolio.deletePortfolioItem('site', 's1')).rejects.toMatchObject({
        code: 'CONFLICT',
        details: { dependents: { lots: 1 } },
      });
      // A refused statement aborts a whole PostgreSQL transaction unless it ran under a savepoint.
      await state.portfolio.upsertBorrowers([borrower('b2')]);
      expect(await state.portfolio.deletePortfolioItem('lot', 'l1')).toBe(true);
    });
    expect(await state.portfolio.getBorrower('b2')).toBeDefined();
    expect(await state.portfolio.getLot('l1')).toBeUndefined();
    expect(await state.portfolio.getSite('s1')).toBeDefined();
  });

  it('when borrowers are paged by name, then every one is seen once in order, and LIKE characters are literal', async () => {
    const state = await open();
    const names = ['delta', 'alpha', 'charlie', 'bravo', 'alpha', "x' OR 1=1 --", '100%_sure'];
    await state.portfolio.upsertBorrowers(
      names.map((name, i) => borrower(`bx${i}`, { name, sector: 'trading', region: 'r', createdAt: T0 + i })),
    );
    const expected = [...names.map((name, i) => `${name}/bx${i}`), 'Grain Co/b1'].sort(byteOrder);
    expect(await pageAll(state, { limit: 3, sort: 'name' })).toEqual(expected);
    expect(await pageAll(state, { limit: 2, sort: 'name', desc: true })).toEqual([...expected].reverse());
    const ids = async (q: BorrowerQuery) => (await state.portfolio.queryBorrowers(q)).map((b) => b.id);
    expect(await ids({ limit: 10, q: '%' })).toEqual(['bx6']);
    expect(await ids({ limit: 10, q: '_' })).toEqual(['bx6']);
    expect(await ids({ limit: 10, q: '0%_s' })).toEqual(['bx6']);
    expect(await ids({ limit: 10, q: "' OR 1=1 --" })).toEqual(['bx5']);
    expect(await ids({ limit: 2, sort: 'createdAt', desc: true })).toEqual(['bx6', 'bx5']);
  });

  it('when many borrowers share a sort value, then paging across them loses and repeats none', async () => {
    const state = await open();
    const same = Array.from({ length: 7 }, (_, i) =>
      borrower(`e${String(i)}`, { name: 'Same', createdAt: T0 + 100 }),
    );
    await state.portfolio.upsertBorrowers([...same, borrower('a0', { name: 'Aaa', createdAt: T0 + 200 })]);
    const all = [...same.map((b) => `Same/${b.id}`), 'Aaa/a0', 'Grain Co/b1'];
    for (const limit of [1, 2, 3, 5]) {
      for (const sort of ['name', 'createdAt', 'id'] as const) {
        for (const desc of [false, true]) {
          const seen = await pageAll(state, { limit, sort, desc });
          expect(seen, `${sort} ${desc ? 'desc' : 'asc'} by ${String(limit)}`).toHaveLength(all.length);
          expect(new Set(seen)).toEqual(new Set(all));
        }
      }
    }
    const byCreated = await pageAll(state, { limit: 2, sort: 'createdAt' });
    expect(byCreated).toEqual(['Grain Co/b1', ...same.map((b) => `Same/${b.id}`), 'Aaa/a0']);
  });

  it('when borrowers are searched, then ASCII case is ignored in name and id, other letters match as typed, and filters combine', async () => {
    const state = await open();
    await state.portfolio.upsertBorrowers([
      borrower('MILL-7', { name: 'Steel Mill', sector: 'manufacturing', region: 'south' }),
      borrower('b3', { name: 'Élan Coopérative', sector: 'agriculture', region: 'south' }),
    ]);
    const ids = async (q: BorrowerQuery) => (await state.portfolio.queryBorrowers(q)).map((b) => b.id);
    expect(await ids({ limit: 10, q: 'GRAIN' })).toEqual(['b1']);
    expect(await ids({ limit: 10, q: 'grain co' })).toEqual(['b1']);
    expect(await ids({ limit: 10, q: 'mill-7' })).toEqual(['MILL-7']);
    expect(await ids({ limit: 10, q: 'Élan' })).toEqual(['b3']);
    expect(await ids({ limit: 10, q: 'COOPé' })).toEqual(['b3']);
    // As SQLite's LIKE always did: only ASCII letters fold, whatever PostgreSQL's locale would do.
    expect(await ids({ limit: 10, q: 'élan' })).toEqual([]);
    expect(await ids({ limit: 10, q: 'l' })).toEqual(['MILL-7', 'b3']);
    expect(await ids({ limit: 10, q: 'l', sector: 'agriculture' })).toEqual(['b3']);
    expect(await ids({ limit: 10, region: 'south', sort: 'name' })).toEqual(['MILL-7', 'b3']);
    expect(await ids({ limit: 10, q: 'nothing like it' })).toEqual([]);
  });

  it('when ids differ in case and punctuation, then lists come in byte order on either engine', async () => {
    const state = await open();
    const ids = ['b-2', 'b1', 'B9', 'a', 'b_1', 'b10'];
    await state.portfolio.upsertBorrowers(ids.map((id) => borrower(id)));
    const sorted = [...ids, 'b1'].filter((v, i, a) => a.indexOf(v) === i).sort(byteOrder);
    expect((await state.portfolio.listBorrowers()).map((b: Borrower) => b.id)).toEqual(sorted);
    expect((await pageAll(state, { limit: 2 })).map((s) => s.split('/')[1])).toEqual(sorted);
  });

  it('when sites and lots are queried, then filters apply and pages follow the id', async () => {
    const state = await open();
    await state.portfolio.upsertBorrowers([borrower('b2')]);
    await state.portfolio.upsertSites([site('s2', 'b1'), site('s3', 'b2')]);
    await state.portfolio.upsertLots([lot('l2', 'b1', 's2'), lot('l3', 'b1', 's1'), lot('l4', 'b2', 's3')]);
    const siteIds = async (q: Parameters<State['portfolio']['querySites']>[0]) =>
      (await state.portfolio.querySites(q)).map((x) => x.id);
    expect(await siteIds({ limit: 10 })).toEqual(['s1', 's2', 's3']);
    expect(await siteIds({ limit: 10, borrowerId: 'b1' })).toEqual(['s1', 's2']);
    expect(await siteIds({ limit: 1, borrowerId: 'b1', afterId: 's1' })).toEqual(['s2']);
    const lotIds = async (q: Parameters<State['portfolio']['queryLots']>[0]) =>
      (await state.portfolio.queryLots(q)).map((x) => x.id);
    expect(await lotIds({ limit: 10, borrowerId: 'b1' })).toEqual(['l1', 'l2', 'l3']);
    expect(await lotIds({ limit: 10, siteId: 's1' })).toEqual(['l1', 'l3']);
    expect(await lotIds({ limit: 10, borrowerId: 'b1', siteId: 's1', afterId: 'l1' })).toEqual(['l3']);
    expect(await lotIds({ limit: 2, afterId: 'l2' })).toEqual(['l3', 'l4']);
    expect((await state.portfolio.listLots('b2')).map((x) => x.id)).toEqual(['l4']);
  });

  it('when the book is summarised, then counts, exposure per currency and collateral value are exact', async () => {
    const state = await open();
    await state.portfolio.upsertBorrowers([
      borrower('b2', { sector: 'manufacturing' }),
      borrower('b3', { sector: 'manufacturing' }),
    ]);
    await state.portfolio.upsertSites([site('s2', 'b2')]);
    await state.portfolio.upsertLots([
      lot('l2', 'b2', 's2', { pledgedWeightKg: 200, unitPricePerKg: 2.5, currency: 'USD' }),
      lot('l3', 'b1', 's1', { pledgedWeightKg: 500, unitPricePerKg: 0.4 }),
    ]);
    await state.devices.upsertDevices([device('d1'), device('d2'), device('d3')]);
    await state.devices.revokeDevice('d3', T0 + 1);
    const loan = (id: string, borrowerId: string, principal: number, currency: string, status: string) => ({
      id,
      borrowerId,
      principal,
      currency,
      annualRatePct: 8,
      startAt: T0,
      termDays: 360,
      status: status as 'active',
    });
    await state.loans.upsertLoans([
      loan('ln1', 'b1', 1000, 'EUR', 'active'),
      loan('ln2', 'b2', 500, 'EUR', 'active'),
      loan('ln3', 'b2', 300, 'USD', 'active'),
      loan('ln4', 'b3', 900, 'EUR', 'repaid'),
      loan('ln5', 'b3', 50, 'EUR', 'defaulted'),
    ]);
    await state.loans.upsertRepayments([
      { id: 'r1', loanId: 'ln1', dueAt: T0 + 1, amountDue: 100, paidAt: T0 + 1, amountPaid: 100 },
      { id: 'r2', loanId: 'ln1', dueAt: T0 + 2, amountDue: 100, amountPaid: 25 },
      { id: 'r3', loanId: 'ln2', dueAt: T0 + 1, amountDue: 60, amountPaid: 0 },
      { id: 'r4', loanId: 'ln4', dueAt: T0 + 1, amountDue: 999, amountPaid: 0 },
    ]);
    const summary = await state.portfolio.portfolioSummary();
    expect(summary).toMatchObject({
      borrowers: 3,
      bySector: { trading: 1, manufacturing: 2 },
      sites: 2,
      lots: 3,
      devices: { active: 2, revoked: 1 },
      loans: { active: 3, repaid: 1, defaulted: 1 },
    });
    expect(summary.exposure).toEqual([
      { currency: 'EUR', activeLoans: 2, principal: 1500, outstanding: 135 },
      { currency: 'USD', activeLoans: 1, principal: 300, outstanding: 0 },
    ]);
    expect(summary.collateralValue.map((c) => c.currency)).toEqual(['EUR', 'USD']);
    expect(summary.collateralValue[0]?.value).toBeCloseTo(300 + 200, 9);
    expect(summary.collateralValue[1]?.value).toBeCloseTo(500, 9);
  });

  it('when the book is empty, then the summary has zero counts and no currencies', async () => {
    const state = await backend.open();
    expect(await state.portfolio.portfolioSummary()).toEqual({
      borrowers: 0,
      bySector: {},
      sites: 0,
      lots: 0,
      devices: {},
      loans: {},
      exposure: [],
      collateralValue: [],
    });
  });
});
