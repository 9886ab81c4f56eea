import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ScoreRecord } from '../../core/state/index.js';
import { FEATURE_NAMES } from '../../risk/index.js';
import { buildTestWorld, DAY_MS, type TestWorld } from '../../risk/test/support/world.js';
import { snapshot, startTestApi, type TestApi } from './support.js';

interface Row {
  borrowerId: string;
  name: string;
  score?: { pd: number; grade: string; at: number; modelVersion: string };
  trend: { at: number; pd: number }[];
  exposure: { currency: string; outstanding: number }[];
  coverage: number | null;
  openAlerts: number | null;
  credit: {
    ead: number;
    claimedCoverage: number | null;
    verifiedCoverage: number | null;
    lgd: number;
    el: number | null;
    policyStatus: string;
    breaches: string[];
  } | null;
}
interface Page {
  items: Row[];
  total: number;
  nextCursor?: string;
}

let w: TestWorld;
let t: TestApi;
let scoredAt = 0;

beforeAll(async () => {
  w = await buildTestWorld({ borrowers: 20, days: 140, seed: 9 });
  // Scored at the end of the simulated period, so the devices' readings are recent enough to count.
  t = await startTestApi({
    state: w.state,
    telemetry: w.telemetry,
    withRisk: true,
    riskNow: () => w.toMs,
  });
  const run = await t.risk?.scoring.scorePortfolio('periodic');
  expect(run?.borrowers).toBeGreaterThan(10);
  scoredAt = run?.at ?? 0;
}, 120_000);

afterAll(async () => {
  await t?.close();
  await w?.close();
});

const get = async (url: string, role: 'officer' | 'auditor' | 'admin' = 'officer') => {
  const res = await t.app.inject({ url, headers: t.auth(role) });
  return { status: res.statusCode, body: res.json<Page>() };
};

async function all(query: string): Promise<Row[]> {
  const rows: Row[] = [];
  let cursor: string | undefined;
  do {
    const res = await get(
      `/v1/portfolio/borrowers?limit=6&${query}${cursor === undefined ? '' : `&cursor=${cursor}`}`,
    );
    expect(res.status).toBe(200);
    rows.push(...res.body.items);
    cursor = res.body.nextCursor;
  } while (cursor !== undefined);
  return rows;
}

const total = (r: Row) => r.exposure.reduce((a, e) => a + e.outstanding, 0);

