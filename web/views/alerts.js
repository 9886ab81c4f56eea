// The alerts page: filters, the live feed over SSE (read with fetch so the key stays in a header).
import { api, KEY, session } from '../core/api.js';
import { h, page } from '../core/dom.js';
import { hashOf } from '../core/router.js';
import { alertRow, alertTable } from './alert-table.js';
import { suppressionsCard } from './suppressions.js';

/** The alerts page's status filter: '' is every alert not yet resolved. */
const ALERT_FILTERS = [
  ['', 'open or acknowledged'],
  ['open', 'open'],
  ['acknowledged', 'acknowledged'],
  ['resolved', 'resolved'],
];

const ALERT_LIMIT = 100;

export async function alertsPage(params) {
  const status = params.get('status') ?? '';
  const borrowerId = params.get('borrowerId') ?? '';
  const statuses = status === '' ? ['open', 'acknowledged'] : [status];
  const matches = (a) => statuses.includes(a.status) && (borrowerId === '' || a.borrowerId === borrowerId);
  // One list per status (the API filters by one), merged newest first: the newest 100 of the union.
  const lists = await Promise.all(
    statuses.map((s) =>
      api(
        `/v1/alerts?${new URLSearchParams({ status: s, limit: String(ALERT_LIMIT), ...(borrowerId ? { borrowerId } : {}) })}`,
      ),
    ),
  );
  const merged = lists
    .flatMap((l) => l.items)
    .sort((a, b) => b.openedAt - a.openedAt || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0));
  const more = merged.length > ALERT_LIMIT || lists.some((l) => l.nextCursor !== undefined);
  const table = alertTable(merged.slice(0, ALERT_LIMIT), 'alerts');
  const suppressions = await suppressionsCard();

  const statusSel = h(
    'select',
    { id: 'alert-status', 'aria-label': 'status' },
    ALERT_FILTERS.map(([v, label]) => h('option', { value: v, selected: v === status }, label)),
  );
  statusSel.addEventListener('change', () => {
    location.hash = hashOf('/alerts', { status: statusSel.value, borrowerId });
  });
  const borrowerIn = h('input', {
    id: 'alert-borrower',
    type: 'search',
    placeholder: 'borrower id',
    'aria-label': 'borrower id',
    value: borrowerId,
    size: 12,
  });
  const filters = h(
    'form',
    { class: 'toolbar', id: 'alert-filters' },
    h('label', {}, 'Status ', statusSel),
    h('label', {}, 'Borrower ', borrowerIn),
    h('button', { type: 'submit' }, 'Filter'),
    borrowerId ? h('a', { href: hashOf('/alerts', { status }) }, 'all borrowers') : null,
  );
  filters.addEventListener('submit', (e) => {
    e.preventDefault();
    location.hash = hashOf('/alerts', { status, borrowerId: borrowerIn.value.trim() });
  });
  const streamStatus = h('p', { id: 'stream-status' }, 'Live feed: connecting…');
  page(
    borrowerId ? `Alerts of ${borrowerId}` : 'Alerts',
    streamStatus,
    h(
      'div',
      { class: 'card' },
      filters,
      table,
      more ? h('p', {}, `The newest ${ALERT_LIMIT} are shown: narrow the filter to see older ones.`) : null,
    ),
    suppressions,
  );
  const tbody = table.querySelector('tbody');
  follow(
    (evt) => {
      const a = evt.data?.alert;
      if (!a || !tbody) return;
      // A row on screen shows its alert's new status even when that leaves the filter (the officer sees
      // what happened to it); alerts not on screen are added only when they match.
      const old = document.getElementById(`alert-${a.id}`);
      if (old) old.replaceWith(alertRow(a, true));
      else if (matches(a)) tbody.prepend(alertRow(a, true));
    },
    (text) => {
      streamStatus.textContent = `Live feed: ${text}`;
    },
  );
}

/**
 * The SSE stream read with fetch, so the key travels in the Authorization header (EventSource cannot send
 * headers, and a key in the URL would land in logs and history). Reconnects with Last-Event-ID.
 */
function follow(onEvent, onStatus) {
  session.stream?.abort();
  const ctrl = new AbortController();
  session.stream = ctrl;
  let lastId;
  const run = async () => {
    while (!ctrl.signal.aborted) {
      try {
        const headers = {
          authorization: `Bearer ${sessionStorage.getItem(KEY) ?? ''}`,
          accept: 'text/event-stream',
        };
        if (lastId !== undefined) headers['last-event-id'] = lastId;
        const res = await fetch('/v1/alerts/stream?types=alert.opened,alert.acknowledged,alert.resolved', {
          headers,
          signal: ctrl.signal,
        });
        if (!res.ok || !res.body) throw new Error(`HTTP ${res.status}`);
        onStatus('connected');
        const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
        let buf = '';
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buf += value;
          let cut;
          while ((cut = buf.indexOf('\n\n')) >= 0) {
            const block = buf.slice(0, cut);
            buf = buf.slice(cut + 2);
            let data = '';
            for (const line of block.split('\n')) {
              if (line.startsWith('id:')) lastId = line.slice(3).trim();
              else if (line.startsWith('data:')) data += line.slice(5).trim();
            }
            if (data) onEvent(JSON.parse(data));
          }
        }
        onStatus('reconnecting…');
      } catch (err) {
        if (ctrl.signal.aborted) return;
        onStatus(`reconnecting (${err.message})…`);
      }
      await new Promise((r) => setTimeout(r, 2000));
    }
  };
  void run();
}
