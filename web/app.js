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

const fmtTime = (ms) => (ms === undefined ? '—' : new Date(ms).toLocaleString());
const fmtPd = (pd) => `${(pd * 100).toFixed(2)} %`;
const gradeEl = (g) => h('span', { class: `grade grade-${g}` }, g);
const canAct = () => me !== null && (me.role === 'admin' || me.role === 'officer');

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
  main.replaceChildren(h('h1', {}, title), ...content);
  document.title = `${title} · riskfuse`;
}

function showError(err) {
  main.append(h('p', { class: 'error', role: 'alert' }, err instanceof Error ? err.message : String(err)));
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
async function portfolioPage(params) {
  const grade = params.get('grade') ?? '';
  const cursor = params.get('cursor') ?? '';
  const back = params.get('back') ?? '';
  const summaryEl = h('div', { class: 'card counts', id: 'summary' }, 'Loading…');
  const select = h(
    'select',
    { id: 'grade-filter', 'aria-label': 'grade' },
    h('option', { value: '' }, 'all grades'),
    ['A', 'B', 'C', 'D', 'E', 'F', 'G'].map((g) => h('option', { value: g, selected: g === grade }, g)),
  );
  select.addEventListener('change', () => {
    location.hash = `#/portfolio?grade=${select.value}`;
  });
  const search = h('input', { id: 'search', placeholder: 'borrower id', 'aria-label': 'borrower id' });
  const find = h('form', { class: 'inline' }, search, ' ', h('button', { type: 'submit' }, 'Open'));
  find.addEventListener('submit', (e) => {
    e.preventDefault();
    if (search.value.trim() !== '') location.hash = `#/borrower/${encodeURIComponent(search.value.trim())}`;
  });
  const tbody = h('tbody');
  const pager = h('div');
  page(
    'Portfolio',
    summaryEl,
    h(
      'div',
      { class: 'card' },
      h('div', {}, 'Grade ', select, ' · Find ', find),
      h(
        'table',
        { id: 'ranking' },
        h(
          'thead',
          {},
          h(
            'tr',
            {},
            ['#', 'Borrower', 'PD', 'Grade', 'Score', 'Model', 'Scored'].map((t) => h('th', {}, t)),
          ),
        ),
        tbody,
      ),
      pager,
    ),
  );
  const q = new URLSearchParams({ limit: '50' });
  if (grade) q.set('grade', grade);
  if (cursor) q.set('cursor', cursor);
  const [summary, ranking] = await Promise.all([api('/v1/portfolio/summary'), api(`/v1/scores?${q}`)]);
  const byGrade = summary.byGrade ?? {};
  summaryEl.replaceChildren(
    h('span', {}, `Borrowers ${summary.borrowers ?? '—'}`),
    h(
      'span',
      {},
      'Open alerts ',
      h('a', { href: '#/alerts', id: 'open-alerts' }, String(summary.openAlerts ?? '—')),
    ),
    ...Object.keys(byGrade)
      .sort()
      .map((g) => h('span', {}, gradeEl(g), ` ${byGrade[g]}`)),
  );
  const offset = Number(params.get('offset') ?? 0);
  tbody.replaceChildren(
    ...ranking.items.map((s, i) =>
      h(
        'tr',
        {},
        h('td', {}, offset + i + 1),
        h('td', {}, h('a', { href: `#/borrower/${encodeURIComponent(s.borrowerId)}` }, s.borrowerId)),
        h('td', {}, fmtPd(s.pd)),
        h('td', {}, gradeEl(s.grade)),
        h('td', {}, s.score),
        h('td', {}, s.modelVersion),
        h('td', {}, fmtTime(s.at)),
      ),
    ),
  );
  if (ranking.items.length === 0) tbody.append(h('tr', {}, h('td', { colspan: 7 }, 'No scores yet.')));
  // Cursor paging: the previous page's hash is carried along, so "Previous" is a plain link.
  const here = location.hash;
  if (back) pager.append(h('a', { href: decodeURIComponent(back) }, '← Previous'), ' ');
  if (ranking.nextCursor) {
    const next = new URLSearchParams({ grade, cursor: ranking.nextCursor, offset: String(offset + 50) });
    next.set('back', encodeURIComponent(here));
    pager.append(h('a', { href: `#/portfolio?${next}`, id: 'next-page' }, 'Next →'));
  }
}

// ---- borrower -------------------------------------------------------------------------------------------
const optional = (p) => p.catch((err) => (err.status === 404 ? undefined : Promise.reject(err)));

async function borrowerPage(id) {
  page(`Borrower ${id}`, h('p', {}, 'Loading…'));
  const enc = encodeURIComponent(id);
  const [borrower, score, history, sites, lots, devices, loans, alerts] = await Promise.all([
    api(`/v1/borrowers/${enc}`),
    optional(api(`/v1/borrowers/${enc}/score`)),
    api(`/v1/borrowers/${enc}/scores?limit=500`),
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
  }
  const historyCard = h('div', { class: 'card', id: 'history' }, h('h2', {}, 'Score history'));
  const mapCard = h(
    'div',
    { class: 'card' },
    h('h2', {}, 'Sites, lots and devices'),
    h('div', { id: 'map' }),
  );
  const readingsCard = h('div', { class: 'card', id: 'readings' }, h('h2', {}, 'Device readings'));
  const loansCard = h('div', { class: 'card', id: 'loans' }, h('h2', {}, 'Loans'));
  const alertsCard = h('div', { class: 'card' }, h('h2', {}, 'Alerts'), alertTable(alerts?.items ?? []));
  page(
    `${borrower.name} (${borrower.id})`,
    h('p', {}, `${borrower.sector} · ${borrower.region}`),
    h('div', { class: 'grid' }, scoreCard, historyCard),
    mapCard,
    readingsCard,
    h('div', { class: 'grid' }, loansCard, alertsCard),
  );
  historyChart(historyCard, history.items);
  drawMap(sites.items, lots.items, devices.items);
  readingsChart(readingsCard, devices.items);
  await loanTables(loansCard, loans.items);
}

function chartWidth(el) {
  return Math.max(280, el.clientWidth - 32);
}

function historyChart(card, items) {
  if (items.length === 0) {
    card.append(h('p', {}, 'No history yet.'));
    return;
  }
  const rows = [...items].reverse();
  const versions = [...new Set(rows.map((s) => s.modelVersion))];
  card.append(h('p', {}, `Model version${versions.length > 1 ? 's' : ''}: ${versions.join(', ')}`));
  const data = [rows.map((s) => s.at / 1000), rows.map((s) => s.pd * 100)];
  const opts = {
    width: chartWidth(card),
    height: 220,
    series: [
      {},
      {
        label: 'PD %',
        stroke: '#c62828',
        value: (_u, v, _s, i) =>
          v === null || i === null ? '—' : `${v.toFixed(2)} % (${rows[i]?.modelVersion ?? ''})`,
      },
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
  new uPlot(opts, data, card);
}

function drawMap(sites, lots, devices) {
  // No tile layer: vector shapes only, so the map works offline.
  const map = L.map('map', { attributionControl: false });
  const bounds = [];
  for (const s of sites) {
    if (s.geofence.length >= 3) {
      L.polygon(s.geofence, { color: '#1d5fbf' }).addTo(map).bindTooltip(`${s.name} (${s.kind})`);
      bounds.push(...s.geofence);
    }
    L.circleMarker([s.lat, s.lon], { radius: 4, color: '#1d2b45' }).addTo(map).bindTooltip(s.name);
    bounds.push([s.lat, s.lon]);
  }
  const lotNames = new Map(lots.map((l) => [l.id, `${l.commodity} ${l.pledgedWeightKg} kg`]));
  for (const d of devices) {
    const f = d.lastReading?.fields;
    if (typeof f?.lat !== 'number' || typeof f?.lon !== 'number') continue;
    const color = d.kind === 'stake' ? '#b58900' : '#6a1b9a';
    const lot = d.lotId ? ` · lot ${d.lotId} (${lotNames.get(d.lotId) ?? '?'})` : '';
    L.circleMarker([f.lat, f.lon], { radius: 6, color, fillOpacity: 0.7 })
      .addTo(map)
      .bindTooltip(`${d.kind} ${d.id}${lot} · ${d.presence}`);
    bounds.push([f.lat, f.lon]);
  }
  if (bounds.length > 0) map.fitBounds(bounds, { padding: [20, 20], maxZoom: 17 });
  else map.setView([0, 0], 2);
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
  const rangeSel = h(
    'select',
    { id: 'range', 'aria-label': 'range' },
    h('option', { value: '1' }, 'last 24 h'),
    h('option', { value: '7', selected: true }, 'last 7 days'),
    h('option', { value: '30' }, 'last 30 days'),
  );
  const holder = h('div');
  card.append(h('p', {}, deviceSel, ' ', rangeSel), holder);
  const draw = async () => {
    const device = charted.find((d) => d.id === deviceSel.value);
    if (!device) return;
    const days = Number(rangeSel.value);
    // The range ends at the device's latest reading: device time can run ahead of the wall clock (simulation).
    const to = (device.lastSeenAt ?? Date.now()) + 1;
    const q = new URLSearchParams({
      deviceId: device.id,
      fields: FIELDS[device.kind].join(','),
      fns: 'mean',
      from: String(to - days * DAY_MS),
      to: String(to),
      windowMs: String(days === 1 ? 600_000 : days === 7 ? 3_600_000 : 6 * 3_600_000),
    });
    holder.replaceChildren('Loading…');
    try {
      const aq = new URLSearchParams({
        borrowerId: device.borrowerId,
        from: q.get('from') ?? '',
        to: q.get('to') ?? '',
        limit: '500',
      });
      const [agg, alerts] = await Promise.all([
        api(`/v1/telemetry/aggregate?${q}`),
        optional(api(`/v1/alerts?${aq}`)),
      ]);
      const marks = (alerts?.items ?? []).filter(
        (a) => a.deviceId === device.id || a.subjectId === device.id,
      );
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
      if (times.length === 0) holder.append(h('p', {}, 'No readings in this range.'));
      else {
        const opts = { width: chartWidth(card), height: 240, series, plugins: [alertMarkers(marks)] };
        new uPlot(opts, data, holder);
        if (marks.length > 0) {
          holder.append(
            h(
              'p',
              { class: 'marks' },
              `Alerts in range (red dashed lines): ${marks.map((a) => `${fmtTime(a.openedAt)} ${a.title}`).join(' · ')}`,
            ),
          );
        }
      }
    } catch (err) {
      holder.replaceChildren(h('p', { class: 'error' }, err.message));
    }
  };
  deviceSel.addEventListener('change', () => void draw());
  rangeSel.addEventListener('change', () => void draw());
  void draw();
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
        {
          type: 'button',
          class: 'ack',
          onclick: () => void act(a.id, 'acknowledge', {}),
        },
        'Acknowledge',
      ),
      ' ',
    );
  }
  if (canAct() && a.status !== 'resolved') {
    actions.append(
      h(
        'button',
        {
          type: 'button',
          class: 'resolve',
          onclick: () => {
            const comment = prompt('Resolution comment');
            if (comment) void act(a.id, 'resolve', { comment });
          },
        },
        'Resolve',
      ),
    );
  }
  return h(
    'tr',
    { id: `alert-${a.id}`, class: live ? 'live' : undefined, 'data-status': a.status },
    h('td', {}, fmtTime(a.openedAt)),
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

async function act(id, action, body) {
  try {
    const a = await api(`/v1/alerts/${encodeURIComponent(id)}/${action}`, {
      method: 'POST',
      body: JSON.stringify(body),
    });
    document.getElementById(`alert-${a.id}`)?.replaceWith(alertRow(a));
  } catch (err) {
    showError(err);
  }
}

async function alertsPage() {
  const status = h('p', { id: 'stream-status' }, 'Live feed: connecting…');
  const list = await api('/v1/alerts?limit=100');
  const table = alertTable(
    list.items.filter((a) => a.status !== 'resolved'),
    'alerts',
  );
  page('Alerts', status, h('div', { class: 'card' }, table));
  const tbody = table.querySelector('tbody');
  follow(
    (evt) => {
      const a = evt.data?.alert;
      if (!a || !tbody) return;
      const row = alertRow(a, true);
      const old = document.getElementById(`alert-${a.id}`);
      if (old) old.replaceWith(row);
      else tbody.prepend(row);
    },
    (text) => {
      status.textContent = `Live feed: ${text}`;
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
async function devicesPage(params) {
  const q = new URLSearchParams({ limit: '200' });
  const cursor = params.get('cursor');
  if (cursor) q.set('cursor', cursor);
  const list = await api(`/v1/devices?${q}`);
  const counts = { online: 0, offline: 0, unknown: 0 };
  for (const d of list.items) counts[d.presence] = (counts[d.presence] ?? 0) + 1;
  const lowBattery = list.items.filter((d) => typeof d.batteryPct === 'number' && d.batteryPct < 20).length;
  page(
    'Devices',
    h(
      'div',
      { class: 'card counts', id: 'fleet' },
      h('span', { class: 'online' }, `online ${counts.online}`),
      h('span', { class: 'offline' }, `offline ${counts.offline}`),
      h('span', {}, `unknown ${counts.unknown}`),
      h('span', {}, `battery under 20 %: ${lowBattery}`),
      h('small', {}, '(this page)'),
    ),
    h(
      'div',
      { class: 'card' },
      h(
        'table',
        { id: 'devices' },
        h(
          'tr',
          {},
          ['Device', 'Kind', 'Borrower', 'Presence', 'Last seen', 'Battery'].map((t) => h('th', {}, t)),
        ),
        list.items.map((d) =>
          h(
            'tr',
            {},
            h('td', {}, d.id),
            h('td', {}, d.kind),
            h('td', {}, h('a', { href: `#/borrower/${encodeURIComponent(d.borrowerId)}` }, d.borrowerId)),
            h('td', { class: d.presence }, d.status === 'revoked' ? 'revoked' : d.presence),
            h('td', {}, fmtTime(d.lastSeenAt)),
            h('td', {}, typeof d.batteryPct === 'number' ? `${Math.round(d.batteryPct)} %` : '—'),
          ),
        ),
      ),
      list.nextCursor
        ? h('a', { href: `#/devices?cursor=${encodeURIComponent(list.nextCursor)}` }, 'Next →')
        : null,
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
  else if (path === '/alerts') await alertsPage();
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
