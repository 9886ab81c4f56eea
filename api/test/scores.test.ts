import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { buildTestWorld, DAY_MS, type TestWorld } from '../../risk/test/support/world.js';
import { FEATURES } from '../../risk/index.js';
import { snapshot, startTestApi, type TestApi } from './support.js';

interface ScoreBody {
  borrowerId: string;
  pd: number;
  score: number;
  grade: string;
  modelVersion: string;
  trigger: string;
  reasons: { feature: string; contribution: number; text: string }[];
  contributions: Record<string, number>;
  onlineContribution: number;
  offlineContribution: number;
}

let w: TestWorld;
let t: TestApi;

beforeAll(async () => {
  w = await buildTestWorld({ borrowers: 20, days: 140, seed: 9 });
  t = await startTestApi({ state: w.state, telemetry: w.telemetry, withRisk: true });
  // The shipped default model is the champion; score the portfolio once, as the scoring service does.
  const run = await t.risk?.scoring.scorePortfolio('periodic');
  expect(run?.borrowers).toBeGreaterThan(10);
}, 120_000);

afterAll(async () => {
  await t?.close();
  await w?.close();
});

describe('score routes (risk module wired in)', () => {
  it('when an officer reads a borrower’s score, then it has PD, points, grade, model version, ≤ 4 reasons, and online + offline contributions that add up', async () => {
    const id = (await w.state.portfolio.listBorrowers())[0]?.id as string;
    const res = await t.app.inject({ url: `/v1/borrowers/${id}/score`, headers: t.auth('officer') });
    expect(res.statusCode).toBe(200);
    const s = res.json<ScoreBody>();
    expect(s).toMatchObject({ borrowerId: id, modelVersion: 'v1', trigger: 'periodic' });
    expect(s.pd).toBeGreaterThan(0);
    expect(s.pd).toBeLessThan(1);
    expect(s.grade).toMatch(/^[A-G]$/);
    expect(s.reasons.length).toBeLessThanOrEqual(4);
    expect(Object.keys(s.contributions).sort()).toEqual(FEATURES.map((f) => f.name).sort());
    const total = Object.values(s.contributions).reduce((a, b) => a + b, 0);
    expect(s.onlineContribution + s.offlineContribution).toBeCloseTo(total, 9);
  });

  it('when a score is read again, then the same bytes are served without reading it whole; a newer score stored elsewhere is served at once', async () => {
    const id = (await w.state.portfolio.listBorrowers())[2]?.id as string;
    const url = `/v1/borrowers/${id}/score`;
    const first = await t.app.inject({ url, headers: t.auth('officer') });
    expect(first.statusCode).toBe(200);
    const wide = vi.spyOn(w.state.scores, 'latestScores');
    try {
      const again = await t.app.inject({ url, headers: t.auth('auditor') });
      expect(again.statusCode).toBe(200);
      expect(again.headers['content-type']).toBe('application/json; charset=utf-8');
      expect(again.body).toBe(first.body);
      expect(wide).not.toHaveBeenCalled();
      // Another process (the elected scorer) stores a newer score straight into the state.
      const stored = (await w.state.scores.latestScores({ borrowerIds: [id] }))[0];
      if (stored === undefined) throw new Error('no stored score');
      await w.state.scores.addScores([
        { ...stored, at: stored.at + 60_000, pd: stored.pd / 2, trigger: 'on-demand' },
      ]);
      const next = await t.app.inject({ url, headers: t.auth('officer') });
      expect(next.json<ScoreBody & { at: number }>()).toMatchObject({
        at: stored.at + 60_000,
        pd: stored.pd / 2,
        trigger: 'on-demand',
      });
      // The same record rewritten in place (same time and model, another PD) is not served from before either.
      await w.state.scores.addScores([
        { ...stored, at: stored.at + 60_000, pd: stored.pd / 3, trigger: 'on-demand' },
      ]);
      const rewritten = await t.app.inject({ url, headers: t.auth('officer') });
      expect(rewritten.json<ScoreBody>().pd).toBe(stored.pd / 3);
    } finally {
      wide.mockRestore();
    }
  });

  it('when the portfolio summary is read, then it counts borrowers by the grade of their latest score', async () => {
    const res = await t.app.inject({ url: '/v1/portfolio/summary', headers: t.auth('officer') });
    expect(res.statusCode).toBe(200);
    const byGrade = res.json<{ byGrade: Record<string, number> }>().byGrade;
    const latest = (await t.risk?.scores.latestScores()) ?? [];
    expect(Object.values(byGrade).reduce((a, b) => a + b, 0)).toBe(latest.length);
    for (const s of latest) expect(byGrade[s.grade]).toBeGreaterThan(0);
  });

  it('when the portfolio ranking is paged, then it is ordered riskiest first and the pages join up without gaps', async () => {
    const all: ScoreBody[] = [];
    let cursor: string | undefined;
    do {
      const res = await t.app.inject({
        url: `/v1/scores?limit=7${cursor === undefined ? '' : `&cursor=${cursor}`}`,
        headers: t.auth('auditor'),
      });
      expect(res.statusCode).toBe(200);
      const page = res.json<{ items: ScoreBody[]; nextCursor?: string }>();
      all.push(...page.items);
      cursor = page.nextCursor;
    } while (cursor !== undefined);
    const latest = (await t.risk?.scores.latestScores()) ?? [];
    expect(all.map((s) => s.borrowerId).sort()).toEqual(latest.map((s) => s.borrowerId).sort());
    for (let i = 1; i < all.length; i++) expect(all[i - 1]?.pd).toBeGreaterThanOrEqual(all[i]?.pd as number);
    const grade = all[0]?.grade as string;
    const filtered = await t.app.inject({ url: `/v1/scores?grade=${grade}`, headers: t.auth('officer') });
    expect(filtered.json<{ items: ScoreBody[] }>().items.every((s) => s.grade === grade)).toBe(true);
  });

  it('when an officer re-scores a borrower, then a new on-demand score is stored, history shows it first, and the audit log has it', async () => {
    const id = (await w.state.portfolio.listBorrowers())[1]?.id as string;
    const res = await t.app.inject({
      method: 'POST',
      url: `/v1/borrowers/${id}/rescore`,
      headers: t.auth('officer'),
    });
    expect(res.statusCode).toBe(200);
    expect(res.json<ScoreBody>()).toMatchObject({ borrowerId: id, trigger: 'on-demand', modelVersion: 'v1' });
    const history = await t.app.inject({
      url: `/v1/borrowers/${id}/scores?limit=10`,
      headers: t.auth('officer'),
    });
    const items = history.json<{ items: ScoreBody[] }>().items;
    expect(items.length).toBe(2);
    expect(items[0]?.trigger).toBe('on-demand');
    const audit = await t.app.inject({ url: '/v1/audit?resource=score', headers: t.auth('auditor') });
    expect(audit.body).toContain(id);
  });

  it('when models are listed and activated, then readers see the registry and only an admin may change the champion', async () => {
    const list = await t.app.inject({ url: '/v1/models', headers: t.auth('auditor') });
    expect(list.statusCode).toBe(200);
    const models = list.json<{
      items: { version: string; status: string; meta: { metrics?: { auc?: number } } }[];
    }>().items;
    expect(models).toHaveLength(1);
    expect(models[0]).toMatchObject({ version: 'v1', status: 'champion' });
    expect(models[0]?.meta.metrics?.auc).toBeGreaterThan(0.5);
    expect(list.body).not.toContain('artifactPath');
    const officer = await t.app.inject({
      method: 'POST',
      url: '/v1/models/v1/activate',
      headers: t.auth('officer'),
    });
    expect(officer.statusCode).toBe(403);
    const admin = await t.app.inject({
      method: 'POST',
      url: '/v1/models/v1/activate',
      headers: t.auth('admin'),
    });
    expect(admin.statusCode).toBe(200);
    expect(admin.json()).toMatchObject({ version: 'v1', status: 'champion' });
  });

  it('when ids or parameters are wrong, then 4xx problems and nothing changes', async () => {
    const before = await snapshot(w.state);
    const first = (await w.state.portfolio.listBorrowers())[0]?.id ?? '';
    const cases: [string, string, number][] = [
      ['GET', '/v1/borrowers/nobody/score', 404],
      ['GET', "/v1/borrowers/b01'%20OR%201=1/score", 400],
      ['POST', '/v1/borrowers/nobody/rescore', 404],
      ['GET', '/v1/models/v999', 404],
      ['GET', '/v1/models/latest', 400],
      ['POST', '/v1/models/v999/activate', 404],
      ['GET', '/v1/scores?minPd=2', 400],
      ['GET', '/v1/scores?grade=Z', 400],
      ['GET', '/v1/scores?cursor=bm90LWEta2V5', 400],
      ['GET', `/v1/borrowers/${first}/scores?from=${w.toMs}&to=${w.toMs - DAY_MS}`, 400],
      ['GET', `/v1/borrowers/${first}/scores?limit=0`, 400],
    ];
    for (const [method, url, status] of cases) {
      const res = await t.app.inject({ method: method as 'GET', url, headers: t.auth('admin') });
      expect(res.statusCode, `${method} ${url}`).toBe(status);
      expect(res.headers['content-type'], url).toMatch(/^application\/problem\+json/);
    }
    expect(await snapshot(w.state)).toEqual(before);
  });
});
