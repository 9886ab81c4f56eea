// Maintenance windows and snoozes in force (GET /v1/alerts/suppressions): what is being held back, why, by whom,
// until when, and how many alert openings each has held back so far; officers may end one early.
import { api, canAct, get } from '../core/api.js';
import { h, showError, timeCell } from '../core/dom.js';
import { fmtCount } from '../core/format.js';

/** The card of suppressions in force (empty state said plainly); one ended early leaves the table. */
export async function suppressionsCard() {
  const { items } = await get('/v1/alerts/suppressions', { state: 'active', limit: 100 });
  const end = async (id) => {
    try {
      await api(`/v1/alerts/suppressions/${encodeURIComponent(id)}/end`, { method: 'POST' });
      document.getElementById(`suppression-${id}`)?.remove();
    } catch (err) {
      showError(err);
    }
  };
  return h(
    'div',
    { class: 'card', id: 'suppressions' },
    h('h2', {}, 'Maintenance windows and snoozes in force'),
    items.length === 0
      ? h('p', {}, 'None: every rule alerts on every device, lot and borrower.')
      : h(
          'table',
          {},
          h(
            'thead',
            {},
            h(
              'tr',
              {},
              ['Kind', 'On', 'Rule', 'Why', 'From', 'Until', 'Held back', 'By', ''].map((t) =>
                h('th', {}, t),
              ),
            ),
          ),
          h(
            'tbody',
            {},
            items.map((s) =>
              h(
                'tr',
                { id: `suppression-${s.id}` },
                h('td', {}, s.kind),
                h('td', {}, `${s.scopeKind} ${s.scopeId}`),
                h('td', {}, s.ruleId ?? 'all rules'),
                h('td', {}, s.reason),
                timeCell(s.fromMs),
                timeCell(s.untilMs),
                h('td', { class: 'num' }, fmtCount(s.suppressed)),
                h('td', {}, s.createdBy),
                h(
                  'td',
                  {},
                  canAct() ? h('button', { type: 'button', onclick: () => void end(s.id) }, 'End now') : null,
                ),
              ),
            ),
          ),
        ),
  );
}
