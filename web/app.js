// The risk-officer dashboard: plain ES modules the browser loads as they are (no build step), uPlot and
// Leaflet served by riskfuse from node_modules. Every API call carries the key typed at login, kept in
// sessionStorage (gone when the tab closes). Text from the API is set with textContent, never as HTML.
import uPlot from './vendor/uplot/uPlot.esm.js';
import * as L from './vendor/leaflet/leaflet-src.esm.js';

const KEY = 'riskfuse.apiKey';
const main = /** @type {HTMLElement} */ (document.getElementById('main'));
const DAY_MS = 86_400_000;
/** Per device kind: the readings worth charting. */
const FIELDS = { stake: ['weightKg'], satellite: ['ndvi', 'activityIndex'], helmet: ['activity'] };

let me = null;
let stream = null;
/** What the page on screen holds beyond its DOM (charts, observers, maps, timers): released by the next page. */
const leaving = [];
const onLeave = (fn) => leaving.push(fn);

/** Builds an element: h('td', { class: 'x' }, 'text', child). */
function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

/** A page's hash: the path and its non-empty parameters. */
function hashOf(path, params = {}) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params))
    if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  const s = q.toString();
  return `#${path}${s === '' ? '' : `?${s}`}`;
}

const fmtTime = (ms) => (ms === undefined ? '—' : new Date(ms).toLocaleString());
const shortTime = new Intl.DateTimeFormat(undefined, { dateStyle: 'short', timeStyle: 'short' });
/** For table cells: date and minute, the full time in the tooltip. */
const timeCell = (ms) =>
  ms === undefined ? h('td', {}, '—') : h('td', { class: 'time', title: fmtTime(ms) }, shortTime.format(ms));
const fmtPd = (pd) => `${(pd * 100).toFixed(2)} %`;
const fmtCount = (n) => (typeof n === 'number' ? n.toLocaleString() : '—');
const gradeEl = (g) => h('span', { class: `grade grade-${g}` }, g);
const canAct = () => me !== null && (me.role === 'admin' || me.role === 'officer');

const moneyFormats = new Map();
/** An amount in its currency, whole units (Intl.NumberFormat per currency, kept). */
function fmtMoney(currency, amount) {
  let f = moneyFormats.get(currency);
  if (f === undefined) {
    try {
      f = new Intl.NumberFormat(undefined, {
        style: 'currency',
        currency,
        minimumFractionDigits: 0,
        maximumFractionDigits: 0,
      });
    } catch {
      // Not an ISO 4217 code: the number and the code as stored.
      f = { format: (n) => `${Math.round(n).toLocaleString()} ${currency}` };
    }
    moneyFormats.set(currency, f);
  }
  return f.format(amount);
}

function fmtDuration(ms) {
  if (ms >= DAY_MS) return `${+(ms / DAY_MS).toFixed(1)} d`;
  if (ms >= 3_600_000) return `${+(ms / 3_600_000).toFixed(1)} h`;
  return `${Math.round(ms / 60_000)} min`;
}

class HttpError extends Error {
  constructor(status, detail) {
    super(`${status}: ${detail}`);
    this.status = status;
  }
}

async function api(path, init = {}) {
  const key = sessionStorage.getItem(KEY) ?? '';
  const res = await fetch(path, {
    ...init,
    headers: { authorization: `Bearer ${key}`, ...(init.body ? { 'content-type': 'application/json' } : {}) },
  });
  if (res.status === 401) {
    logout();
    throw new HttpError(401, 'the API key is not valid');
  }
  const body = await res.json().catch(() => ({}));
  if (!res.ok) throw new HttpError(res.status, body.detail ?? res.statusText);
  return body;
}

function logout() {
  sessionStorage.removeItem(KEY);
  me = null;
  stream?.abort();
  stream = null;
  location.hash = '#/login';
}

function page(title, ...content) {
  for (const release of leaving.splice(0)) release();
  main.replaceChildren(h('h1', {}, title), ...content);
  document.title = `${title} · riskfuse`;
}

function showError(err) {
  main.append(h('p', { class: 'error', role: 'alert' }, err instanceof Error ? err.message : String(err)));
}

/** "← Previous" (the hash carried from the page before) and "Next →" links for cursor paging. */
function pagerLinks(back, next) {
  return h(
    'div',
    { class: 'pager' },
    back ? h('a', { href: back, id: 'prev-page' }, '← Previous') : null,
    next ? h('a', { href: next, id: 'next-page' }, 'Next →') : null,
  );
}
// ---- login ----------------------------------------------------------------------------------------------
function loginPage() {
  const input = h('input', {
    id: 'api-key',
    type: 'password',
    placeholder: 'rfk_…',
    size: 50,
    autocomplete: 'off',
  });
  const msg = h('p', { class: 'error', role: 'alert' });
  const form = h(
    'form',
    { class: 'card', id: 'login' },
    h('label', { for: 'api-key' }, 'API key '),
    input,
    ' ',
    h('button', { type: 'submit' }, 'Log in'),
    msg,
  );
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    sessionStorage.setItem(KEY, input.value.trim());
    api('/v1/me').then(
      (who) => {
        me = who;
        location.hash = '#/portfolio';
      },
      (err) => {
        msg.textContent = `Login failed: ${err.message}`;
      },
    );
  });
  page('Log in', form);
  input.focus();
}

// ---- portfolio ------------------------------------------------------------------------------------------
/** The API's sort keys and the order each starts in (riskiest, largest, worst first). */
const SORT_ORDER = { pd: 'desc', exposure: 'desc', openAlerts: 'desc', coverage: 'asc', name: 'asc' };
const PAGE_SIZE = 50;
const TREND_DAYS = 30;
const COLUMNS = [
  { label: '#', class: 'num' },
  { label: 'Borrower', sort: 'name' },
  { label: 'PD', sort: 'pd', class: 'num' },
  { label: 'Grade' },
  { label: `Trend (${TREND_DAYS} d)` },
  { label: 'Exposure', sort: 'exposure', class: 'num' },
  { label: 'Coverage', sort: 'coverage', class: 'num' },
  { label: 'Open alerts', sort: 'openAlerts', class: 'num' },
  { label: 'Scored' },
];

function portfolioState(params) {
  const sortParam = params.get('sort') ?? '';
  const sort = Object.hasOwn(SORT_ORDER, sortParam) ? sortParam : 'pd';
  const orderParam = params.get('order');
  return {
    q: params.get('q') ?? '',
    grade: params.get('grade') ?? '',
    sort,
    order: orderParam === 'asc' || orderParam === 'desc' ? orderParam : SORT_ORDER[sort],
    cursor: params.get('cursor') ?? '',
    offset: Math.max(0, Number(params.get('offset')) || 0),
    back: params.get('back') ?? '',
  };
}

