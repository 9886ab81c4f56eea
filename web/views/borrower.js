// A borrower's page: score, reasons and inputs, history, credit (EL, coverage, lots), map, readings, worker-hours, loans, alerts.
import { get, optional } from '../core/api.js';
import { plot } from '../core/charts.js';
import { gradeEl, h, page } from '../core/dom.js';
import { DAY_MS, fmtPd, fmtTime } from '../core/format.js';
import { hashOf } from '../core/router.js';
import { alertTable } from './alert-table.js';
import { creditCard } from './borrower-credit.js';
import { readingsChart, workerHoursChart } from './borrower-charts.js';
import { drawMap } from './borrower-map.js';

export async function borrowerPage(id) {
  page(`Borrower ${id}`, h('p', {}, 'Loading…'));
  const [borrower, score, history, sites, lots, devices, loans, alerts, credit] = await Promise.all([
    get('/v1/borrowers/{id}', { id }),
    optional(get('/v1/borrowers/{id}/score', { id })),
    scoreHistory(id),
    get('/v1/sites', { borrowerId: id, limit: 500 }),
    get('/v1/lots', { borrowerId: id, limit: 500 }),
    get('/v1/devices', { borrowerId: id, limit: 500 }),
    get('/v1/loans', { borrowerId: id, limit: 100 }),
    // 404 when the alerts component is not wired into this API (`riskfuse api` without it).
    optional(get('/v1/alerts', { borrowerId: id, limit: 20 })),
    // 404 likewise when the credit component is not wired in.
    optional(get('/v1/borrowers/{id}/credit', { id })),
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
    creditCard(credit),
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
async function scoreHistory(id) {
  const now = Date.now();
  const [days, recent] = await Promise.all([
    get('/v1/borrowers/{id}/scores', {
      id,
      per: 'day',
      from: now - 180 * DAY_MS,
      to: now + DAY_MS,
      limit: 200,
    }),
    get('/v1/borrowers/{id}/scores', { id, from: now - 2 * DAY_MS, limit: 500 }),
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

async function loanTables(card, loans) {
  if (loans.length === 0) {
    card.append(h('p', {}, 'No loans.'));
    return;
  }
  const repayments = await Promise.all(
    loans.map((l) => get('/v1/loans/{id}/repayments', { id: l.id, limit: 500 })),
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
