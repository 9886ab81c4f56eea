// Alert rows and tables with the acknowledge / resolve dialog (shown to officers and admins only).
import { api, canAct } from '../core/api.js';
import { h, timeCell } from '../core/dom.js';

export function alertRow(a, live = false) {
  const actions = h('td', { class: 'actions' });
  if (canAct() && a.status === 'open') {
    actions.append(
      h(
        'button',
        { type: 'button', class: 'ack', onclick: (e) => actionDialog(a, 'acknowledge', e.currentTarget) },
        'Acknowledge',
      ),
      ' ',
    );
  }
  if (canAct() && a.status !== 'resolved') {
    actions.append(
      h(
        'button',
        { type: 'button', class: 'resolve', onclick: (e) => actionDialog(a, 'resolve', e.currentTarget) },
        'Resolve',
      ),
    );
  }
  return h(
    'tr',
    { id: `alert-${a.id}`, class: live ? 'live' : undefined, 'data-status': a.status },
    timeCell(a.openedAt),
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

export function alertTable(items, id) {
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

/**
 * Acknowledge (comment optional) or resolve (comment required) in a modal dialog. A failure is shown in the
 * dialog, which stays open; Cancel or Escape closes it; focus returns to the alert's row.
 */
function actionDialog(alert, action, opener) {
  const resolving = action === 'resolve';
  const verb = resolving ? 'Resolve' : 'Acknowledge';
  const comment = h('textarea', {
    id: 'action-comment',
    name: 'comment',
    rows: 4,
    maxlength: 2000,
    required: resolving,
    autofocus: true,
  });
  const msg = h('p', { class: 'error', role: 'alert' });
  const cancel = h('button', { type: 'button', class: 'cancel' }, 'Cancel');
  const submit = h('button', { type: 'submit', class: 'primary' }, verb);
  const form = h(
    'form',
    {},
    h('h2', { id: 'action-title' }, `${verb} alert`),
    h('p', {}, alert.title),
    h('label', { for: 'action-comment' }, resolving ? 'Comment (required)' : 'Comment (optional)'),
    comment,
    msg,
    h('div', { class: 'buttons' }, cancel, submit),
  );
  const dialog = h('dialog', { id: 'action-dialog', 'aria-labelledby': 'action-title' }, form);
  cancel.addEventListener('click', () => dialog.close());
  dialog.addEventListener('close', () => {
    dialog.remove();
    const target = opener.isConnected
      ? opener
      : document.getElementById(`alert-${alert.id}`)?.querySelector('button, a');
    target?.focus();
  });
  const send = async () => {
    const text = comment.value.trim();
    if (resolving && text === '') {
      msg.textContent = 'A comment is required to resolve an alert.';
      comment.focus();
      return;
    }
    msg.textContent = '';
    submit.disabled = true;
    try {
      const a = await api(`/v1/alerts/${encodeURIComponent(alert.id)}/${action}`, {
        method: 'POST',
        body: JSON.stringify(text === '' ? {} : { comment: text }),
      });
      document.getElementById(`alert-${a.id}`)?.replaceWith(alertRow(a));
      dialog.close();
    } catch (err) {
      msg.textContent = `${verb} failed: ${err.message}`;
      submit.disabled = false;
    }
  };
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    void send();
  });
  document.body.append(dialog);
  dialog.showModal();
}
