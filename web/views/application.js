// The decision page of one credit application: what was applied for, the platform's recommendation (PD,
// grade, EL, policy checks, suggested limit, reasons in plain words), the decisions so far with the four-eyes
// state, and — for roles the API lets decide (approvers) — the decision form. The API's refusal (the same
// approver twice, a decided application) is shown in the form.
import { api, can, get, session } from '../core/api.js';
import { breachLabel, fmtCoverage, fmtShare, fourEyesState, OPEN_STATUSES } from '../core/credit.js';
import { gradeEl, h, page, timeCell } from '../core/dom.js';
import { fmtMoney, fmtPd, fmtTime } from '../core/format.js';

const OUTCOMES = [
  ['approve', 'Approve the amount applied for'],
  ['approve-lower', 'Approve a lower amount'],
  ['decline', 'Decline'],
  ['refer', 'Refer (to a committee)'],
];

export async function applicationPage(id) {
  const { application: a, decisions, fourEyesAbove } = await get('/v1/applications/{id}', { id });
  const borrower = await get('/v1/borrowers/{id}', { id: a.borrowerId }).catch(() => undefined);
  const money = (n) => (n === null || n === undefined ? '—' : fmtMoney(a.currency, n));
  const state = fourEyesState(a, decisions, session.me?.id);
  const r = a.recommendation;
  page(
    `Application for ${borrower?.name ?? a.borrowerId}`,
    h(
      'div',
      { class: 'card', id: 'application', 'data-status': a.status },
      h(
        'p',
        {},
        h('strong', {}, money(a.amount)),
        ` over ${a.tenorDays} days · `,
        h('a', { href: `#/borrower/${encodeURIComponent(a.borrowerId)}` }, a.borrowerId),
        ` · filed ${fmtTime(a.createdAt)}${a.createdBy ? ` by ${a.createdBy}` : ''} · `,
        h('a', { href: '#/applications' }, 'queue'),
      ),
      h(
        'p',
        {},
        `Pledged lots: ${a.lotIds.length === 0 ? 'none' : a.lotIds.join(', ')} · funders: ${
          a.funders.length === 0
            ? 'the lender alone'
            : a.funders.map((f) => `${f.funderId} ${f.sharePct} %`).join(', ')
        }`,
      ),
      h('p', { id: 'four-eyes', class: `state state-${a.status}` }, state.text),
      h(
        'p',
        { id: 'four-eyes-rule' },
        `Needs two approvers above ${money(fourEyesAbove)}: ${
          a.amount > fourEyesAbove
            ? 'approving the amount applied for takes two different approvers.'
            : 'one approver can approve the amount applied for.'
        }`,
      ),
    ),
    r === undefined ? h('div', { class: 'card' }, 'No recommendation stored.') : recommendationCard(r, money),
    decisionsCard(decisions, money),
    decisionForm(a, state, money),
  );
}

function recommendationCard(r, money) {
  return h(
    'div',
    { class: 'card', id: 'recommendation', 'data-outcome': r.outcome },
    h('h2', {}, 'Recommendation: ', h('span', { class: `outcome outcome-${r.outcome}` }, r.outcome)),
    h(
      'dl',
      { class: 'figures' },
      fig('PD', r.pd === null ? '—' : fmtPd(r.pd)),
      fig('Grade', r.grade === null ? '—' : gradeEl(r.grade)),
      fig('EAD', money(r.ead)),
      fig('LGD', fmtShare(r.lgd)),
      fig('EL', `${money(r.el)}${r.elRate === null ? '' : ` (${fmtShare(r.elRate)} of EAD)`}`),
      fig(
        'Coverage verified / claimed',
        `${fmtCoverage(r.verifiedCoverage)} / ${fmtCoverage(r.claimedCoverage)}`,
      ),
      fig('Suggested limit', h('span', { id: 'suggested-limit' }, money(r.suggestedLimit))),
    ),
    h('h3', {}, 'Policy checks'),
    r.checks.length === 0
      ? h('p', { id: 'checks', class: 'ok' }, 'Every policy check passes at the amount applied for.')
      : h(
          'ul',
          { id: 'checks', class: 'breach' },
          r.checks.map((c) => h('li', { title: c.code }, `${breachLabel(c.code)}: ${c.message}`)),
        ),
    h('h3', {}, 'Why'),
    h(
      'ul',
      { id: 'recommendation-reasons' },
      r.reasons.map((t) => h('li', {}, t)),
    ),
    h('p', {}, h('small', {}, `Lending policy version ${r.policyVersion}`)),
  );
}

const fig = (label, value) => h('div', {}, h('dt', {}, label), h('dd', {}, value));

