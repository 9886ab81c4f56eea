// The portfolio table: sortable columns, cursor paging, search as you type, PD sparklines.
import { get } from '../core/api.js';
import { gradeEl, h, onLeave, page, pagerLinks, showError, timeCell } from '../core/dom.js';
import { breachLabel, fmtCoverage, fmtShare } from '../core/credit.js';
import { fmtCount, fmtMoney, fmtPd } from '../core/format.js';
import { hashOf } from '../core/router.js';

/** The API's sort keys and the order each starts in (riskiest, largest, worst first). */
const SORT_ORDER = {
  pd: 'desc',
  exposure: 'desc',
  el: 'desc',
  verifiedCoverage: 'asc',
  openAlerts: 'desc',
  name: 'asc',
};

const PAGE_SIZE = 50;

const TREND_DAYS = 30;

const COLUMNS = [
  { label: '#', class: 'num' },
  { label: 'Borrower', sort: 'name' },
  { label: 'PD', sort: 'pd', class: 'num' },
  { label: 'Grade' },
  { label: `Trend (${TREND_DAYS} d)` },
  { label: 'Exposure', sort: 'exposure', class: 'num' },
  { label: 'EAD', class: 'num' },
  { label: 'EL', sort: 'el', class: 'num' },
  { label: 'LGD', class: 'num' },
  { label: 'Coverage verified / claimed', sort: 'verifiedCoverage', class: 'num' },
  { label: 'Policy' },
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

export async function portfolioPage(params) {
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
    const res = await get('/v1/portfolio/borrowers', q);
    if (mine !== seq) return res;
    tbody.replaceChildren(...res.items.map((r, i) => portfolioRow(r, state.offset + i + 1)));
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
  const [summary] = await Promise.all([get('/v1/portfolio/summary'), load()]);
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

function portfolioRow(r, rank) {
  const s = r.score;
  const enc = encodeURIComponent(r.borrowerId);
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
    h('td', {}, sparkline(r.trend ?? [])),
    h(
      'td',
      { class: 'num' },
      r.exposure.length === 0
        ? '—'
        : r.exposure.flatMap((e, i) => [i > 0 ? h('br') : null, fmtMoney(e.currency, e.outstanding)]),
    ),
    ...creditCells(r.credit),
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

/**
 * EAD, EL, LGD, verified beside claimed coverage (red when the devices verify less than the file claims, or
 * under 1×) and policy status (the breached codes), as the credit monitor last computed them.
 */
function creditCells(c) {
  if (c === null)
    return ['num ead', 'num el', 'num lgd', 'num coverage', 'policy'].map((cls) =>
      h('td', { class: cls }, '—'),
    );
  const short =
    c.verifiedCoverage !== null && (c.verifiedCoverage < 1 || c.verifiedCoverage < (c.claimedCoverage ?? 0));
  return [
    h('td', { class: 'num ead' }, fmtMoney(c.currency, c.ead)),
    h('td', { class: 'num el' }, c.el === null ? '—' : fmtMoney(c.currency, c.el)),
    h('td', { class: 'num lgd' }, fmtShare(c.lgd)),
    h(
      'td',
      { class: short ? 'num coverage low' : 'num coverage' },
      `${fmtCoverage(c.verifiedCoverage)} / ${fmtCoverage(c.claimedCoverage)}`,
    ),
    h(
      'td',
      { class: 'policy' },
      c.policyStatus === 'ok'
        ? h('span', { class: 'ok' }, 'ok')
        : h(
            'span',
            { class: 'breach', title: c.breaches.join(', ') },
            c.breaches.map(breachLabel).join(', '),
          ),
    ),
  ];
}

/**
 * A PD sparkline: the trend as a line on a small canvas, red when the PD rose, dots when there are under three
 * points. Drawn directly: a uPlot chart per row (50 a page) cost about a second of the page's time on a busy
 * machine (bench:dashboard), for a picture with no axes, legend or cursor.
 */
function sparkline(trend) {
  const el = h('div', { class: 'spark' });
  if (trend.length === 0) {
    el.textContent = '—';
    return el;
  }
  const first = trend[0].pd;
  const last = trend[trend.length - 1].pd;
  el.title = `PD ${fmtPd(first)} → ${fmtPd(last)} over ${trend.length} day${trend.length === 1 ? '' : 's'}`;
  const color = last > first ? '#c62828' : last < first ? '#2e7d32' : '#1d5fbf';
  const width = 96;
  const height = 24;
  const pad = 3;
  const ratio = window.devicePixelRatio || 1;
  const canvas = h('canvas', { width: Math.round(width * ratio), height: Math.round(height * ratio) });
  canvas.style.width = `${width}px`;
  canvas.style.height = `${height}px`;
  el.append(canvas);
  const ctx = canvas.getContext('2d');
  if (ctx === null) return el;
  ctx.scale(ratio, ratio);
  const t0 = trend[0].at;
  const tSpan = trend[trend.length - 1].at - t0 || 1;
  const pds = trend.map((p) => p.pd);
  const lo = Math.min(...pds);
  const pdSpan = Math.max(...pds) - lo;
  const x = (p) => (trend.length === 1 ? width / 2 : pad + ((p.at - t0) / tSpan) * (width - 2 * pad));
  // A flat trend sits mid-height; otherwise the lowest PD at the bottom, the highest at the top.
  const y = (p) => (pdSpan === 0 ? height / 2 : height - pad - ((p.pd - lo) / pdSpan) * (height - 2 * pad));
  ctx.strokeStyle = color;
  ctx.fillStyle = color;
  ctx.lineWidth = 1.5;
  ctx.lineJoin = 'round';
  if (trend.length < 3) {
    for (const p of trend) {
      ctx.beginPath();
      ctx.arc(x(p), y(p), 2, 0, 2 * Math.PI);
      ctx.fill();
    }
  }
  ctx.beginPath();
  trend.forEach((p, i) => (i === 0 ? ctx.moveTo(x(p), y(p)) : ctx.lineTo(x(p), y(p))));
  ctx.stroke();
  return el;
}