/** The hash of a portfolio view; defaults left out so plain links stay plain. */
const portfolioHash = (s) =>
  hashOf('/portfolio', {
    q: s.q,
    grade: s.grade,
    sort: s.sort === 'pd' ? '' : s.sort,
    order: s.order === SORT_ORDER[s.sort] ? '' : s.order,
    cursor: s.cursor,
    offset: s.offset || '',
    back: s.back,
  });

/** A new first page of the same view with some of it changed (a new sort, filter or search). */
const firstPage = (s, change) => ({ ...s, ...change, cursor: '', offset: 0, back: '' });

async function portfolioPage(params) {
  let state = portfolioState(params);
  const summaryEl = h('div', { class: 'card counts', id: 'summary' }, 'Loading…');
  const select = h(
    'select',
    { id: 'grade-filter', 'aria-label': 'grade' },
    h('option', { value: '' }, 'all grades'),
    ['A', 'B', 'C', 'D', 'E', 'F', 'G'].map((g) => h('option', { value: g, selected: g === state.grade }, g)),
  );
  select.addEventListener('change', () => {
    location.hash = portfolioHash(firstPage(state, { grade: select.value }));
  });
  const search = h('input', {
    id: 'search',
    type: 'search',
    placeholder: 'name or id',
    'aria-label': 'search borrowers by name or id',
    value: state.q,
    autocomplete: 'off',
  });
  const totalEl = h('span', { id: 'total', 'aria-live': 'polite' });
  const find = h(
    'form',
    { class: 'toolbar', id: 'find', role: 'search' },
    h('label', {}, 'Grade ', select),
    h('label', {}, 'Search ', search),
    totalEl,
  );
  const tbody = h('tbody');
  const headRow = h('tr');
  const table = h('table', { id: 'ranking', 'aria-busy': 'true' }, h('thead', {}, headRow), tbody);
  const pager = h('div');
  page('Portfolio', summaryEl, h('div', { class: 'card' }, find, table, pager));

  const sparks = [];
  const clearSparks = () => {
    for (const u of sparks.splice(0)) u.destroy();
  };
  onLeave(clearSparks);

  const drawHead = () => {
    headRow.replaceChildren(
      ...COLUMNS.map((c) => {
        if (c.sort === undefined) return h('th', { class: c.class }, c.label);
        const active = state.sort === c.sort;
        // Clicking the sorted column flips its order; another column starts in its own default order.
        const order = active ? (state.order === 'asc' ? 'desc' : 'asc') : SORT_ORDER[c.sort];
        return h(
          'th',
          {
            class: c.class,
            'data-sort': c.sort,
            'aria-sort': active ? (state.order === 'asc' ? 'ascending' : 'descending') : undefined,
          },
          h(
            'button',
            {
              type: 'button',
              class: 'sort',
              onclick: () => {
                location.hash = portfolioHash(firstPage(state, { sort: c.sort, order }));
              },
            },
            c.label,
            h(
              'span',
              { class: 'arrow', 'aria-hidden': 'true' },
              active ? (state.order === 'asc' ? '▲' : '▼') : '',
            ),
          ),
        );
      }),
    );
  };

  // Responses can overtake each other while the user types: only the latest request draws.
  let seq = 0;
  const load = async () => {
    const mine = ++seq;
    table.setAttribute('aria-busy', 'true');
    const q = new URLSearchParams({
      sort: state.sort,
      order: state.order,
      limit: String(PAGE_SIZE),
      trendDays: String(TREND_DAYS),
    });
    if (state.q !== '') q.set('q', state.q);
    if (state.grade !== '') q.set('grade', state.grade);
    if (state.cursor !== '') q.set('cursor', state.cursor);
    const res = await api(`/v1/portfolio/borrowers?${q}`);
    if (mine !== seq) return res;
    clearSparks();
    tbody.replaceChildren(...res.items.map((r, i) => portfolioRow(r, state.offset + i + 1, sparks)));
    if (res.items.length === 0) {
      const empty = state.q !== '' || state.grade !== '' ? 'No borrower matches.' : 'No borrowers yet.';
      tbody.append(h('tr', {}, h('td', { colspan: COLUMNS.length }, empty)));
    }
    const first = res.items.length === 0 ? 0 : state.offset + 1;
    totalEl.textContent = `${first}–${state.offset + res.items.length} of ${fmtCount(res.total)} borrower${res.total === 1 ? '' : 's'}`;
    // Cursor paging: the previous page's hash is carried along, so "Previous" is a plain link.
    const next =
      res.nextCursor === undefined
        ? undefined
        : portfolioHash({
            ...state,
            cursor: res.nextCursor,
            offset: state.offset + PAGE_SIZE,
            back: location.hash,
          });
    pager.replaceChildren(pagerLinks(state.back, next));
    table.dataset.q = state.q;
    table.setAttribute('aria-busy', 'false');
    return res;
  };

  // Search as you type (debounced): the hash is replaced, not pushed, so Back leaves the page, not a keystroke.
  let timer;
  onLeave(() => clearTimeout(timer));
  const searchNow = () => {
    clearTimeout(timer);
    const text = search.value.trim();
    if (text === state.q) return Promise.resolve(undefined);
    state = firstPage(state, { q: text });
    history.replaceState(null, '', portfolioHash(state));
    drawHead();
    return load();
  };
  search.addEventListener('input', () => {
    clearTimeout(timer);
    timer = setTimeout(() => searchNow().catch(showError), 250);
  });
  // Enter: search at once, and open the borrower whose id was typed in full.
  find.addEventListener('submit', (e) => {
    e.preventDefault();
    const text = search.value.trim().toLowerCase();
    searchNow()
      .then(() => {
        const exact = [...tbody.querySelectorAll('tr[data-borrower]')].find(
          (tr) => tr.dataset.borrower?.toLowerCase() === text,
        );
        if (exact) location.hash = `#/borrower/${encodeURIComponent(exact.dataset.borrower ?? '')}`;
      })
      .catch(showError);
  });

  drawHead();
  const [summary] = await Promise.all([api('/v1/portfolio/summary'), load()]);
  const byGrade = summary.byGrade ?? {};
  const exposure = (summary.exposure ?? []).filter((e) => e.activeLoans > 0 || e.outstanding !== 0);
  summaryEl.replaceChildren(
    h('span', {}, `Borrowers ${fmtCount(summary.borrowers)}`),
    h(
      'span',
      {},
      'Open alerts ',
      h('a', { href: '#/alerts', id: 'open-alerts' }, fmtCount(summary.openAlerts)),
    ),
    h(
      'span',
      { class: 'grades' },
      'Grades ',
      ...Object.keys(byGrade)
        .sort()
        .map((g) =>
          h(
            'a',
            { href: portfolioHash(firstPage(state, { grade: g })), title: `only grade ${g}` },
            gradeEl(g),
            ` ${fmtCount(byGrade[g])}`,
          ),
        ),
    ),
    h(
      'span',
      { id: 'exposure' },
      'Outstanding ',
      exposure.length === 0 ? '—' : exposure.map((e) => fmtMoney(e.currency, e.outstanding)).join(' · '),
    ),
  );
}