function decisionsCard(decisions, money) {
  return h(
    'div',
    { class: 'card' },
    h('h2', {}, 'Decisions'),
    decisions.length === 0
      ? h('p', {}, 'None yet.')
      : h(
          'table',
          { id: 'decisions' },
          h(
            'thead',
            {},
            h(
              'tr',
              {},
              ['When', 'Approver', 'Outcome', 'Amount', 'Reasons', 'Comment'].map((t) => h('th', {}, t)),
            ),
          ),
          h(
            'tbody',
            {},
            decisions.map((d) =>
              h(
                'tr',
                { 'data-approver': d.approverKeyId, 'data-outcome': d.outcome },
                timeCell(d.at),
                h(
                  'td',
                  {},
                  d.approverKeyId === session.me?.id
                    ? `${d.approverName ?? d.approverKeyId} (you)`
                    : (d.approverName ?? d.approverKeyId),
                ),
                h('td', {}, d.outcome),
                h('td', { class: 'num' }, money(d.amount)),
                h('td', {}, d.reasons.join(', ')),
                h('td', {}, d.comment ?? ''),
              ),
            ),
          ),
        ),
  );
}

/** The form, for callers the permission table lets decide, while the application still takes a decision. */
function decisionForm(a, state, money) {
  if (!can('POST /v1/applications/:id/decisions') || !OPEN_STATUSES.includes(a.status)) return null;
  if (!state.mayDecide)
    return h(
      'div',
      { class: 'card', id: 'decide-blocked' },
      'You have decided this application already: four-eyes needs a second, different approver.',
    );
  const r = a.recommendation;
  const outcome = h(
    'select',
    { id: 'decision-outcome', 'aria-label': 'outcome' },
    OUTCOMES.map(([v, label]) => h('option', { value: v }, label)),
  );
  const amount = h('input', {
    id: 'decision-amount',
    type: 'number',
    min: 1,
    step: 1,
    max: a.amount,
    'aria-label': 'amount',
    value: r && r.suggestedLimit > 0 && r.suggestedLimit < a.amount ? r.suggestedLimit : '',
  });
  const amountRow = h('label', { hidden: true }, `Amount (${a.currency}, below ${money(a.amount)}) `, amount);
  // Adverse-action reasons of a decline: the model's reason codes, pre-ticked; the approver may add their own.
  const adverse = (r?.adverseReasons ?? []).map((x) =>
    h(
      'label',
      { class: 'reason' },
      h('input', { type: 'checkbox', value: x.code, checked: true }),
      ` ${x.text} (${x.code})`,
    ),
  );
  const ownReason = h('input', {
    id: 'decision-reason',
    type: 'text',
    size: 40,
    'aria-label': 'another reason',
  });
  const reasonsRow = h(
    'fieldset',
    { hidden: true, id: 'decision-reasons' },
    h('legend', {}, 'Adverse-action reasons'),
    adverse,
    h('label', {}, 'Other ', ownReason),
  );
  const comment = h('textarea', { id: 'decision-comment', rows: 2, cols: 50, 'aria-label': 'comment' });
  const error = h('p', { id: 'decision-error', class: 'error', role: 'alert', hidden: true });
  const submit = h('button', { type: 'submit', id: 'decision-submit' }, 'Record decision');
  const sync = () => {
    amountRow.hidden = outcome.value !== 'approve-lower';
    reasonsRow.hidden = outcome.value !== 'decline';
  };
  outcome.addEventListener('change', sync);
  const form = h(
    'form',
    { class: 'card', id: 'decision-form' },
    h('h2', {}, 'Decide'),
    h('label', {}, 'Outcome ', outcome),
    amountRow,
    reasonsRow,
    h('label', {}, 'Comment ', comment),
    submit,
    error,
  );
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const body = { outcome: outcome.value };
    if (outcome.value === 'approve-lower') body.amount = Number(amount.value);
    if (outcome.value === 'decline') {
      const reasons = [...reasonsRow.querySelectorAll('input[type=checkbox]:checked')].map((c) => c.value);
      if (ownReason.value.trim() !== '') reasons.push(ownReason.value.trim());
      if (reasons.length > 0) body.reasons = reasons;
    }
    if (comment.value.trim() !== '') body.comment = comment.value.trim();
    submit.disabled = true;
    error.hidden = true;
    api(`/v1/applications/${encodeURIComponent(a.id)}/decisions`, {
      method: 'POST',
      body: JSON.stringify(body),
    })
      .then(() => applicationPage(a.id))
      .then(() => {
        document.getElementById('main').dataset.ready = `/application/${a.id}`;
      })
      .catch((err) => {
        // The API's words (409 four-eyes, 400 amount): the status code is dropped, the detail kept.
        error.textContent = `Refused: ${String(err.message ?? err).replace(/^\d+: /, '')}`;
        error.hidden = false;
        submit.disabled = false;
      });
  });
  sync();
  return form;
}
