import type { Page } from 'playwright-core';
import { expect } from 'vitest';

/**
 * Page checks the dashboard e2e tests share (web/test/dashboard.e2e.test.ts). Each compares what a page shows with
 * what the API gave that page, so it holds for whichever borrower, alert or device the demo world offers today.
 */

type Api = <T>(path: string, init?: { method?: string; body?: unknown }) => Promise<T>;

/** An attribute of every element matched, in order. */
export const attrs = async (page: Page, selector: string, name: string): Promise<string[]> =>
  Promise.all((await page.locator(selector).all()).map(async (l) => (await l.getAttribute(name)) ?? ''));

/** The borrower ids of the portfolio table's rows, in order. */
export const shownIds = (page: Page): Promise<string[]> =>
  attrs(page, '#ranking tbody tr[data-borrower]', 'data-borrower');

/** Clicks a sortable column header and waits for the page it leads to, sorted that way. */
export async function sortBy(page: Page, key: string, order: 'ascending' | 'descending'): Promise<void> {
  await page.click(`#ranking th[data-sort="${key}"] button`);
  await page.waitForSelector(
    `main[data-ready="/portfolio"] #ranking th[data-sort="${key}"][aria-sort="${order}"]`,
  );
}

/** An in-page dialog action on an alert row; false when the alert changed under us (auto-resolved). */
export async function actOn(
  page: Page,
  api: Api,
  id: string,
  action: 'ack' | 'resolve',
  comment?: string,
): Promise<boolean> {
  try {
    await page.click(`#alert-${id} button.${action}`, { timeout: 5000 });
    await page.waitForSelector('#action-dialog[open]');
    if (comment !== undefined) await page.fill('#action-comment', comment);
    await page.click('#action-dialog button[type=submit]');
    const done = action === 'ack' ? 'acknowledged' : 'resolved';
    await page.waitForSelector(`#alert-${id}[data-status="${done}"]`, { timeout: 5000 });
    await page.waitForSelector('#action-dialog', { state: 'detached' });
    return true;
  } catch {
    // The dialog shows why (a 409 when the rule resolved it first): Escape closes it.
    if (await page.locator('#action-dialog[open]').count()) await page.keyboard.press('Escape');
    expect((await api<{ status: string }>(`/v1/alerts/${id}`)).status).toBe('resolved');
    return false;
  }
}

export interface MapSite {
  id: string;
  lat: number;
  lon: number;
  geofence: [number, number][];
}
export interface MapDevice {
  siteId?: string;
  lastReading?: { fields?: Record<string, unknown> };
}

/**
 * The borrower page's map against what the page was given (its own /v1/sites and /v1/devices answers): one zoom
 * button per site after "all sites"; each site's view shows its whole fence; a site much smaller than the map's
 * whole extent zooms in (a site's view also covers its devices' latest positions, so a stake carried off site or an
 * inspection logged far away can widen it to the whole map: then it need not zoom in); and the stake markers keep a
 * sensible size at every zoom (fixed 6 px markers used to cover whole sites).
 */