function portfolioRow(r, rank, sparks) {
  const s = r.score;
  const enc = encodeURIComponent(r.borrowerId);
  const coverage =
    r.coverage === null || r.coverage === undefined
      ? h('td', { class: 'num' }, '—')
      : h('td', { class: r.coverage < 1 ? 'num low' : 'num' }, `${r.coverage.toFixed(2)}×`);
  return h(
    'tr',
    { 'data-borrower': r.borrowerId },
    h('td', { class: 'num' }, rank),
    h(
      'td',
      {},
      h('a', { href: `#/borrower/${enc}`, class: 'borrower' }, r.name),
      h('br'),
      h('small', {}, r.borrowerId),
    ),
    h('td', { class: 'num' }, s ? fmtPd(s.pd) : '—'),
    h('td', {}, s ? gradeEl(s.grade) : '—'),
    h('td', {}, sparkline(r.trend ?? [], sparks)),
    h(
      'td',
      { class: 'num' },
      r.exposure.length === 0
        ? '—'
        : r.exposure.flatMap((e, i) => [i > 0 ? h('br') : null, fmtMoney(e.currency, e.outstanding)]),
    ),
    coverage,
    h(
      'td',
      { class: 'num' },
      r.openAlerts === null || r.openAlerts === undefined
        ? '—'
        : h('a', { href: hashOf('/alerts', { borrowerId: r.borrowerId }), class: 'alerts' }, r.openAlerts),
    ),
    s ? timeCell(s.at) : h('td', {}, 'not scored'),
  );
}

/** A PD sparkline: uPlot with no axes, legend or cursor on a small canvas; red when the PD rose. */
function sparkline(trend, sparks) {
  const el = h('div', { class: 'spark' });
  if (trend.length === 0) {
    el.textContent = '—';
    return el;
  }
  const first = trend[0].pd;
  const last = trend[trend.length - 1].pd;
  el.title = `PD ${fmtPd(first)} → ${fmtPd(last)} over ${trend.length} day${trend.length === 1 ? '' : 's'}`;
  const color = last > first ? '#c62828' : last < first ? '#2e7d32' : '#1d5fbf';
  const opts = {
    width: 96,
    height: 24,
    padding: [3, 3, 3, 3],
    cursor: { show: false },
    legend: { show: false },
    select: { show: false },
    axes: [{ show: false }, { show: false }],
    scales: { x: { time: false } },
    series: [{}, { stroke: color, width: 1.5, points: { show: trend.length < 3, size: 4, fill: color } }],
  };
  sparks.push(new uPlot(opts, [trend.map((p) => p.at / 1000), trend.map((p) => p.pd * 100)], el));
  return el;
}

// ---- borrower -------------------------------------------------------------------------------------------
const optional = (p) => p.catch((err) => (err.status === 404 ? undefined : Promise.reject(err)));

async function borrowerPage(id) {
  page(`Borrower ${id}`, h('p', {}, 'Loading…'));
  const enc = encodeURIComponent(id);
  const [borrower, score, history, sites, lots, devices, loans, alerts] = await Promise.all([
    api(`/v1/borrowers/${enc}`),
    optional(api(`/v1/borrowers/${enc}/score`)),
    scoreHistory(enc),
    api(`/v1/sites?borrowerId=${enc}&limit=500`),
    api(`/v1/lots?borrowerId=${enc}&limit=500`),
    api(`/v1/devices?borrowerId=${enc}&limit=500`),
    api(`/v1/loans?borrowerId=${enc}&limit=100`),
    // 404 when the alerts component is not wired into this API (`riskfuse api` without it).
    optional(api(`/v1/alerts?borrowerId=${enc}&limit=20`)),
  ]);
  const scoreCard = h('div', { class: 'card', id: 'score' }, h('h2', {}, 'Latest score'));
  if (score === undefined) scoreCard.append(h('p', {}, 'Not scored yet.'));
  else {
    scoreCard.append(
      h(
        'p',
        {},
        gradeEl(score.grade),
        ` PD ${fmtPd(score.pd)} · score ${score.score} · model ${score.modelVersion} · ${fmtTime(score.at)}`,
      ),
      h(
        'p',
        {},
        `Loan book (online) contribution ${score.onlineContribution.toFixed(3)} · devices (offline) contribution ${score.offlineContribution.toFixed(3)}`,
      ),
      h('h3', {}, 'Why'),
      h(
        'ul',
        { id: 'reasons' },
        score.reasons.length === 0
          ? h('li', {}, 'No feature raises the PD notably.')
          : score.reasons.map((r) => h('li', {}, r.text, h('small', {}, ` (+${r.contribution.toFixed(3)})`))),
      ),
    );
    if (score.features !== undefined)
      scoreCard.append(inputsTable(score.features, score.contributions ?? {}));
  }
  const historyCard = h('div', { class: 'card', id: 'history' }, h('h2', {}, 'Score history'));
  const mapCard = h(
    'div',
    { class: 'card' },
    h('h2', {}, 'Sites, lots and devices'),
    h('div', { id: 'map' }),
  );
  const readingsCard = h('div', { class: 'card', id: 'readings' }, h('h2', {}, 'Device readings'));
  const workersCard = h('div', { class: 'card', id: 'workers' }, h('h2', {}, 'On-site worker-hours'));
  const loansCard = h('div', { class: 'card', id: 'loans' }, h('h2', {}, 'Loans'));
  const alertsCard = h(
    'div',
    { class: 'card' },
    h('h2', {}, 'Alerts'),
    alertTable(alerts?.items ?? []),
    alerts === undefined
      ? null
      : h('p', {}, h('a', { href: hashOf('/alerts', { borrowerId: id }) }, 'Open alerts of this borrower →')),
  );
  page(
    `${borrower.name} (${borrower.id})`,
    h('p', {}, `${borrower.sector} · ${borrower.region}`),
    h('div', { class: 'grid' }, scoreCard, historyCard),
    // Alerts full width: their action buttons need the room; loans below.
    alertsCard,
    mapCard,
    readingsCard,
    workersCard,
    loansCard,
  );
  historyChart(historyCard, history);
  drawMap(mapCard, sites.items, lots.items, devices.items);
  readingsChart(readingsCard, devices.items);
  workerHoursChart(workersCard, sites.items, devices.items);
  await loanTables(loansCard, loans.items);
}

