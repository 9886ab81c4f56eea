// The applications queue: credit applications still taking a decision (pending, awaiting a second approver,
// referred), largest amount or oldest first as the API orders them (GET /v1/applications?sort=), each with
// the platform's recommendation in short; decided ones by status. A row opens the decision page
// (views/application.js). Callers who may file see the form to file one (views/application-form.js).
import { can, get } from '../core/api.js';
import { gradeEl, h, page, timeCell } from '../core/dom.js';
import { fmtMoney, fmtPd } from '../core/format.js';
import { hashOf } from '../core/router.js';
import { applicationForm } from './application-form.js';

const VIEWS = [
  ['open', 'to decide'],
  ['approved', 'approved'],
  ['declined', 'declined'],
];

/** The queue is what is still to decide: one page of this many is read, in the API's order. */
const QUEUE_MAX = 200;

export async function applicationsPage(params) {
  const view = VIEWS.some(([v]) => v === params.get('status')) ? params.get('status') : 'open';
  const by = params.get('by') === 'age' ? 'age' : 'amount';
  const answer = await get('/v1/applications', { status: view, sort: by, limit: QUEUE_MAX });
  const items = answer.items;
  const truncated = answer.nextCursor !== undefined;
  const names = await borrowerNames(items.map((a) => a.borrowerId));
  const statusSelect = h(
    'select',
    { id: 'application-status', 'aria-label': 'status' },
    VIEWS.map(([v, label]) => h('option', { value: v, selected: v === view }, label)),
  );
  const orderSelect = h(
    'select',
    { id: 'application-order', 'aria-label': 'order' },
    h('option', { value: 'amount', selected: by === 'amount' }, 'largest amount first'),
    h('option', { value: 'age', selected: by === 'age' }, 'oldest first'),
  );
  const go = () => {
    location.hash = hashOf('/applications', {
      status: statusSelect.value === 'open' ? '' : statusSelect.value,
      by: orderSelect.value === 'amount' ? '' : orderSelect.value,
    });
  };
  statusSelect.addEventListener('change', go);
  orderSelect.addEventListener('change', go);
  page(
    'Credit applications',
    can('POST /v1/applications') ? applicationForm(params.get('borrower') ?? '') : null,
    h(
      'div',
      { class: 'card' },
      h(
        'div',
        { class: 'toolbar' },
        h('label', {}, 'Show ', statusSelect),
        h('label', {}, 'Order ', orderSelect),
        h(
          'span',
          { id: 'application-count' },
          `${items.length}${truncated ? '+' : ''} application${items.length === 1 ? '' : 's'}`,
        ),
      ),
      h(
        'table',
        { id: 'applications' },
        h(
          'thead',
          {},
          h(
            'tr',
            {},
            [
              'Borrower',
              'Amount',
              'Tenor',
              'Filed',
              'Status',
              'Recommendation',
              'Grade',
              'PD',
              'EL',
              'Suggested limit',
            ].map((t, i) => h('th', { class: i === 1 || i >= 7 ? 'num' : undefined }, t)),
          ),
        ),
        h(
          'tbody',
          {},
          items.map((a) => applicationRow(a, names.get(a.borrowerId))),
        ),
      ),
      items.length === 0 ? h('p', { id: 'no-applications' }, 'No applications here.') : null,
    ),
  );
}

function applicationRow(a, name) {
  const r = a.recommendation;
  const money = (n) => (n === null || n === undefined ? '—' : fmtMoney(a.currency, n));
  return h(
    'tr',
    { 'data-application': a.id, 'data-status': a.status },
    h(
      'td',
      {},
      h(
        'a',
        { href: hashOf(`/application/${encodeURIComponent(a.id)}`), class: 'application' },
        name ?? a.borrowerId,
      ),
      h('br'),
      h('small', {}, a.borrowerId),
    ),
    h('td', { class: 'num amount' }, money(a.amount)),
    h('td', {}, `${a.tenorDays} d`),
    timeCell(a.createdAt),
    h('td', { class: 'status' }, a.status),
    h('td', { class: `outcome outcome-${r?.outcome ?? 'none'}` }, r?.outcome ?? '—'),
    h('td', {}, r?.grade ? gradeEl(r.grade) : '—'),
    h('td', { class: 'num' }, r?.pd === null || r?.pd === undefined ? '—' : fmtPd(r.pd)),
    h('td', { class: 'num' }, money(r?.el)),
    h('td', { class: 'num suggested' }, money(r?.suggestedLimit)),
  );
}

/**
 * The borrowers' names: the API has no lookup by many ids, so one request per borrower for the first
 * NAMES_MAX distinct ones (a queue is short); the rest show their id.
 */
const NAMES_MAX = 50;
async function borrowerNames(ids) {
  const unique = [...new Set(ids)].slice(0, NAMES_MAX);
  const found = await Promise.all(
    unique.map((id) =>
      get('/v1/borrowers/{id}', { id }).then(
        (b) => b.name,
        () => undefined,
      ),
    ),
  );
  return new Map(unique.map((id, i) => [id, found[i]]));
}
