// A borrower's credit card: EAD, LGD, EL, claimed vs verified coverage side by side, policy status, and each
// pledged lot with its claimed and verified value and why it counts reduced (README "Credit decisions").
import { h } from '../core/dom.js';
import { breachLabel, fmtCoverage, fmtShare, lotWhy } from '../core/credit.js';
import { fmtMoney, fmtPd, fmtTime } from '../core/format.js';

/** The card; `credit` undefined when the credit component is not wired into this API (404). */
export function creditCard(credit) {
  const card = h('div', { class: 'card', id: 'credit' }, h('h2', {}, 'Credit'));
  if (credit === undefined) {
    card.append(h('p', {}, 'No credit figures (the credit component is not running).'));
    return card;
  }
  const money = (n) => fmtMoney(credit.currency, n);
  card.dataset.policy = credit.policyStatus;
  card.append(
    h(
      'dl',
      { class: 'figures' },
      figure('EAD', money(credit.ead), 'outstanding + undrawn × conversion factor', 'ead'),
      figure('PD', credit.pd === undefined ? '—' : fmtPd(credit.pd), 'latest score', 'pd'),
      figure('LGD', fmtShare(credit.lgd), 'from verified collateral', 'lgd'),
      figure('EL', credit.el === undefined ? '—' : money(credit.el), 'PD × LGD × EAD', 'el'),
      figure(
        'Coverage claimed',
        fmtCoverage(credit.claimedCoverage),
        `${money(credit.claimedValue)} as pledged`,
        'claimed',
      ),
      figure(
        'Coverage verified',
        fmtCoverage(credit.verifiedCoverage),
        `${money(credit.verifiedValue)} as the stakes see it now`,
        'verified',
      ),
    ),
    credit.breaches.length === 0
      ? h('p', { class: 'ok', id: 'policy-status' }, 'Within the lending policy.')
      : h(
          'div',
          { id: 'policy-status', class: 'breach' },
          h('strong', {}, 'Policy breached:'),
          h(
            'ul',
            {},
            credit.breaches.map((b) => h('li', { title: b.code }, `${breachLabel(b.code)}: ${b.message}`)),
          ),
        ),
    lotTable(credit),
    h('p', {}, h('small', {}, `Computed ${fmtTime(credit.computedAt)}`)),
  );
  return card;
}

function figure(label, value, hint, key) {
  return h(
    'div',
    { 'data-figure': key },
    h('dt', {}, label),
    h('dd', {}, value),
    h('dd', {}, h('small', {}, hint)),
  );
}

function lotTable(credit) {
  if (credit.lots.length === 0) return h('p', {}, 'No pledged lots: the line is unsecured.');
  const money = (n) => fmtMoney(credit.currency, n);
  return h(
    'table',
    { id: 'credit-lots' },
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        h('th', {}, 'Lot'),
        h('th', {}, 'Commodity'),
        h('th', { class: 'num' }, 'Measured'),
        h('th', { class: 'num' }, 'Claimed value'),
        h('th', { class: 'num' }, 'Verified value'),
        h('th', {}, 'Why'),
      ),
    ),
    h(
      'tbody',
      {},
      credit.lots.map((l) =>
        h(
          'tr',
          {
            'data-lot': l.lotId,
            'data-conditions': l.conditions.join(' '),
            class: l.verifiedValue < l.claimedValue ? 'reduced' : undefined,
          },
          h('td', {}, l.lotId),
          h('td', {}, `${l.commodity} (haircut ${fmtShare(l.haircut)})`),
          h(
            'td',
            { class: 'num' },
            l.measuredWeightKg === undefined ? '—' : `${Math.round(l.measuredWeightKg).toLocaleString()} kg`,
          ),
          h('td', { class: 'num' }, money(l.claimedValue)),
          h('td', { class: 'num' }, money(l.verifiedValue)),
          h('td', { class: 'why' }, lotWhy(l)),
        ),
      ),
    ),
  );
}