/** The card's content width (its padding changes with the screen size), at least 280 px. */
function chartWidth(el) {
  const style = getComputedStyle(el);
  const padding = parseFloat(style.paddingLeft) + parseFloat(style.paddingRight);
  return Math.max(280, Math.floor(el.clientWidth - padding));
}

/**
 * A uPlot chart as wide as its card, resized when the card is (window resize, tablet rotation); released
 * when the page is left or by the returned function (a chart replaced by another).
 */
function plot(card, opts, data, target) {
  const u = new uPlot({ ...opts, width: chartWidth(card) }, data, target);
  const ro = new ResizeObserver(() => {
    const width = chartWidth(card);
    if (width !== u.width) u.setSize({ width, height: u.height });
  });
  ro.observe(card);
  let released = false;
  const release = () => {
    if (released) return;
    released = true;
    ro.disconnect();
    u.destroy();
  };
  onLeave(release);
  return release;
}

/** The model's inputs at scoring time beside each one's contribution to the logit, largest first. */
function inputsTable(features, contributions) {
  const names = Object.keys(features).sort(
    (a, b) => (contributions[b] ?? 0) - (contributions[a] ?? 0) || a.localeCompare(b),
  );
  const fmtValue = (v) => (v === null ? 'missing' : Number.isInteger(v) ? String(v) : v.toFixed(3));
  return h(
    'details',
    { id: 'inputs' },
    h('summary', {}, `Inputs (${names.length})`),
    h(
      'table',
      {},
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          h('th', {}, 'Input'),
          h('th', { class: 'num' }, 'Value'),
          h('th', { class: 'num' }, 'Contribution'),
        ),
      ),
      h(
        'tbody',
        {},
        names.map((n) => {
          const c = contributions[n];
          return h(
            'tr',
            {},
            h('td', {}, n),
            h('td', { class: 'num' }, fmtValue(features[n])),
            h('td', { class: 'num' }, typeof c === 'number' ? `${c >= 0 ? '+' : ''}${c.toFixed(3)}` : '—'),
          );
        }),
      ),
    ),
  );
}

/**
 * A borrower's score history: one score a day for 180 days (the day's last) and every score of the last two
 * days, oldest first.
 */
async function scoreHistory(enc) {
  const now = Date.now();
  const [days, recent] = await Promise.all([
    api(`/v1/borrowers/${enc}/scores?per=day&from=${now - 180 * DAY_MS}&to=${now + DAY_MS}&limit=200`),
    api(`/v1/borrowers/${enc}/scores?from=${now - 2 * DAY_MS}&limit=500`),
  ]);
  const byAt = new Map([...days.items, ...recent.items].map((s) => [s.at, s]));
  return [...byAt.values()].sort((a, b) => a.at - b.at);
}

function historyChart(card, rows) {
  if (rows.length === 0) {
    card.append(h('p', {}, 'No history yet.'));
    return;
  }
  const versions = [...new Set(rows.map((s) => s.modelVersion))];
  const backtested = rows.some((s) => s.trigger === 'backtest');
  card.append(
    h(
      'p',
      {},
      `Model version${versions.length > 1 ? 's' : ''}: ${versions.join(', ')} · one score a day, every score of the last two days`,
      backtested ? ' · backtests (past days scored as they were) dashed' : '',
    ),
  );
  const pct = (keep) => rows.map((s) => (keep(s) ? s.pd * 100 : null));
  const label = (_u, v, _s, i) =>
    v === null || i === null ? '—' : `${v.toFixed(2)} % (${rows[i]?.modelVersion ?? ''})`;
  // Live scores in solid red; backtests dashed, joined to the live line where they meet.
  const data = [rows.map((s) => s.at / 1000), pct((s) => s.trigger !== 'backtest'), pct(() => true)];
  const opts = {
    height: 220,
    series: [
      {},
      { label: 'PD %', stroke: '#c62828', width: 2, value: label },
      { label: 'incl. backtests', stroke: '#c6282888', dash: [5, 4], value: label, show: backtested },
    ],
    axes: [{}, { label: 'PD %' }],
    // Scores within an hour of each other: a day either side, not uPlot's default span of years.
    scales: {
      x: {
        time: true,
        range: (_u, min, max) => (max - min < 3600 ? [min - 86_400, max + 86_400] : [min, max]),
      },
    },
  };
  plot(card, opts, data, card);
}