export async function checkMap(page: Page, given: { sites: MapSite[]; devices: MapDevice[] }): Promise<void> {
  const zoomButtons = page.locator('.map-sites button');
  await expect.poll(() => zoomButtons.count()).toBe(given.sites.length + 1);
  const fitTo = async (button: number, target: string) => {
    await zoomButtons.nth(button).click();
    await page.waitForSelector(`#map[data-fit="${target}"]`, { timeout: 10_000 });
    const [south, west, north, east] = ((await page.locator('#map').getAttribute('data-view')) ?? '')
      .split(',')
      .map(Number);
    return { south, west, north, east, zoom: Number(await page.locator('#map').getAttribute('data-zoom')) };
  };
  type View = Awaited<ReturnType<typeof fitTo>>;
  const shows = (v: View, [lat, lon]: readonly number[]) =>
    (lat ?? NaN) >= (v.south ?? NaN) &&
    (lat ?? NaN) <= (v.north ?? NaN) &&
    (lon ?? NaN) >= (v.west ?? NaN) &&
    (lon ?? NaN) <= (v.east ?? NaN);
  const span = (points: readonly (readonly number[])[], axis: 0 | 1) =>
    Math.max(...points.map((p) => p[axis] ?? NaN)) - Math.min(...points.map((p) => p[axis] ?? NaN));
  const pointsOf = (siteId?: string) => [
    ...given.sites
      .filter((st) => siteId === undefined || st.id === siteId)
      .flatMap((st) => [[st.lat, st.lon], ...st.geofence]),
    ...given.devices
      .filter((d) => siteId === undefined || d.siteId === siteId)
      .flatMap((d) => {
        const f = d.lastReading?.fields;
        return typeof f?.lat === 'number' && typeof f.lon === 'number' ? [[f.lat, f.lon]] : [];
      }),
  ];
  const whole = await fitTo(0, 'all');
  for (const st of given.sites) expect(shows(whole, [st.lat, st.lon]), `all sites shows ${st.id}`).toBe(true);
  for (const [i, st] of given.sites.entries()) {
    expect(await zoomButtons.nth(i + 1).getAttribute('data-site')).toBe(st.id);
    const view = await fitTo(i + 1, st.id);
    for (const corner of [[st.lat, st.lon], ...st.geofence])
      expect(shows(view, corner), `${st.id}'s view shows its fence`).toBe(true);
    const own = pointsOf(st.id);
    const all = pointsOf();
    if (span(own, 0) * 4 <= span(all, 0) && span(own, 1) * 4 <= span(all, 1))
      expect(view.zoom, `${st.id} is a quarter of the map or less: its button zooms in`).toBeGreaterThan(
        whole.zoom,
      );
  }
  // Full size at street level, dots when the map shows more. The radius is read from the SVG arc Leaflet draws.
  const checkRadii = async () => {
    // Markers outside the view are not drawn (no arc): only the drawn ones are measured.
    const radii = (await attrs(page, '#map path.leaflet-interactive[stroke="#b58900"]', 'd'))
      .map((d) => Number(/a([\d.]+),/.exec(d)?.[1] ?? NaN))
      .filter((r) => !Number.isNaN(r));
    if (radii.length === 0) return;
    const zoom = Number(await page.locator('#map').getAttribute('data-zoom'));
    const expected = zoom >= 16 ? 6 : zoom >= 13 ? 4 : zoom >= 10 ? 3 : 2;
    expect(new Set(radii), `stake markers at zoom ${zoom}`).toEqual(new Set([expected]));
  };
  // At the last site's view, then back at all sites (the radii follow the zoom once Leaflet's fit has ended).
  await checkRadii();
  await fitTo(0, 'all');
  await checkRadii();
}

type Counts = Record<string, number | null>;
interface FleetSummary {
  devices: number;
  active: number;
  revoked: number;
  presence: Counts;
  byKind: Record<string, Counts>;
  lowBattery: number | null;
  stale: number | null;
  neverReported: number | null;
}
const KIND_FIELDS = [
  'devices',
  'active',
  'online',
  'offline',
  'unknown',
  'lowBattery',
  'stale',
  'neverReported',
];

/**
 * Loads the devices page once and compares its fleet-wide and per-kind counts with the summary that load was given
 * (presence, battery and staleness move while the world runs, so a summary fetched separately can differ from the
 * page's on a busy machine): 'equal', or both as JSON for the failure message.
 */
export async function fleetCountsAsGiven(page: Page, apiUrl: string): Promise<string> {
  const fmt = (n: number | null | undefined) => (typeof n === 'number' ? n.toLocaleString('en-US') : '—');
  const given = page.waitForResponse(
    (res) => new URL(res.url()).pathname === '/v1/devices/summary' && res.ok(),
    {
      timeout: 15_000,
    },
  );
  await page.goto(`${apiUrl}/dashboard/#/devices?r=${Date.now()}`);
  await page.waitForSelector('main[data-ready="/devices"]');
  const counts = async (scope: string) =>
    Object.fromEntries(
      await Promise.all(
        (await page.locator(`${scope} [data-count]`).all()).map(async (l) => [
          await l.getAttribute('data-count'),
          await l.textContent(),
        ]),
      ),
    ) as Record<string, string>;
  const kinds = await attrs(page, '#fleet-kinds tr[data-kind]', 'data-kind');
  const shown = {
    fleet: await counts('#fleet'),
    kinds: Object.fromEntries(
      await Promise.all(kinds.map(async (k) => [k, await counts(`#fleet-kinds tr[data-kind="${k}"]`)])),
    ) as Record<string, Record<string, string>>,
  };
  const s = (await (await given).json()) as FleetSummary;
  const expected = {
    fleet: {
      devices: fmt(s.devices),
      active: fmt(s.active),
      revoked: fmt(s.revoked),
      online: fmt(s.presence.online),
      offline: fmt(s.presence.offline),
      unknown: fmt(s.presence.unknown),
      lowBattery: fmt(s.lowBattery),
      stale: fmt(s.stale),
      neverReported: fmt(s.neverReported),
    },
    // Kinds in name order, as the page lists them.
    kinds: Object.fromEntries(
      Object.entries(s.byKind)
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([k, c]) => [k, Object.fromEntries(KIND_FIELDS.map((f) => [f, fmt(c[f])]))]),
    ),
  };
  return JSON.stringify(shown) === JSON.stringify(expected) ? 'equal' : JSON.stringify({ shown, expected });
}
