// Model health: every model version — the champion beside its challengers — with its drift against its
// training reference (PSI of the score and of each input: stable < 0.1 ≤ moderate ≤ 0.25 < major) and its
// backtest on the outcomes that have arrived (AUC, KS, predicted vs observed default rate per grade). One
// version's detail below the list: the champion's unless `?version=` names another. Data: GET
// /v1/models/health, /v1/models/{version}/drift and /v1/models/{version}/backtest (api/routes/model-health.ts).
import { get } from '../core/api.js';
import { h, page } from '../core/dom.js';
import { fmtCount, fmtPd } from '../core/format.js';
import { hashOf } from '../core/router.js';

/** PSI and AUC-like figures to three decimals; '—' when absent. */
export const fmt3 = (x) => (typeof x === 'number' ? x.toFixed(3) : '—');
const day = (ms) => (typeof ms === 'number' ? new Date(ms).toISOString().slice(0, 10) : '—');
const bandEl = (band) => (band ? h('span', { class: `band band-${band}` }, band) : '—');

const SOURCE = {
  training: 'training rows',
  'first-scored': 'first scored population (no training reference)',
};

function versionsTable(items, selected) {
  return h(
    'table',
    { id: 'model-health' },
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        [
          'Version',
          'Status',
          'Model',
          'Reference',
          'Drift day',
          'Drift',
          'Score PSI',
          'Worst input',
          'Labelled',
          'Defaults',
          'AUC',
          'KS',
        ].map((t) => h('th', {}, t)),
      ),
    ),
    h(
      'tbody',
      {},
      items.map((m) =>
        h(
          'tr',
          {
            'data-version': m.version,
            'data-status': m.status,
            'data-band': m.drift?.band ?? '',
            class: m.version === selected ? 'selected' : undefined,
          },
          h('td', {}, h('a', { href: hashOf('/models', { version: m.version }) }, m.version)),
          h('td', {}, m.status),
          h('td', {}, m.name),
          h('td', {}, m.reference ? m.reference.source : '—'),
          h('td', {}, day(m.drift?.day)),
          h('td', { 'data-field': 'band' }, bandEl(m.drift?.band)),
          h('td', { class: 'num', 'data-field': 'scorePsi' }, fmt3(m.drift?.scorePsi)),
          h(
            'td',
            { 'data-field': 'worst' },
            m.drift?.worstInput ? `${m.drift.worstInput} ${fmt3(m.drift.worstPsi)}` : '—',
          ),
          h('td', { class: 'num', 'data-field': 'labelled' }, fmtCount(m.backtest?.labelled)),
          h('td', { class: 'num', 'data-field': 'defaults' }, fmtCount(m.backtest?.defaults)),
          h('td', { class: 'num', 'data-field': 'auc' }, fmt3(m.backtest?.auc)),
          h('td', { class: 'num', 'data-field': 'ks' }, fmt3(m.backtest?.ks)),
        ),
      ),
    ),
  );
}

function driftCard(drift) {
  const last = drift.items[0];
  if (last === undefined)
    return h('div', { class: 'card' }, h('p', {}, 'No drift computed yet for this version.'));
  const inputs = Object.entries(last.inputs).sort((a, b) => b[1].psi - a[1].psi);
  return h(
    'div',
    { class: 'card' },
    h('h2', {}, `Drift on ${day(last.day)}: `, bandEl(last.band)),
    h(
      'p',
      {},
      `${fmtCount(last.population)} borrowers against the ${SOURCE[last.referenceSource] ?? last.referenceSource}; score PSI ${fmt3(last.scorePsi)}.`,
    ),
    h(
      'table',
      { id: 'drift-inputs' },
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          ['Input', 'PSI', 'Band', 'Missing (reference)', 'Missing (now)'].map((t) => h('th', {}, t)),
        ),
      ),
      h(
        'tbody',
        {},
        inputs.map(([name, d]) =>
          h(
            'tr',
            { 'data-input': name, 'data-band': d.band },
            h('td', {}, name),
            h('td', { class: 'num' }, fmt3(d.psi)),
            h('td', {}, bandEl(d.band)),
            h('td', { class: 'num' }, `${(d.missingReference * 100).toFixed(0)} %`),
            h('td', { class: 'num' }, `${(d.missingCurrent * 100).toFixed(0)} %`),
          ),
        ),
      ),
    ),
    drift.items.length > 1
      ? h(
          'p',
          { id: 'drift-days' },
          'Earlier days: ',
          drift.items
            .slice(1)
            .map((d) => h('span', { 'data-day': d.day }, `${day(d.day)} `, bandEl(d.band), ' ')),
        )
      : null,
  );
}

function backtestCard(backtest) {
  const last = backtest.items[0];
  if (last === undefined)
    return h('div', { class: 'card' }, h('p', {}, 'No backtest computed yet for this version.'));
  return h(
    'div',
    { class: 'card' },
    h('h2', {}, `Backtest on ${day(last.day)}`),
    h(
      'p',
      {},
      `${fmtCount(last.labelled)} scores with a known outcome (default within ${last.horizonDays} days), ${fmtCount(last.defaults)} defaults, ${fmtCount(last.pending)} still pending; AUC ${fmt3(last.auc)}, KS ${fmt3(last.ks)}, mean PD ${last.meanPd === null ? '—' : fmtPd(last.meanPd)} against ${last.observedRate === null ? '—' : fmtPd(last.observedRate)} observed.`,
    ),
    h(
      'table',
      { id: 'backtest-grades' },
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          ['Grade', 'Scores', 'Defaults', 'Predicted', 'Observed'].map((t) => h('th', {}, t)),
        ),
      ),
      h(
        'tbody',
        {},
        last.grades.map((g) =>
          h(
            'tr',
            { 'data-grade': g.grade },
            h('td', {}, g.grade),
            h('td', { class: 'num' }, fmtCount(g.count)),
            h('td', { class: 'num' }, fmtCount(g.defaults)),
            h('td', { class: 'num' }, fmtPd(g.meanPd)),
            h('td', { class: 'num' }, fmtPd(g.observedRate)),
          ),
        ),
      ),
    ),
  );
}

export async function modelHealthPage(params) {
  const { items } = await get('/v1/models/health');
  const wanted = params.get('version');
  const selected =
    items.find((m) => m.version === wanted)?.version ?? items.find((m) => m.status === 'champion')?.version;
  const intro = h(
    'p',
    {},
    'Population stability (PSI) of each model input and of the score against the version’s training reference, ' +
      'and backtests of its past scores on the outcomes that have arrived; computed daily. ' +
      'PSI under 0.1 is stable, 0.1–0.25 a moderate shift (warning alert), over 0.25 a major one (critical alert, champion only).',
  );
  if (selected === undefined) {
    page('Model health', h('div', { class: 'card' }, intro, h('p', {}, 'No model is registered.')));
    return;
  }
  const [drift, backtest] = await Promise.all([
    get('/v1/models/{version}/drift', { version: selected, limit: 14 }),
    get('/v1/models/{version}/backtest', { version: selected, limit: 1 }),
  ]);
  page(
    'Model health',
    h('div', { class: 'card' }, intro, versionsTable(items, selected)),
    h('h2', { id: 'model-detail', 'data-version': selected }, `Version ${selected} (${drift.status})`),
    driftCard(drift),
    backtestCard(backtest),
  );
}