function drawMap(card, sites, lots, devices) {
  // No tile layer: vector shapes only, so the map works offline.
  const map = L.map('map', { attributionControl: false });
  const bounds = [];
  const lotsAt = new Map();
  for (const l of lots) lotsAt.set(l.siteId, [...(lotsAt.get(l.siteId) ?? []), l]);
  const lotText = (l) =>
    `${l.commodity} ${l.pledgedWeightKg.toLocaleString()} kg pledged (${fmtMoney(l.currency, l.pledgedWeightKg * l.unitPricePerKg)})`;
  const siteBounds = new Map();
  for (const s of sites) {
    const pledged = (lotsAt.get(s.id) ?? []).map(lotText);
    const tip = `${s.name} (${s.kind})${pledged.length > 0 ? ` · ${pledged.join(' · ')}` : ''}`;
    const own = [[s.lat, s.lon]];
    if (s.geofence.length >= 3) {
      L.polygon(s.geofence, { color: '#1d5fbf' }).addTo(map).bindTooltip(tip);
      own.push(...s.geofence);
    }
    L.circleMarker([s.lat, s.lon], { radius: 4, color: '#1d2b45' }).addTo(map).bindTooltip(tip);
    siteBounds.set(s.id, own);
    bounds.push(...own);
  }
  const lotById = new Map(lots.map((l) => [l.id, l]));
  for (const d of devices) {
    const f = d.lastReading?.fields;
    if (typeof f?.lat !== 'number' || typeof f?.lon !== 'number') continue;
    const color = d.kind === 'stake' ? '#b58900' : '#6a1b9a';
    const lot = lotById.get(d.lotId);
    const on = lot === undefined ? '' : ` · lot ${lot.id}: ${lotText(lot)}`;
    L.circleMarker([f.lat, f.lon], { radius: 6, color, fillOpacity: 0.7 })
      .addTo(map)
      .bindTooltip(`${d.kind} ${d.id}${on} · ${d.presence}`);
    bounds.push([f.lat, f.lon]);
    siteBounds.get(d.siteId)?.push([f.lat, f.lon]);
  }
  const all = () => {
    if (bounds.length > 0) map.fitBounds(bounds, { padding: [20, 20], maxZoom: 17 });
    else map.setView([0, 0], 2);
  };
  all();
  // Sites can lie hundreds of kilometres apart: one button per site zooms to its fence, stock and helmets.
  card.append(
    h(
      'p',
      { class: 'map-sites' },
      'Zoom: ',
      h('button', { type: 'button', onclick: all }, 'all sites'),
      sites.map((s) =>
        h(
          'button',
          {
            type: 'button',
            onclick: () => map.fitBounds(siteBounds.get(s.id), { padding: [30, 30], maxZoom: 18 }),
          },
          s.name,
        ),
      ),
      h('small', {}, ' · blue: geofences · yellow: stakes · purple: helmets (latest positions)'),
    ),
  );
  const ro = new ResizeObserver(() => map.invalidateSize());
  ro.observe(map.getContainer());
  onLeave(() => {
    ro.disconnect();
    map.remove();
  });
}

/**
 * A chart card's controls and chart: a subject select, a range select (24 h, 7 days, 30 days; `labels`) and
 * below them what `render(subject, days, holder)` draws (it returns the chart's release). Redrawn on change.
 */
function chartPanel(card, subjectSel, rangeId, labels, render) {
  const rangeSel = h(
    'select',
    { id: rangeId, 'aria-label': 'range' },
    ['1', '7', '30'].map((v, i) => h('option', { value: v, selected: v === '7' }, labels[i])),
  );
  const holder = h('div');
  card.append(h('p', {}, subjectSel, ' ', rangeSel), holder);
  let release = () => undefined;
  const draw = async () => {
    release();
    release = () => undefined;
    holder.replaceChildren('Loading…');
    try {
      release = (await render(subjectSel.value, Number(rangeSel.value), holder)) ?? (() => undefined);
    } catch (err) {
      holder.replaceChildren(h('p', { class: 'error' }, err.message));
    }
  };
  subjectSel.addEventListener('change', () => void draw());
  rangeSel.addEventListener('change', () => void draw());
  void draw();
}

/** The borrower's alerts in [from, to) about any of these devices (404 = no alerts component). */
async function alertsAbout(borrowerId, deviceIds, from, to) {
  const q = new URLSearchParams({ borrowerId, from: String(from), to: String(to), limit: '500' });
  const alerts = await optional(api(`/v1/alerts?${q}`));
  return (alerts?.items ?? []).filter((a) => deviceIds.has(a.deviceId) || deviceIds.has(a.subjectId));
}

function readingsChart(card, devices) {
  // Devices that have reported first, stakes (the collateral's weight) ahead of the others.
  const order = { stake: 0, satellite: 1, helmet: 2 };
  const charted = devices
    .filter((d) => FIELDS[d.kind])
    .sort(
      (a, b) =>
        Number(b.lastSeenAt !== undefined) - Number(a.lastSeenAt !== undefined) ||
        order[a.kind] - order[b.kind] ||
        a.id.localeCompare(b.id),
    );
  if (charted.length === 0) {
    card.append(h('p', {}, 'No devices.'));
    return;
  }
  const deviceSel = h(
    'select',
    { id: 'device', 'aria-label': 'device' },
    charted.map((d) => h('option', { value: d.id }, `${d.kind} ${d.id}`)),
  );
  chartPanel(
    card,
    deviceSel,
    'range',
    ['last 24 h', 'last 7 days', 'last 30 days'],
    async (id, days, holder) => {
      const device = charted.find((d) => d.id === id);
      if (!device) return undefined;
      // The range ends at the device's latest reading: device time can run ahead of the wall clock (simulation).
      const to = (device.lastSeenAt ?? Date.now()) + 1;
      const from = to - days * DAY_MS;
      const q = new URLSearchParams({
        deviceId: device.id,
        fields: FIELDS[device.kind].join(','),
        fns: 'mean',
        from: String(from),
        to: String(to),
        windowMs: String(days === 1 ? 600_000 : days === 7 ? 3_600_000 : 6 * 3_600_000),
      });
      const [agg, marks] = await Promise.all([
        api(`/v1/telemetry/aggregate?${q}`),
        alertsAbout(device.borrowerId, new Set([device.id]), from, to),
      ]);
      const times = [...new Set(agg.series.flatMap((s) => s.points.map((p) => p.startMs)))].sort(
        (a, b) => a - b,
      );
      const data = [times.map((t) => t / 1000)];
      const series = [{}];
      const colors = ['#1d5fbf', '#2e7d32', '#b58900'];
      agg.series.forEach((s, i) => {
        const byT = new Map(s.points.map((p) => [p.startMs, p.mean ?? null]));
        data.push(times.map((t) => byT.get(t) ?? null));
        series.push({ label: s.field, stroke: colors[i % colors.length], spanGaps: false });
      });
      holder.replaceChildren();
      if (times.length === 0) {
        holder.append(h('p', {}, 'No readings in this range.'));
        return undefined;
      }
      // A y axis wide enough for readings in the tens of thousands (kg).
      const opts = { height: 240, series, axes: [{}, { size: 64 }], plugins: [alertMarkers(marks)] };
      const release = plot(card, opts, data, holder);
      if (marks.length > 0) {
        holder.append(
          h(
            'p',
            { class: 'marks' },
            `Alerts in range (red dashed lines): ${marks.map((a) => `${fmtTime(a.openedAt)} ${a.title}`).join(' · ')}`,
          ),
        );
      }
      return release;
    },
  );
}

/**
 * Hours worked on site (`/v1/sites/:id/worker-hours`: worn work-mode helmets inside the geofence), as bars per
 * hour over 24 h or per day over 7 or 30 days, ending at the site's latest helmet reading.
 */