describe('GET /v1/portfolio/borrowers (the dashboard’s portfolio table)', () => {
  it('when read unfiltered, then every borrower is listed once, riskiest first, with the unscored ones last, and the pages join up', async () => {
    const rows = await all('');
    const borrowers = await w.state.portfolio.listBorrowers();
    expect(rows.map((r) => r.borrowerId).sort()).toEqual(borrowers.map((b) => b.id).sort());
    const latest = new Map(((await t.risk?.scores.latestScores()) ?? []).map((s) => [s.borrowerId, s]));
    const scored = rows.filter((r) => r.score !== undefined);
    expect(scored.length).toBe(latest.size);
    // Unscored borrowers (no active loan) come after every scored one.
    expect(rows.slice(0, scored.length).every((r) => r.score !== undefined)).toBe(true);
    for (let i = 1; i < scored.length; i++) {
      expect(scored[i - 1]?.score?.pd).toBeGreaterThanOrEqual(scored[i]?.score?.pd as number);
    }
    for (const r of scored) expect(r.score?.pd).toBe(latest.get(r.borrowerId)?.pd);
    const first = await get('/v1/portfolio/borrowers?limit=3');
    expect(first.body.total).toBe(borrowers.length);
    expect(first.body.items).toHaveLength(3);
  });

  it('when a borrower is scored, then its row carries the exposure of its active loans, the coverage the model saw and its open alerts', async () => {
    const rows = await all('');
    const active = new Set(
      (await w.state.loans.listLoans()).filter((l) => l.status === 'active').map((l) => l.id),
    );
    const withCoverage = rows.filter((r) => r.coverage !== null);
    expect(withCoverage.length).toBeGreaterThan(0);
    for (const r of rows) {
      // Exposure: due − paid over the schedules of the borrower's active loans.
      let due = 0;
      for (const l of await w.state.loans.listLoans(r.borrowerId)) {
        if (!active.has(l.id)) continue;
        for (const p of await w.state.loans.listRepayments(l.id)) due += p.amountDue - p.amountPaid;
      }
      expect(total(r)).toBeCloseTo(due, 6);
      const s = (await t.risk?.scores.latestScores({ borrowerIds: [r.borrowerId] }))?.[0];
      const seen = s?.features?.collateral_coverage;
      expect(r.coverage).toBe(typeof seen === 'number' ? seen : null);
      expect(r.openAlerts).toBe(0);
    }
    const target = withCoverage[0] as Row;
    for (let i = 0; i < 3; i++) {
      await t.alerts.service.open({
        ruleId: 'tamper',
        severity: 'critical',
        subjectKind: 'device',
        subjectId: `pb-dev-${i}`,
        borrowerId: target.borrowerId,
        deviceId: `pb-dev-${i}`,
        title: `tamper ${i}`,
        evidence: {},
        at: scoredAt + i,
      });
    }
    const [resolved] = await t.alerts.service.list({ limit: 1, subjectId: 'pb-dev-2' });
    await t.alerts.service.resolve(resolved?.id ?? '', 'test', 'fixed', scoredAt + 10);
    const byAlerts = (await get('/v1/portfolio/borrowers?sort=openAlerts&limit=2')).body.items;
    expect(byAlerts[0]).toMatchObject({ borrowerId: target.borrowerId, openAlerts: 2 });
    expect(byAlerts[1]?.openAlerts).toBe(0);
  });

  it('when the credit monitor has computed the simulated book, then each row carries EAD, claimed vs verified coverage, LGD, EL and policy status', async () => {
    expect((await all('')).every((r) => r.credit === null)).toBe(true);
    await t.credit.monitor.start();
    const rows = await all('');
    const withLots = rows.filter((r) => r.credit !== null && (r.credit.claimedCoverage ?? 0) > 0);
    expect(withLots.length).toBeGreaterThan(5);
    for (const r of withLots) {
      const c = r.credit as NonNullable<Row['credit']>;
      // Verified never exceeds claimed (only the pledged weight counts), and EL = PD × LGD × EAD.
      expect(c.verifiedCoverage ?? 0).toBeLessThanOrEqual((c.claimedCoverage ?? 0) + 1e-9);
      if (r.score !== undefined) expect(c.el).toBeCloseTo(r.score.pd * c.lgd * c.ead, 6);
      expect(c.policyStatus).toBe(c.breaches.length > 0 ? 'breached' : 'ok');
    }
    // The world's stakes report recent weights inside their fences for most lots: most are verified.
    expect(withLots.filter((r) => (r.credit?.verifiedCoverage ?? 0) > 0).length).toBeGreaterThan(
      withLots.length / 2,
    );
  });

  it('when the scoring service stores a champion score, then it keeps every model input, and the score route returns them', async () => {
    const s = (await t.risk?.scores.latestScores())?.[0] as ScoreRecord;
    expect(Object.keys(s.features ?? {}).sort()).toEqual([...FEATURE_NAMES].sort());
    const res = await t.app.inject({
      url: `/v1/borrowers/${s.borrowerId}/score`,
      headers: t.auth('auditor'),
    });
    expect(res.json<{ features: Record<string, number | null> }>().features).toEqual(s.features);
  });

  it('when sorted by exposure, coverage, name, EL or verified coverage in either order, then the rows follow the key with missing values last, across pages', async () => {
    const check = async (query: string, key: (r: Row) => number | string | null, asc: boolean) => {
      const rows = await all(query);
      expect(rows).toHaveLength((await w.state.portfolio.listBorrowers()).length);
      const keys = rows.map(key);
      const present = keys.filter((k) => k !== null);
      expect(keys.slice(0, present.length).every((k) => k !== null)).toBe(true);
      for (let i = 1; i < present.length; i++) {
        const [a, b] = [present[i - 1] as number | string, present[i] as number | string];
        const c = typeof a === 'number' ? a - (b as number) : a.localeCompare(b as string);
        if (asc) expect(c).toBeLessThanOrEqual(0);
        else expect(c).toBeGreaterThanOrEqual(0);
      }
      return rows;
    };
    const exp = (r: Row) => (r.exposure.length === 0 ? null : total(r));
    const desc = await check('sort=exposure', exp, false);
    const asc = await check('sort=exposure&order=asc', exp, true);
    expect(desc[0]?.borrowerId).not.toBe(asc[0]?.borrowerId);
    await check('sort=coverage', (r) => r.coverage, true);
    await check('sort=coverage&order=desc', (r) => r.coverage, false);
    await check('sort=name', (r) => r.name, true);
    await check('sort=pd&order=asc', (r) => r.score?.pd ?? null, true);
    // The credit figures (computed by the monitor in the test before): EL riskiest first, verified coverage
    // thinnest first, borrowers without figures last.
    const byEl = await check('sort=el', (r) => r.credit?.el ?? null, false);
    expect(byEl.filter((r) => r.credit?.el !== undefined && r.credit.el !== null).length).toBeGreaterThan(5);
    await check('sort=el&order=asc', (r) => r.credit?.el ?? null, true);
    await check('sort=verifiedCoverage', (r) => r.credit?.verifiedCoverage ?? null, true);
  });

  it('when searched by part of a name (any case) or filtered by grade, then only matching borrowers are listed and counted', async () => {
    const b = (await w.state.portfolio.listBorrowers())[3];
    if (b === undefined) throw new Error('world has too few borrowers');
    const part = b.name.slice(1, Math.min(b.name.length, 6)).toUpperCase();
    const found = await get(`/v1/portfolio/borrowers?q=${encodeURIComponent(part)}`);
    const expected = (await w.state.portfolio.listBorrowers()).filter(
      (x) =>
        x.name.toLowerCase().includes(part.toLowerCase()) || x.id.toLowerCase().includes(part.toLowerCase()),
    );
    expect(found.body.items.map((r) => r.borrowerId).sort()).toEqual(expected.map((x) => x.id).sort());
    expect(found.body.total).toBe(expected.length);
    expect(
      (await get(`/v1/portfolio/borrowers?q=${encodeURIComponent(b.id)}`)).body.items[0]?.borrowerId,
    ).toBe(b.id);
    expect((await get('/v1/portfolio/borrowers?q=no-such-borrower-anywhere')).body).toEqual({
      items: [],
      total: 0,
    });
    const grade = (await get('/v1/portfolio/borrowers?limit=1')).body.items[0]?.score?.grade as string;
    const graded = await all(`grade=${grade}`);
    expect(graded.length).toBeGreaterThan(0);
    expect(graded.every((r) => r.score?.grade === grade)).toBe(true);
  });

  it('when a borrower has scores on several days, then its trend is the last score of each day in the window, oldest first', async () => {
    const s = (await t.risk?.scores.latestScores())?.[0] as ScoreRecord;
    const older = (days: number, hours: number, pd: number): ScoreRecord => ({
      ...s,
      at: s.at - days * DAY_MS - hours * 3_600_000,
      pd,
      trigger: 'periodic',
    });
    // Two scores on one earlier day (the later one counts), one on another, one outside a 10-day window.
    await t.risk?.scores.addScores([
      older(3, 2, 0.11),
      older(3, 1, 0.12),
      older(5, 0, 0.2),
      older(40, 0, 0.9),
    ]);
    const rows = await all(`q=${encodeURIComponent(s.borrowerId)}&trendDays=10`);
    const row = rows.find((r) => r.borrowerId === s.borrowerId);
    const dayOf = (at: number) => Math.floor(at / DAY_MS);
    const pdOfDay = new Map(row?.trend.map((p) => [dayOf(p.at), p.pd]));
    expect(pdOfDay.get(dayOf(s.at - 3 * DAY_MS - 3_600_000))).toBe(0.12);
    expect(pdOfDay.get(dayOf(s.at - 5 * DAY_MS))).toBe(0.2);
    expect(row?.trend.some((p) => p.pd === 0.9)).toBe(false);
    expect(row?.trend.at(-1)).toEqual({ at: s.at, pd: s.pd });
    const ats = row?.trend.map((p) => p.at) ?? [];
    expect(ats).toEqual([...ats].sort((a, b) => a - b));
    const wide = (await all(`q=${encodeURIComponent(s.borrowerId)}&trendDays=60`)).find(
      (r) => r.borrowerId === s.borrowerId,
    );
    expect(wide?.trend.some((p) => p.pd === 0.9)).toBe(true);
    // The borrower's history one score a day (what the dashboard charts), newest first, whole scores.
    const daily = await t.app.inject({
      url: `/v1/borrowers/${s.borrowerId}/scores?per=day&from=${s.at - 10 * DAY_MS}&to=${s.at + 1}`,
      headers: t.auth('officer'),
    });
    expect(daily.statusCode).toBe(200);
    const items = daily.json<{ items: { at: number; pd: number; modelVersion: string }[] }>().items;
    expect(items.map((i) => i.pd)).toEqual([...(row?.trend ?? [])].reverse().map((p) => p.pd));
    expect(items[0]).toMatchObject({ at: s.at, modelVersion: s.modelVersion });
    const mixed = await t.app.inject({
      url: `/v1/borrowers/${s.borrowerId}/scores?per=day&shadow=true`,
      headers: t.auth('officer'),
    });
    expect(mixed.statusCode).toBe(400);
  });

  it('when the query is bad (unknown sort, limit 0, trendDays 400, unknown field, forged or foreign cursor), then 400 and nothing changes', async () => {
    const before = await snapshot(t.state);
    const next = (await get('/v1/portfolio/borrowers?limit=2&sort=name')).body.nextCursor as string;
    for (const q of [
      'sort=risk',
      'limit=0',
      'trendDays=400',
      'order=up',
      'grade=Z',
      'foo=1',
      'q=',
      'cursor=not*a*cursor',
      `cursor=${Buffer.from('[1,2]').toString('base64url')}`,
      `cursor=${next}`,
    ]) {
      const res = await t.app.inject({ url: `/v1/portfolio/borrowers?${q}`, headers: t.auth('officer') });
      expect(res.statusCode, q).toBe(400);
      expect(res.headers['content-type']).toContain('application/problem+json');
    }
    expect((await get(`/v1/portfolio/borrowers?limit=2&sort=name&cursor=${next}`)).status).toBe(200);
    expect(await snapshot(t.state)).toEqual(before);
  });
});
