// Credit across the portfolio: expected loss per currency, the borrowers breaking the lending policy (what
// broke, by how much) and limit reviews (opened when a grade falls or verified coverage drops below policy),
// closed in place by the roles the API lets close them.
import { api, can, get } from '../core/api.js';
import { breachLabel, fmtCoverage, fmtShare } from '../core/credit.js';
import { h, page, timeCell } from '../core/dom.js';
import { fmtCount, fmtMoney } from '../core/format.js';
import { hashOf } from '../core/router.js';

export async function creditPage(params) {
  const reviewStatus = params.get('reviews') === 'closed' ? 'closed' : 'open';
  const [breached, reviews] = await Promise.all([
    get('/v1/credit/exposures', { breached: true }),
    get('/v1/reviews', { status: reviewStatus, limit: 200 }),
  ]);
  const reviewSelect = h(
    'select',
    { id: 'review-status', 'aria-label': 'review status' },
    ['open', 'closed'].map((s) => h('option', { value: s, selected: s === reviewStatus }, s)),
  );
  reviewSelect.addEventListener('change', () => {
    location.hash = hashOf('/credit', { reviews: reviewSelect.value === 'open' ? '' : reviewSelect.value });
  });
  page(
    'Credit',
    h(
      'div',
      { class: 'card counts', id: 'credit-totals' },
      breached.totals.length === 0
        ? 'No credit figures yet.'
        : breached.totals.map((t) =>
            h(
              'span',
              {},
              `${t.currency}: EAD ${fmtMoney(t.currency, t.ead)} · EL ${fmtMoney(t.currency, t.el)} · LGD ${fmtShare(t.lgd)} · ${fmtCount(t.borrowers)} borrowers`,
            ),
          ),
    ),
    h(
      'div',
      { class: 'card' },
      h('h2', {}, 'Policy breaches'),
      breached.items.length === 0
        ? h('p', { id: 'no-breaches' }, 'Every borrower is within the lending policy.')
        : h(
            'table',
            { id: 'breaches' },
            h(
              'thead',
              {},
              h(
                'tr',
                {},
                ['Borrower', 'EAD', 'EL', 'Coverage verified / claimed', 'Breaches', 'Computed'].map((t) =>
                  h('th', {}, t),
                ),
              ),
            ),
            h(
              'tbody',
              {},
              breached.items.map((e) =>
                h(
                  'tr',
                  { 'data-borrower': e.borrowerId },
                  h(
                    'td',
                    {},
                    h('a', { href: `#/borrower/${encodeURIComponent(e.borrowerId)}` }, e.borrowerId),
                  ),
                  h('td', { class: 'num' }, fmtMoney(e.currency, e.ead)),
                  h('td', { class: 'num' }, e.el === undefined ? '—' : fmtMoney(e.currency, e.el)),
                  h(
                    'td',
                    { class: 'num' },
                    `${fmtCoverage(e.verifiedCoverage)} / ${fmtCoverage(e.claimedCoverage)}`,
                  ),
                  h(
                    'td',
                    {},
                    h(
                      'ul',
                      {},
                      e.breaches.map((b) =>
                        h('li', { title: b.code }, `${breachLabel(b.code)}: ${b.message}`),
                      ),
                    ),
                  ),
                  timeCell(e.computedAt),
                ),
              ),
            ),
          ),
    ),
    h(
      'div',
      { class: 'card' },
      h('h2', {}, 'Limit reviews'),
      h('div', { class: 'toolbar' }, h('label', {}, 'Show ', reviewSelect)),
      reviews.items.length === 0
        ? h('p', { id: 'no-reviews' }, `No ${reviewStatus} limit reviews.`)
        : h(
            'table',
            { id: 'reviews' },
            h(
              'thead',
              {},
              h(
                'tr',
                {},
                ['Borrower', 'Reason', 'Opened', reviewStatus === 'open' ? '' : 'Closed by'].map((t) =>
                  h('th', {}, t),
                ),
              ),
            ),
            h('tbody', {}, reviews.items.map(reviewRow)),
          ),
    ),
  );
}

function reviewRow(r) {
  const close = h(
    'button',
    {
      type: 'button',
      class: 'close-review',
      onclick: () => {
        close.disabled = true;
        api(`/v1/reviews/${encodeURIComponent(r.id)}/close`, { method: 'POST', body: '{}' })
          .then(() => {
            row.dataset.status = 'closed';
            close.replaceWith('closed');
          })
          .catch((err) => {
            close.disabled = false;
            close.after(h('span', { class: 'error', role: 'alert' }, ` ${err.message}`));
          });
      },
    },
    'Close',
  );
  const row = h(
    'tr',
    { 'data-review': r.id, 'data-status': r.status },
    h('td', {}, h('a', { href: `#/borrower/${encodeURIComponent(r.borrowerId)}` }, r.borrowerId)),
    h('td', { title: r.reason }, r.reason === 'GRADE_DOWN' ? 'grade fell' : breachLabel(r.reason)),
    timeCell(r.openedAt),
    h('td', {}, r.status === 'closed' ? (r.closedBy ?? '') : can('POST /v1/reviews/:id/close') ? close : ''),
  );
  return row;
}