function workerHoursChart(card, sites, devices) {
  const helmetsAt = new Map();
  for (const d of devices) {
    if (d.kind !== 'helmet') continue;
    const list = helmetsAt.get(d.siteId) ?? [];
    list.push(d);
    helmetsAt.set(d.siteId, list);
  }
  const staffed = sites.filter((s) => helmetsAt.has(s.id));
  if (staffed.length === 0) {
    card.append(h('p', {}, 'No helmets at this borrower’s sites.'));
    return;
  }
  const siteSel = h(
    'select',
    { id: 'worker-site', 'aria-label': 'site' },
    staffed.map((s) => h('option', { value: s.id }, `${s.name} (${helmetsAt.get(s.id).length} helmets)`)),
  );
  const labels = ['last 24 h, per hour', 'last 7 days, per day', 'last 30 days, per day'];
  chartPanel(card, siteSel, 'worker-range', labels, async (id, days, holder) => {
    const site = staffed.find((s) => s.id === id);
    if (!site) return undefined;
    const helmets = helmetsAt.get(site.id);
    const windowMs = days === 1 ? 3_600_000 : DAY_MS;
    // Windows end at the site's latest helmet reading (simulated device time can differ from the wall clock).
    const latest = Math.max(0, ...helmets.map((d) => d.lastSeenAt ?? 0)) || Date.now();
    const to = Math.ceil((latest + 1) / windowMs) * windowMs;
    const from = to - days * DAY_MS;
    const q = new URLSearchParams({ from: String(from), to: String(to), windowMs: String(windowMs) });
    const [wh, marks] = await Promise.all([
      api(`/v1/sites/${encodeURIComponent(site.id)}/worker-hours?${q}`),
      alertsAbout(site.borrowerId, new Set(helmets.map((d) => d.id)), from, to),
    ]);
    holder.replaceChildren(
      h('p', { id: 'worker-total' }, `${wh.totalHours.toFixed(1)} worker-hours on site in the range`),
    );
    const opts = {
      height: 200,
      series: [
        {},
        {
          label: days === 1 ? 'hours this hour' : 'hours this day',
          stroke: '#6a1b9a',
          fill: '#6a1b9a55',
          paths: uPlot.paths.bars({ size: [0.8, 40], align: 1 }),
          points: { show: false },
        },
      ],
      // The whole range on x (each bar starts at its window and spans it), hours from 0 on y.
      scales: {
        x: { time: true, range: () => [from / 1000, to / 1000] },
        y: { range: (_u, _min, max) => [0, Math.max(1, max)] },
      },
      plugins: [alertMarkers(marks)],
    };
    const data = [wh.points.map((p) => p.startMs / 1000), wh.points.map((p) => p.hours)];
    return plot(card, opts, data, holder);
  });
}

/** A uPlot plugin drawing each alert's opening time as a red dashed vertical line. */
function alertMarkers(alerts) {
  const draw = (u) => {
    const { ctx, bbox } = u;
    ctx.save();
    ctx.strokeStyle = '#c62828';
    ctx.lineWidth = 2;
    ctx.setLineDash([6, 4]);
    for (const a of alerts) {
      const x = Math.round(u.valToPos(a.openedAt / 1000, 'x', true));
      if (x < bbox.left || x > bbox.left + bbox.width) continue;
      ctx.beginPath();
      ctx.moveTo(x, bbox.top);
      ctx.lineTo(x, bbox.top + bbox.height);
      ctx.stroke();
    }
    ctx.restore();
  };
  return { hooks: { draw: [draw] } };
}

async function loanTables(card, loans) {
  if (loans.length === 0) {
    card.append(h('p', {}, 'No loans.'));
    return;
  }
  const repayments = await Promise.all(
    loans.map((l) => api(`/v1/loans/${encodeURIComponent(l.id)}/repayments?limit=500`)),
  );
  loans.forEach((l, i) => {
    const reps = repayments[i]?.items ?? [];
    const late = reps.filter((r) => (r.paidAt ?? Date.now()) > r.dueAt && r.amountPaid < r.amountDue).length;
    card.append(
      h('h3', {}, `${l.id}: ${l.principal} ${l.currency} · ${l.status} · since ${fmtTime(l.startAt)}`),
      h('p', {}, `${reps.length} instalments, ${late} late or short`),
      h(
        'details',
        {},
        h('summary', {}, 'Repayments'),
        h(
          'table',
          {},
          h(
            'tr',
            {},
            ['Due', 'Amount due', 'Paid', 'Amount paid'].map((t) => h('th', {}, t)),
          ),
          reps.map((r) =>
            h(
              'tr',
              {},
              h('td', {}, fmtTime(r.dueAt)),
              h('td', {}, r.amountDue),
              h('td', {}, fmtTime(r.paidAt)),
              h('td', {}, r.amountPaid),
            ),
          ),
        ),
      ),
    );
  });
}

// ---- alerts ---------------------------------------------------------------------------------------------
function alertRow(a, live = false) {
  const actions = h('td', { class: 'actions' });
  if (canAct() && a.status === 'open') {
    actions.append(
      h(
        'button',
        { type: 'button', class: 'ack', onclick: (e) => actionDialog(a, 'acknowledge', e.currentTarget) },
        'Acknowledge',
      ),
      ' ',
    );
  }
  if (canAct() && a.status !== 'resolved') {
    actions.append(
      h(
        'button',
        { type: 'button', class: 'resolve', onclick: (e) => actionDialog(a, 'resolve', e.currentTarget) },
        'Resolve',
      ),
    );
  }
  return h(
    'tr',
    { id: `alert-${a.id}`, class: live ? 'live' : undefined, 'data-status': a.status },
    timeCell(a.openedAt),
    h('td', {}, a.severity),
    h('td', { class: 'status' }, a.status),
    h(
      'td',
      {},
      a.borrowerId ? h('a', { href: `#/borrower/${encodeURIComponent(a.borrowerId)}` }, a.borrowerId) : '—',
    ),
    h('td', {}, a.title),
    actions,
  );
}

function alertTable(items, id) {
  return h(
    'table',
    { id },
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        ['Opened', 'Severity', 'Status', 'Borrower', 'What', ''].map((t) => h('th', {}, t)),
      ),
    ),
    h(
      'tbody',
      {},
      items.map((a) => alertRow(a)),
    ),
  );
}

/**
 * Acknowledge (comment optional) or resolve (comment required) in a modal dialog. A failure is shown in the
 * dialog, which stays open; Cancel or Escape closes it; focus returns to the alert's row.
 */
