import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  actOn,
  attrs,
  checkMap,
  fleetCountsAsGiven,
  shownIds,
  sortBy,
  type MapDevice,
  type MapSite,
} from './support/dashboard.js';
import { requireChromiumOrSkip, startPlatform, type Platform } from './support/platform.js';

const SCREENSHOTS = fileURLToPath(new URL('../../reports/screenshots/', import.meta.url));

describe.skipIf(requireChromiumOrSkip())('dashboard in headless Chromium against `riskfuse start`', () => {
  let platform: Platform;
  let proc: Platform['proc'];
  let browser: Browser;
  let apiUrl = '';
  let adminKey = '';

  interface PortfolioRow {
    borrowerId: string;
    name: string;
    score?: { pd: number };
    exposure: { currency: string; outstanding: number }[];
  }
  interface Alert {
    id: string;
    status: string;
    acknowledgedAt?: number;
    resolvedBy?: string;
    resolveComment?: string;
  }

  /** The API as the admin: the test's source of truth for what the page shows. */
  const api = <T>(path: string, init: { method?: string; body?: unknown } = {}): Promise<T> =>
    platform.api<T>(path, init);

  beforeAll(async () => {
    mkdirSync(SCREENSHOTS, { recursive: true });
    platform = await startPlatform();
    ({ proc, browser, apiUrl, adminKey } = platform);
    // Readings of all three kinds stored (the start-up line says so), so the device charts have data to draw,
    // and the shipped model has scored the demo world (until then rows have no grade).
    await proc.waitFor(/stake [1-9][\d,]* · helmet [1-9][\d,]* · satellite [1-9][\d,]*/, 60_000);
    const scoredBy = Date.now() + 60_000;
    while (
      (await api<{ items: PortfolioRow[] }>('/v1/portfolio/borrowers?limit=1')).items[0]?.score === undefined
    ) {
      if (Date.now() > scoredBy) throw new Error('the demo world was not scored within 60 s of its readings');
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
  }, 210_000);

  afterAll(async () => {
    await platform?.close();
  });

  const shot = (page: Page, name: string) =>
    page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true });

  /** A page logged in as the admin, collecting the page's script errors. */
  async function adminPage(): Promise<{ page: Page; errors: string[]; close: () => Promise<void> }> {
    const context = await platform.loggedIn(adminKey);
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (err) => errors.push(err.stack ?? err.message));
    return { page, errors, close: () => context.close() };
  }

  it('when an admin logs in with the printed key, then the portfolio sorts by exposure and by PD as the API does, and searches by part of a name', async () => {
    expect(adminKey).toMatch(/^rfk_/);
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const errors: string[] = [];
    page.on('pageerror', (err) => errors.push(err.stack ?? err.message));
    await page.goto(`${apiUrl}/`);
    expect(page.url()).toMatch(/\/dashboard\/(#\/login)?$/);
    await page.waitForSelector('#api-key');
    await shot(page, '1-login');
    await page.fill('#api-key', adminKey);
    await page.click('#login button[type=submit]');
    await page.waitForSelector('main[data-ready="/portfolio"]');
    await expect.poll(() => page.locator('#ranking tbody tr .grade').count()).toBeGreaterThan(0);
    await expect.poll(() => page.locator('#summary .grade').count()).toBeGreaterThan(0);
    const total = (await api<{ total: number }>('/v1/portfolio/borrowers?limit=1')).total;
    expect(await page.locator('#total').textContent()).toContain(`of ${total} borrower`);
    await shot(page, '2-portfolio');
    // Sorted by exposure (largest first): the rows are the API's, in order of outstanding amount.
    await sortBy(page, 'exposure', 'descending');
    expect(page.url()).toContain('sort=exposure');
    const byExposure = await api<{ items: PortfolioRow[] }>(
      '/v1/portfolio/borrowers?sort=exposure&order=desc&limit=50',
    );
    expect(await shownIds(page)).toEqual(byExposure.items.map((r) => r.borrowerId));
    const outstanding = byExposure.items
      .filter((r) => r.exposure.length > 0)
      .map((r) => r.exposure.reduce((sum, e) => sum + e.outstanding, 0));
    expect(outstanding.length).toBeGreaterThan(0);
    expect(outstanding).toEqual([...outstanding].sort((a, b) => b - a));
    // Rows without exposure come last.
    const firstEmpty = byExposure.items.findIndex((r) => r.exposure.length === 0);
    if (firstEmpty >= 0)
      expect(byExposure.items.slice(firstEmpty).every((r) => r.exposure.length === 0)).toBe(true);
    await shot(page, '2a-portfolio-by-exposure');

    // Back to PD, riskiest first: the PDs shown never rise down the table, unscored rows last.
    await sortBy(page, 'pd', 'descending');
    const pdCells = await page.locator('#ranking tbody tr td:nth-child(3)').allTextContents();
    const pds = pdCells.filter((t) => t !== '—').map((t) => parseFloat(t));
    expect(pds.length).toBeGreaterThan(0);
    expect(pds).toEqual([...pds].sort((a, b) => b - a));
    expect(pdCells.slice(pds.length).every((t) => t === '—')).toBe(true);
    const riskiest =
      (await page.locator('#ranking tbody tr[data-borrower]').first().getAttribute('data-borrower')) ?? '';
    const riskiestName = (await page.locator('#ranking tbody tr a.borrower').first().textContent()) ?? '';
    expect(riskiestName).not.toBe('');

    // Search by part of the name (a word of it, in other case): the riskiest borrower is among the hits.
    const part =
      riskiestName
        .split(/\s+/)
        .sort((a, b) => b.length - a.length)[0]
        ?.toUpperCase() ?? '';
    await page.fill('#search', part);
    await page.waitForSelector(`#ranking[data-q="${part}"][aria-busy="false"]`);
    const hits = await page.locator('#ranking tbody tr a.borrower').allTextContents();
    expect(hits.length).toBeGreaterThan(0);
    expect(hits.every((name) => name.toUpperCase().includes(part))).toBe(true);
    expect(await shownIds(page)).toContain(riskiest);
    expect(page.url()).toContain(`q=${encodeURIComponent(part)}`);
    await shot(page, '2b-portfolio-search');
    expect(errors.join('\n\n')).toBe('');
    await page.close();
  }, 120_000);

  it('when the riskiest borrower is opened, then its page shows its chart, reasons and inputs, its map zooms to each site with markers sized to the zoom, and the worker-hours of its sites as the API answered', async () => {
    const riskiest = (await api<{ items: PortfolioRow[] }>('/v1/portfolio/borrowers?limit=1')).items[0];
    expect(riskiest).toBeDefined();
    const { borrowerId, name } = riskiest as PortfolioRow;
    const { page, errors, close } = await adminPage();
    // Every worker-hours answer the page received, in order (the chart shows the last).
    const workerHours: { url: string; totalHours: number; helmets: number }[] = [];
    page.on('response', (res) => {
      if (!res.url().includes('/worker-hours') || !res.ok()) return;
      res.json().then(
        (body: { totalHours: number; helmets: number }) =>
          workerHours.push({ url: res.url(), totalHours: body.totalHours, helmets: body.helmets }),
        () => undefined,
      );
    });
    // The sites and devices the page is given, for the map checks.
    const answer = async <T>(path: string) =>
      (await (
        await page.waitForResponse(
          (res) => new URL(res.url()).pathname === path && res.url().includes(`borrowerId=${borrowerId}`),
          { timeout: 30_000 },
        )
      ).json()) as { items: T[] };
    const mapData = Promise.all([answer<MapSite>('/v1/sites'), answer<MapDevice>('/v1/devices')]).then(
      ([sites, devices]) => ({ sites: sites.items, devices: devices.items }),
    );
    await page.goto(`${apiUrl}/dashboard/#/borrower/${borrowerId}`);
    await page.waitForSelector('main[data-ready^="/borrower"]');
    expect(await page.locator('h1').textContent()).toContain(name);
    expect(await page.locator('h1').textContent()).toContain(borrowerId);
    await page.waitForSelector('#history .uplot');
    await page.waitForSelector('#reasons li');
    expect(await page.locator('#reasons li').count()).toBeGreaterThan(0);
    // The model's inputs at scoring time, each with its contribution.
    const inputs = Object.keys(
      (await api<{ features?: object }>(`/v1/borrowers/${borrowerId}/score`)).features ?? {},
    );
    expect(inputs.length).toBeGreaterThan(0);
    expect(await page.locator('#inputs tbody tr').count()).toBe(inputs.length);
    await page.waitForSelector('#map path.leaflet-interactive');
    await checkMap(page, await mapData);
    await page.waitForSelector('#readings .uplot', { timeout: 20_000 });
    // On-site worker-hours of the first staffed site: the chart, and the total the API answered for it. The
    // demo is still replaying past days, so the same window's total grows from one request to the next: the
    // page must show the answer it got (captured below), and a later request can only report as much or more.
    await page.waitForSelector('#workers .uplot', { timeout: 20_000 });
    const siteId = await page.locator('#worker-site').inputValue();
    const shown = Number(
      /([\d.]+) worker-hours/.exec((await page.locator('#worker-total').textContent()) ?? '')?.[1],
    );
    const ofSite = () => workerHours.filter((w) => w.url.includes(`/v1/sites/${siteId}/worker-hours`));
    await expect.poll(() => ofSite().length).toBeGreaterThan(0);
    const answered = ofSite().at(-1);
    expect(answered).toBeDefined();
    expect(answered?.helmets).toBeGreaterThan(0);
    expect(shown).toBeCloseTo(answered?.totalHours ?? NaN, 1);
    const whRes = await fetch(answered?.url ?? '', { headers: { authorization: `Bearer ${adminKey}` } });
    const wh = (await whRes.json()) as { totalHours: number; helmets: number };
    expect(wh.totalHours).toBeGreaterThanOrEqual(shown - 0.05);
    await shot(page, '3-borrower');
    expect(errors.join('\n\n')).toBe('');
    await close();
  }, 120_000);

  it('when an officer works the alerts page, then a live alert is acknowledged through the dialog, and another is resolved only with a comment, stored with who resolved it', async () => {
    const { page, errors, close } = await adminPage();
    await page.goto(`${apiUrl}/dashboard/#/alerts`);
    await page.waitForSelector('main[data-ready="/alerts"]');
    await page.waitForSelector('#stream-status:has-text("connected")');
    // An alert that arrives on the live stream (the demo world's engine opens them as readings come in),
    // acknowledged through the dialog without a comment. The demo world's rules auto-resolve when the
    // condition clears, sometimes before the click lands: then the next live alert is taken.
    let acknowledged: string | undefined;
    const deadline = Date.now() + 120_000;
    while (acknowledged === undefined && Date.now() < deadline) {
      const live = page.locator('#alerts tbody tr.live[data-status="open"]').first();
      await live.waitFor({ timeout: deadline - Date.now() });
      await shot(page, '4-alerts-live');
      const id = ((await live.getAttribute('id')) ?? '').replace(/^alert-/, '');
      if (await actOn(page, api, id, 'ack')) acknowledged = id;
    }
    expect(acknowledged).toBeDefined();
    // Acknowledged by the click; the condition may have cleared since (auto-resolve keeps acknowledgedAt).
    expect((await api<Alert>(`/v1/alerts/${acknowledged ?? ''}`)).acknowledgedAt).toBeDefined();
    await shot(page, '5-alert-acknowledged');

    // Resolve through the dialog: a blank comment is refused in the dialog, a real one is stored with who.
    const me = await api<{ id: string }>('/v1/me');
    const comment = `e2e: collateral checked on site ${Date.now()}`;
    let resolved: string | undefined;
    while (resolved === undefined && Date.now() < deadline + 60_000) {
      const row = page.locator('#alerts tbody tr:has(button.resolve)').first();
      await row.waitFor({ timeout: 30_000 });
      const id = ((await row.getAttribute('id')) ?? '').replace(/^alert-/, '');
      try {
        await page.click(`#alert-${id} button.resolve`, { timeout: 5000 });
        await page.waitForSelector('#action-dialog[open]', { timeout: 5000 });
      } catch {
        // The row went before the click landed (its rule resolved it, the live list moved): take the next.
        continue;
      }
      expect(await page.locator('#action-comment:focus').count()).toBe(1);
      await page.fill('#action-comment', '   ');
      await page.click('#action-dialog button[type=submit]');
      await page.waitForSelector('#action-dialog .error:has-text("comment is required")');
      await shot(page, '5b-resolve-dialog');
      await page.keyboard.press('Escape');
      await page.waitForSelector('#action-dialog', { state: 'detached' });
      if (await actOn(page, api, id, 'resolve', comment)) resolved = id;
    }
    expect(resolved).toBeDefined();
    const stored = await api<Alert>(`/v1/alerts/${resolved ?? ''}`);
    expect(stored).toMatchObject({ status: 'resolved', resolveComment: comment, resolvedBy: me.id });
    await shot(page, '5c-alert-resolved');
    expect(errors.join('\n\n')).toBe('');
    await close();
  }, 300_000);

  it('when the devices page opens, then its fleet-wide and per-kind counts are those of the summary it was given, and the presence filter shows only online devices', async () => {
    const { page, errors, close } = await adminPage();
    await expect
      .poll(() => fleetCountsAsGiven(page, apiUrl), { timeout: 20_000, interval: 1000 })
      .toBe('equal');
    expect(await page.locator('#devices tbody tr').count()).toBeGreaterThan(0);
    await shot(page, '6-devices');
    await page.selectOption('#presence-filter', 'online');
    await page.waitForSelector('main[data-ready="/devices"] #presence-filter');
    expect(page.url()).toContain('presence=online');
    const presences = await attrs(page, '#devices tbody tr[data-presence]', 'data-presence');
    expect(presences.length).toBeGreaterThan(0);
    expect(new Set(presences)).toEqual(new Set(['online']));
    await shot(page, '6b-devices-online');
    expect(errors.join('\n\n')).toBe('');
    await close();
  }, 60_000);

  it('when the dashboard is used on a tablet (portrait and landscape), then no page scrolls sideways and the charts fit their cards after rotation', async () => {
    const riskiest =
      (await api<{ items: PortfolioRow[] }>('/v1/portfolio/borrowers?limit=1')).items[0]?.borrowerId ?? '';
    expect(riskiest).not.toBe('');
    const context = await browser.newContext({ viewport: { width: 768, height: 1024 }, hasTouch: true });
    await context.addInitScript(`sessionStorage.setItem('riskfuse.apiKey', ${JSON.stringify(adminKey)})`);
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (err) => errors.push(err.stack ?? err.message));
    const sideways = () => page.evaluate<number>('document.documentElement.scrollWidth - window.innerWidth');
    const pages: [string, string, string][] = [
      ['portfolio', '#/portfolio', '#ranking .spark'],
      ['borrower', `#/borrower/${riskiest}`, '#readings .uplot'],
      ['alerts', '#/alerts', '#alerts'],
      ['devices', '#/devices', '#devices'],
    ];
    try {
      for (const [orientation, size] of [
        ['', { width: 768, height: 1024 }],
        ['landscape-', { width: 1024, height: 768 }],
      ] as const) {
        await page.setViewportSize(size);
        for (const [name, hash, drawn] of pages) {
          await page.goto(`${apiUrl}/dashboard/${hash}`);
          await page.waitForSelector(`main[data-ready] ${drawn}`, { timeout: 20_000 });
          expect(await sideways(), `${orientation}${name}`).toBeLessThanOrEqual(0);
          await shot(page, `tablet-${orientation}${name}`);
        }
      }
      // Rotated back to portrait on the borrower page: the charts are redrawn to the narrower cards.
      await page.goto(`${apiUrl}/dashboard/#/borrower/${riskiest}`);
      await page.waitForSelector('main[data-ready] #readings .uplot', { timeout: 20_000 });
      // Each chart as wide as its card's content box (the project's types have no DOM, hence the string).
      const chartFits = () =>
        page.evaluate<boolean>(`['#history', '#readings'].every((sel) => {
          const card = document.querySelector(sel);
          const chart = card && card.querySelector('.uplot');
          if (!card || !chart) return false;
          const style = getComputedStyle(card);
          const inner = card.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
          return chart.offsetWidth <= inner && chart.offsetWidth >= inner - 2;
        })`);
      expect(await chartFits()).toBe(true);
      await page.setViewportSize({ width: 768, height: 1024 });
      await expect.poll(chartFits).toBe(true);
      expect(await sideways()).toBeLessThanOrEqual(0);
      expect(errors.join('\n\n')).toBe('');
    } finally {
      await context.close();
    }
  }, 120_000);

  it('when an auditor opens Model health, then every model version is listed as the API reports it, and the champion shows its drift per input and its backtest per grade', async () => {
    interface Health {
      version: string;
      status: string;
      drift: { band: string; scorePsi: number } | null;
      backtest: { labelled: number; auc: number | null } | null;
    }
    // The monitoring runs at start (nothing scored yet), again once the demo's replayed days are scored
    // (bin/start.ts): then the champion has a population, a first-scored reference and a drift figure.
    await expect
      .poll(async () => (await api<{ items: Health[] }>('/v1/models/health')).items[0]?.drift != null, {
        timeout: 150_000,
        interval: 2000,
      })
      .toBe(true);
    const { items } = await api<{ items: Health[] }>('/v1/models/health');
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (err) => errors.push(err.stack ?? err.message));
    await page.goto(`${apiUrl}/dashboard/`);
    await page.evaluate(`sessionStorage.setItem('riskfuse.apiKey', ${JSON.stringify(adminKey)})`);
    await page.goto(`${apiUrl}/dashboard/#/portfolio`);
    await page.waitForSelector('main[data-ready="/portfolio"]');
    await page.click('a[href="#/models"]');
    await page.waitForSelector('main[data-ready="/models"] #model-health');
    const rows = await page.locator('#model-health tbody tr').all();
    const shown = await Promise.all(
      rows.map(async (r) => [
        await r.getAttribute('data-version'),
        await r.getAttribute('data-status'),
        await r.getAttribute('data-band'),
        await r.locator('[data-field="scorePsi"]').textContent(),
        await r.locator('[data-field="labelled"]').textContent(),
      ]),
    );
    expect(shown).toEqual(
      items.map((m) => [
        m.version,
        m.status,
        m.drift?.band ?? '',
        m.drift === null ? '—' : m.drift.scorePsi.toFixed(3),
        m.backtest === null ? '—' : m.backtest.labelled.toLocaleString('en-US'),
      ]),
    );
    const champion = items.find((m) => m.status === 'champion');
    expect(await page.locator('#model-detail').getAttribute('data-version')).toBe(champion?.version);
    // The detail card shows the champion's latest drift per input when the monitoring had a population.
    if (champion?.drift !== null)
      expect(await page.locator('#drift-inputs tbody tr').count()).toBeGreaterThan(5);
    await shot(page, '8-model-health');
    expect(errors.join('\n\n')).toBe('');
    await page.close();
  }, 210_000);

  it('when an auditor logs in, then alerts and the snoozes in force are listed without acknowledge, resolve or end buttons', async () => {
    const [first] = (await api<{ items: { id: string }[] }>('/v1/borrowers?limit=1')).items;
    const snooze = await api<{ id: string }>('/v1/alerts/suppressions', {
      method: 'POST',
      body: {
        kind: 'snooze',
        scopeKind: 'borrower',
        scopeId: first?.id ?? '',
        ruleId: 'battery-low',
        reason: 'e2e: spare batteries on their way',
        untilMs: Date.now() + 3_600_000,
      },
    });
    const created = await fetch(`${apiUrl}/v1/api-keys`, {
      method: 'POST',
      headers: { authorization: `Bearer ${adminKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'e2e auditor', role: 'auditor' }),
    });
    expect(created.status).toBe(201);
    const auditorKey = ((await created.json()) as { key: string }).key;
    const page = await browser.newPage();
    await page.goto(`${apiUrl}/dashboard/`);
    await page.fill('#api-key', auditorKey);
    await page.click('#login button[type=submit]');
    await page.waitForSelector('main[data-ready="/portfolio"]');
    expect(await page.locator('#who').textContent()).toContain('auditor');
    await page.click('a[href="#/alerts"]');
    await page.waitForSelector('main[data-ready="/alerts"]');
    expect(await page.locator('#alerts tbody tr').count()).toBeGreaterThan(0);
    expect(await page.locator('button.ack, button.resolve').count()).toBe(0);
    const row = page.locator(`#suppressions tr#suppression-${snooze.id}`);
    expect(await row.textContent()).toContain('e2e: spare batteries on their way');
    expect(await page.locator('#suppressions button').count()).toBe(0);
    await shot(page, '7-alerts-auditor');
  }, 60_000);

  it('when an officer opens the case inbox, then cases come most money at risk first, and one is investigated and closed with an outcome from its page', async () => {
    type CaseItem = { id: string; borrowerId: string; status: string; moneyAtRisk?: { amount: number } };
    await expect
      .poll(async () => (await api<{ items: CaseItem[] }>('/v1/cases')).items.length, { timeout: 180_000 })
      .toBeGreaterThan(0);
    const page = await browser.newPage();
    await page.goto(`${apiUrl}/dashboard/`);
    await page.fill('#api-key', adminKey);
    await page.click('#login button[type=submit]');
    await page.waitForSelector('main[data-ready="/portfolio"]');
    await page.click('a[href="#/cases"]');
    await page.waitForSelector('main[data-ready="/cases"]');
    const rows = await page.locator('#case-inbox tbody tr').all();
    const shown = (await Promise.all(rows.map((r) => r.getAttribute('data-case')))).map((id) => id ?? '');
    expect(shown.length).toBeGreaterThan(0);
    // The page's order is the API's: most money at risk first.
    const { items } = await api<{ items: CaseItem[] }>('/v1/cases?limit=200');
    const amounts = shown.map((id) => items.find((c) => c.id === id)?.moneyAtRisk?.amount ?? 0);
    expect(amounts).toEqual([...amounts].sort((a, b) => b - a));
    const first = shown[0] ?? '';
    await page.click(`#case-inbox tr[data-case="${first}"] a`);
    await page.waitForSelector('#case-detail[data-status="open"]');
    expect(await page.locator('#case-timeline tbody tr').count()).toBeGreaterThan(0);
    await page.click('#case-investigate');
    await page.waitForSelector('#case-detail[data-status="investigating"]');
    await page.selectOption('#case-outcome', 'false-alarm');
    await page.click('#case-close');
    await page.waitForSelector('#case-detail[data-status="closed"]');
    const closed = await api<{ case: { status: string; outcome: string } }>(`/v1/cases/${first}`);
    expect(closed.case).toMatchObject({ status: 'closed', outcome: 'false-alarm' });
    await shot(page, '8-case');
  }, 300_000);
});
