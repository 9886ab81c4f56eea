// The form to file a credit application (POST /v1/applications): borrower, amount, currency, tenor, the lots
// pledged for it (the borrower's lots, as GET /v1/lots lists them) and the co-lending
// shares. What the API refuses is shown under the form in its own words; a filed application opens its
// decision page, with the platform's recommendation.
import { api, get } from '../core/api.js';
import { parseFunders } from '../core/credit.js';
import { h } from '../core/dom.js';
import { hashOf } from '../core/router.js';

export function applicationForm(borrowerId) {
  const borrower = h('input', {
    id: 'apply-borrower',
    type: 'text',
    required: true,
    size: 16,
    value: borrowerId,
    'aria-label': 'borrower id',
  });
  const amount = h('input', {
    id: 'apply-amount',
    type: 'number',
    min: 1,
    step: 1,
    required: true,
    'aria-label': 'amount',
  });
  const currency = h('input', {
    id: 'apply-currency',
    type: 'text',
    size: 4,
    maxlength: 3,
    required: true,
    'aria-label': 'currency',
  });
  const tenor = h('input', {
    id: 'apply-tenor',
    type: 'number',
    min: 1,
    step: 1,
    value: 180,
    required: true,
    'aria-label': 'tenor in days',
  });
  const lots = h(
    'fieldset',
    { id: 'apply-lots' },
    h('legend', {}, 'Pledged lots'),
    h('small', {}, 'Enter a borrower to list its lots.'),
  );
  const funders = h('input', {
    id: 'apply-funders',
    type: 'text',
    size: 30,
    placeholder: 'lender 40, bank-b 60',
    'aria-label': 'co-lending shares',
  });
  const error = h('p', { id: 'apply-error', class: 'error', role: 'alert', hidden: true });
  const submit = h('button', { type: 'submit', id: 'apply-submit' }, 'File application');

  // The borrower's lots as checkboxes, and their currency as the default one.
  let loadedFor = '';
  const loadLots = () => {
    const id = borrower.value.trim();
    if (id === loadedFor) return;
    loadedFor = id;
    if (id === '') return;
    // The registry's lots (what the API checks a pledge against), up to the page size a borrower needs.
    get('/v1/lots', { borrowerId: id, limit: 100 }).then(
      (page) => {
        if (loadedFor !== id) return;
        if (currency.value === '' && page.items[0] !== undefined) currency.value = page.items[0].currency;
        lots.replaceChildren(
          h('legend', {}, 'Pledged lots'),
          ...(page.items.length === 0
            ? [h('small', {}, 'This borrower has no lots.')]
            : page.items.map((l) =>
                h(
                  'label',
                  { class: 'lot' },
                  h('input', { type: 'checkbox', value: l.id }),
                  ` ${l.id} (${l.commodity})`,
                ),
              )),
        );
      },
      (err) =>
        lots.replaceChildren(
          h('legend', {}, 'Pledged lots'),
          h('small', {}, `No lots listed: ${String(err.message ?? err).replace(/^\d+: /, '')}`),
        ),
    );
  };
  // On leaving the field, and shortly after typing stops (a pasted id need not leave the field).
  let typing;
  borrower.addEventListener('change', loadLots);
  borrower.addEventListener('input', () => {
    clearTimeout(typing);
    typing = setTimeout(loadLots, 400);
  });
  if (borrowerId !== '') loadLots();

  const refuse = (text) => {
    error.textContent = `Refused: ${text}`;
    error.hidden = false;
    submit.disabled = false;
  };
  const form = h(
    'form',
    { class: 'card', id: 'apply-form' },
    h('h2', {}, 'File an application'),
    h('label', {}, 'Borrower ', borrower),
    h('label', {}, 'Amount ', amount),
    h('label', {}, 'Currency ', currency),
    h('label', {}, 'Tenor (days) ', tenor),
    lots,
    h('label', {}, 'Co-lending shares (%) ', funders),
    submit,
    error,
  );
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    error.hidden = true;
    let shares;
    try {
      shares = parseFunders(funders.value);
    } catch (err) {
      refuse(err.message);
      return;
    }
    const body = {
      borrowerId: borrower.value.trim(),
      amount: Number(amount.value),
      currency: currency.value.trim(),
      tenorDays: Number(tenor.value),
      lotIds: [...lots.querySelectorAll('input[type=checkbox]:checked')].map((c) => c.value),
      ...(shares.length === 0 ? {} : { funders: shares }),
    };
    submit.disabled = true;
    api('/v1/applications', { method: 'POST', body: JSON.stringify(body) }).then(
      (a) => {
        location.hash = hashOf(`/application/${encodeURIComponent(a.id)}`);
      },
      // The API's words (400 schema, 404 borrower or lot, 409 policy): the status code dropped, the detail kept.
      (err) => refuse(String(err.message ?? err).replace(/^\d+: /, '')),
    );
  });
  return form;
}