function actionDialog(alert, action, opener) {
  const resolving = action === 'resolve';
  const verb = resolving ? 'Resolve' : 'Acknowledge';
  const comment = h('textarea', {
    id: 'action-comment',
    name: 'comment',
    rows: 4,
    maxlength: 2000,
    required: resolving,
    autofocus: true,
  });
  const msg = h('p', { class: 'error', role: 'alert' });
  const cancel = h('button', { type: 'button', class: 'cancel' }, 'Cancel');
  const submit = h('button', { type: 'submit', class: 'primary' }, verb);
  const form = h(
    'form',
    {},
    h('h2', { id: 'action-title' }, `${verb} alert`),
    h('p', {}, alert.title),
    h('label', { for: 'action-comment' }, resolving ? 'Comment (required)' : 'Comment (optional)'),
    comment,
    msg,
    h('div', { class: 'buttons' }, cancel, submit),
  );
  const dialog = h('dialog', { id: 'action-dialog', 'aria-labelledby': 'action-title' }, form);
  cancel.addEventListener('click', () => dialog.close());
  dialog.addEventListener('close', () => {
    dialog.remove();
    const target = opener.isConnected
      ? opener
      : document.getElementById(`alert-${alert.id}`)?.querySelector('button, a');
    target?.focus();
  });
  const send = async () => {
    const text = comment.value.trim();
    if (resolving && text === '') {
      msg.textContent = 'A comment is required to resolve an alert.';
      comment.focus();
      return;
    }
    msg.textContent = '';
    submit.disabled = true;
    try {
      const a = await api(`/v1/alerts/${encodeURIComponent(alert.id)}/${action}`, {
        method: 'POST',
        body: JSON.stringify(text === '' ? {} : { comment: text }),
      });
      document.getElementById(`alert-${a.id}`)?.replaceWith(alertRow(a));
      dialog.close();
    } catch (err) {
      msg.textContent = `${verb} failed: ${err.message}`;
      submit.disabled = false;
    }
  };
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    void send();
  });
  document.body.append(dialog);
  dialog.showModal();
}

/** The alerts page's status filter: '' is every alert not yet resolved. */
const ALERT_FILTERS = [
  ['', 'open or acknowledged'],
  ['open', 'open'],
  ['acknowledged', 'acknowledged'],
  ['resolved', 'resolved'],
];
const ALERT_LIMIT = 100;

async function alertsPage(params) {
  const status = params.get('status') ?? '';
  const borrowerId = params.get('borrowerId') ?? '';
  const statuses = status === '' ? ['open', 'acknowledged'] : [status];
  const matches = (a) => statuses.includes(a.status) && (borrowerId === '' || a.borrowerId === borrowerId);
  // One list per status (the API filters by one), merged newest first: the newest 100 of the union.
  const lists = await Promise.all(
    statuses.map((s) =>
      api(
        `/v1/alerts?${new URLSearchParams({ status: s, limit: String(ALERT_LIMIT), ...(borrowerId ? { borrowerId } : {}) })}`,
      ),
    ),
  );
  const merged = lists
    .flatMap((l) => l.items)
    .sort((a, b) => b.openedAt - a.openedAt || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0));
  const more = merged.length > ALERT_LIMIT || lists.some((l) => l.nextCursor !== undefined);
  const table = alertTable(merged.slice(0, ALERT_LIMIT), 'alerts');

  const statusSel = h(
    'select',
    { id: 'alert-status', 'aria-label': 'status' },
    ALERT_FILTERS.map(([v, label]) => h('option', { value: v, selected: v === status }, label)),
  );
  statusSel.addEventListener('change', () => {
    location.hash = hashOf('/alerts', { status: statusSel.value, borrowerId });
  });
  const borrowerIn = h('input', {
    id: 'alert-borrower',
    type: 'search',
    placeholder: 'borrower id',
    'aria-label': 'borrower id',
    value: borrowerId,
    size: 12,
  });
  const filters = h(
    'form',
    { class: 'toolbar', id: 'alert-filters' },
    h('label', {}, 'Status ', statusSel),
    h('label', {}, 'Borrower ', borrowerIn),
    h('button', { type: 'submit' }, 'Filter'),
    borrowerId ? h('a', { href: hashOf('/alerts', { status }) }, 'all borrowers') : null,
  );
  filters.addEventListener('submit', (e) => {
    e.preventDefault();
    location.hash = hashOf('/alerts', { status, borrowerId: borrowerIn.value.trim() });
  });
  const streamStatus = h('p', { id: 'stream-status' }, 'Live feed: connecting…');
  page(
    borrowerId ? `Alerts of ${borrowerId}` : 'Alerts',
    streamStatus,
    h(
      'div',
      { class: 'card' },
      filters,
      table,
      more ? h('p', {}, `The newest ${ALERT_LIMIT} are shown: narrow the filter to see older ones.`) : null,
    ),
  );
  const tbody = table.querySelector('tbody');
  follow(
    (evt) => {
      const a = evt.data?.alert;
      if (!a || !tbody) return;
      // A row on screen shows its alert's new status even when that leaves the filter (the officer sees
      // what happened to it); alerts not on screen are added only when they match.
      const old = document.getElementById(`alert-${a.id}`);
      if (old) old.replaceWith(alertRow(a, true));
      else if (matches(a)) tbody.prepend(alertRow(a, true));
    },
    (text) => {
      streamStatus.textContent = `Live feed: ${text}`;
    },
  );
}

/**
 * The SSE stream read with fetch, so the key travels in the Authorization header (EventSource cannot send
 * headers, and a key in the URL would land in logs and history). Reconnects with Last-Event-ID.
 */
function follow(onEvent, onStatus) {
  stream?.abort();
  const ctrl = new AbortController();
  stream = ctrl;
  let lastId;
  const run = async () => {
    while (!ctrl.signal.aborted) {
      try {
        const headers = {
          authorization: `Bearer ${sessionStorage.getItem(KEY) ?? ''}`,
          accept: 'text/event-stream',
        };
        if (lastId !== undefined) headers['last-event-id'] = lastId;
        const res = await fetch('/v1/alerts/stream?types=alert.opened,alert.acknowledged,alert.resolved', {
          headers,
          signal: ctrl.signal,
        });
        if (!res.ok || !res.body) throw new Error(`HTTP ${res.status}`);
        onStatus('connected');
        const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
        let buf = '';
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buf += value;
          let cut;
          while ((cut = buf.indexOf('\n\n')) >= 0) {
            const block = buf.slice(0, cut);
            buf = buf.slice(cut + 2);
            let data = '';
            for (const line of block.split('\n')) {
              if (line.startsWith('id:')) lastId = line.slice(3).trim();
              else if (line.startsWith('data:')) data += line.slice(5).trim();
            }
            if (data) onEvent(JSON.parse(data));
          }
        }
        onStatus('reconnecting…');
      } catch (err) {
        if (ctrl.signal.aborted) return;
        onStatus(`reconnecting (${err.message})…`);
      }
      await new Promise((r) => setTimeout(r, 2000));
    }
  };
  void run();
}

