// The case inbox: alerts grouped per borrower into cases, most money at risk first; a case's timeline (its
// alerts and notes) and, for officers, taking it, investigating and closing it with an outcome.
import { api, canAct } from '../core/api.js';
import { h, page, timeCell } from '../core/dom.js';
import { fmtMoney } from '../core/format.js';
import { hashOf } from '../core/router.js';

const OUTCOMES = [
  ['confirmed-fraud', 'confirmed fraud'],
  ['false-alarm', 'false alarm'],
  ['operational-issue', 'operational issue'],
];

/** The amount and what it is: expected loss (EL) where the credit figures have one, else the exposure. */
const money = (c) =>
  c.moneyAtRisk
    ? `${fmtMoney(c.moneyAtRisk.currency, c.moneyAtRisk.amount)} ${c.moneyAtRisk.basis === 'expected-loss' ? 'EL' : 'exposure'}`
    : '—';

export async function casesPage(params) {
  const id = params.get('id');
  if (id) return casePage(id);
  const { items } = await api('/v1/cases?limit=200');
  const rows = items.map((c) =>
    h(
      'tr',
      { 'data-case': c.id },
      h('td', {}, h('a', { href: hashOf('/cases', { id: c.id }) }, c.borrowerId)),
      h('td', { class: 'num' }, money(c)),
      h('td', {}, c.status),
      h('td', { class: `sev sev-${c.maxSeverity}` }, c.maxSeverity),
      h('td', { class: 'num' }, String(c.alertCount)),
      timeCell(c.lastAlertAt),
      h('td', {}, c.owner ?? '—'),
    ),
  );
  page(
    'Cases',
    h(
      'div',
      { class: 'card' },
      h(
        'p',
        { id: 'inbox-order' },
        'Cases not closed, by money at risk: expected loss (EL = PD × LGD × EAD) where the credit figures have it, largest first; then, for borrowers without them, outstanding exposure.',
      ),
      h(
        'table',
        { id: 'case-inbox' },
        h(
          'thead',
          {},
          h(
            'tr',
            {},
            ['Borrower', 'Money at risk', 'Status', 'Severity', 'Alerts', 'Last alert', 'Owner'].map((t) =>
              h('th', {}, t),
            ),
          ),
        ),
        h('tbody', {}, rows),
      ),
      items.length === 0 ? h('p', { id: 'no-cases' }, 'No open cases.') : null,
    ),
  );
}

async function casePage(id) {
  const { case: c, timeline } = await api(`/v1/cases/${encodeURIComponent(id)}`);
  const act = async (body) => {
    await api(`/v1/cases/${encodeURIComponent(id)}/transition`, {
      method: 'POST',
      body: JSON.stringify(body),
    });
    await casePage(id);
  };
  const controls = [];
  if (canAct() && c.status !== 'closed') {
    if (c.status === 'open')
      controls.push(
        h(
          'button',
          { id: 'case-investigate', type: 'button', onclick: () => void act({ status: 'investigating' }) },
          'Investigate',
        ),
      );
    const outcome = h(
      'select',
      { id: 'case-outcome', 'aria-label': 'outcome' },
      OUTCOMES.map(([v, l]) => h('option', { value: v }, l)),
    );
    controls.push(
      h('label', {}, 'Outcome ', outcome),
      h(
        'button',
        {
          id: 'case-close',
          type: 'button',
          onclick: () => void act({ status: 'closed', outcome: outcome.value }),
        },
        'Close',
      ),
    );
    const note = h('input', {
      id: 'case-note',
      type: 'text',
      placeholder: 'note',
      'aria-label': 'note',
      size: 40,
    });
    controls.push(
      note,
      h(
        'button',
        {
          id: 'case-add-note',
          type: 'button',
          onclick: async () => {
            if (note.value.trim() === '') return;
            await api(`/v1/cases/${encodeURIComponent(id)}/notes`, {
              method: 'POST',
              body: JSON.stringify({ body: note.value.trim() }),
            });
            await casePage(id);
          },
        },
        'Add note',
      ),
    );
  }
  page(
    `Case of ${c.borrowerId}`,
    h(
      'div',
      { class: 'card', id: 'case-detail', 'data-status': c.status },
      h(
        'p',
        {},
        `${c.status}${c.outcome ? ` (${c.outcome})` : ''} · ${c.alertCount} alerts · money at risk ${money(c)} · owner ${c.owner ?? '—'} · `,
        h('a', { href: `#/borrower/${encodeURIComponent(c.borrowerId)}` }, 'borrower'),
        ' · ',
        h('a', { href: '#/cases' }, 'inbox'),
      ),
      h('div', { class: 'toolbar' }, controls),
      h(
        'table',
        { id: 'case-timeline' },
        h(
          'thead',
          {},
          h(
            'tr',
            {},
            ['When', 'What', 'Rule', 'Severity', 'Status / by'].map((t) => h('th', {}, t)),
          ),
        ),
        h(
          'tbody',
          {},
          timeline.map((e) =>
            h(
              'tr',
              { class: `timeline-${e.kind}` },
              timeCell(e.at),
              h('td', {}, e.title),
              h('td', {}, e.ruleId ?? (e.kind === 'note' ? 'note' : '')),
              h('td', {}, e.severity ?? ''),
              h('td', {}, e.status ?? e.by ?? ''),
            ),
          ),
        ),
      ),
    ),
  );
}