// ---- devices --------------------------------------------------------------------------------------------
const PRESENCE = ['online', 'offline', 'unknown'];
const KIND_COLUMNS = [
  ['devices', 'Devices'],
  ['active', 'Active'],
  ['online', 'Online'],
  ['offline', 'Offline'],
  ['unknown', 'Unknown'],
  ['lowBattery', 'Low battery'],
  ['stale', 'Stale'],
  ['neverReported', 'Never reported'],
];

/** A fleet-wide count, its key in `data-count` (read by the e2e test against the API). */
const count = (key, label, n, cls) =>
  h('span', { class: cls }, `${label} `, h('b', { 'data-count': key }, fmtCount(n)));

const fleetCounts = (fleet) =>
  h(
    'div',
    { class: 'card counts', id: 'fleet' },
    count('devices', 'Devices', fleet.devices),
    count('active', 'active', fleet.active),
    count('revoked', 'revoked', fleet.revoked),
    count('online', 'online', fleet.presence?.online, 'online'),
    count('offline', 'offline', fleet.presence?.offline, 'offline'),
    count('unknown', 'unknown', fleet.presence?.unknown),
    count('lowBattery', `battery under ${fleet.lowBatteryPct} %:`, fleet.lowBattery),
    count('stale', `silent over ${fmtDuration(fleet.staleMs)}:`, fleet.stale),
    count('neverReported', 'never reported:', fleet.neverReported),
    h('small', {}, `as of ${fmtTime(fleet.at)}`),
  );

async function devicesPage(params) {
  const presence = PRESENCE.includes(params.get('presence') ?? '') ? (params.get('presence') ?? '') : '';
  const cursor = params.get('cursor') ?? '';
  const back = params.get('back') ?? '';
  const q = new URLSearchParams({ limit: '200' });
  if (presence !== '') q.set('presence', presence);
  if (cursor !== '') q.set('cursor', cursor);
  // An API without the fleet summary (404) lists devices only, without presence filter.
  const fleet = await optional(api('/v1/devices/summary'));
  if (fleet === undefined) q.delete('presence');
  const list = await api(`/v1/devices?${q}`);
  const kinds = Object.keys(fleet?.byKind ?? {}).sort();
  const select = h(
    'select',
    { id: 'presence-filter', 'aria-label': 'presence' },
    h('option', { value: '' }, 'all'),
    PRESENCE.map((p) => h('option', { value: p, selected: p === presence }, p)),
  );
  select.addEventListener('change', () => {
    location.hash = hashOf('/devices', { presence: select.value });
  });
  const next =
    list.nextCursor === undefined
      ? undefined
      : hashOf('/devices', { presence, cursor: list.nextCursor, back: location.hash });
  page(
    'Devices',
    fleet === undefined
      ? h('p', { class: 'card' }, 'Fleet-wide counts are not available from this API.')
      : fleetCounts(fleet),
    kinds.length === 0
      ? null
      : h(
          'div',
          { class: 'card' },
          h(
            'table',
            { id: 'fleet-kinds' },
            h(
              'thead',
              {},
              h(
                'tr',
                {},
                h('th', {}, 'Kind'),
                KIND_COLUMNS.map(([, label]) => h('th', { class: 'num' }, label)),
              ),
            ),
            h(
              'tbody',
              {},
              kinds.map((k) =>
                h(
                  'tr',
                  { 'data-kind': k },
                  h('td', {}, k),
                  KIND_COLUMNS.map(([key]) =>
                    h('td', { class: 'num', 'data-count': key }, fmtCount(fleet.byKind[k][key])),
                  ),
                ),
              ),
            ),
          ),
        ),
    h(
      'div',
      { class: 'card' },
      fleet === undefined ? null : h('div', { class: 'toolbar' }, h('label', {}, 'Presence ', select)),
      h(
        'table',
        { id: 'devices' },
        h(
          'thead',
          {},
          h(
            'tr',
            {},
            ['Device', 'Kind', 'Borrower', 'Presence', 'Last seen', 'Battery'].map((t) => h('th', {}, t)),
          ),
        ),
        h(
          'tbody',
          {},
          list.items.length === 0
            ? h(
                'tr',
                {},
                h('td', { colspan: 6 }, presence === '' ? 'No devices.' : `No device is ${presence}.`),
              )
            : list.items.map((d) =>
                h(
                  'tr',
                  { 'data-presence': d.presence },
                  h('td', {}, d.id),
                  h('td', {}, d.kind),
                  h(
                    'td',
                    {},
                    h('a', { href: `#/borrower/${encodeURIComponent(d.borrowerId)}` }, d.borrowerId),
                  ),
                  h('td', { class: d.presence }, d.status === 'revoked' ? 'revoked' : d.presence),
                  timeCell(d.lastSeenAt),
                  h('td', {}, typeof d.batteryPct === 'number' ? `${Math.round(d.batteryPct)} %` : '—'),
                ),
              ),
        ),
      ),
      pagerLinks(back, next),
    ),
  );
}

// ---- routing --------------------------------------------------------------------------------------------
async function route() {
  const [path = '', query = ''] = location.hash.slice(1).split('?');
  const params = new URLSearchParams(query);
  if (path !== '/alerts') {
    stream?.abort();
    stream = null;
  }
  if (sessionStorage.getItem(KEY) === null || path === '/login') {
    document.getElementById('nav').hidden = true;
    loginPage();
    return;
  }
  if (me === null) me = await api('/v1/me');
  document.getElementById('nav').hidden = false;
  document.getElementById('who').textContent = `${me.name} (${me.role})`;
  const borrower = /^\/borrower\/(.+)$/.exec(path);
  if (borrower) await borrowerPage(decodeURIComponent(borrower[1]));
  else if (path === '/alerts') await alertsPage(params);
  // device-ops keys read devices only.
  else if (path === '/devices' || me.role === 'device-ops') await devicesPage(params);
  else await portfolioPage(params);
  main.dataset.ready = path || '/portfolio';
}

function start() {
  document.getElementById('logout')?.addEventListener('click', logout);
  const go = () => {
    delete main.dataset.ready;
    route().catch(showError);
  };
  window.addEventListener('hashchange', go);
  go();
}

start();
