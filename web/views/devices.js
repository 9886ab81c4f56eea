// The fleet page: counts per kind and presence, and the device list with its presence filter.
import { get, optional } from '../core/api.js';
import { h, page, pagerLinks, timeCell } from '../core/dom.js';
import { fmtCount, fmtDuration, fmtTime } from '../core/format.js';
import { hashOf } from '../core/router.js';

const PRESENCE = ['online', 'offline', 'unknown'];

const KIND_COLUMNS = [
  ['devices', 'Devices'],
  ['active', 'Active'],
  ['online', 'Online'],
  ['offline', 'Offline'],
  ['unknown', 'Unknown'],
  ['lowBattery', 'Low battery'],
  ['stale', 'Stale'],
  ['neverReported', 'Never reported'],
];

/** A fleet-wide count, its key in `data-count` (read by the e2e test against the API). */
const count = (key, label, n, cls) =>
  h('span', { class: cls }, `${label} `, h('b', { 'data-count': key }, fmtCount(n)));

const fleetCounts = (fleet) =>
  h(
    'div',
    { class: 'card counts', id: 'fleet' },
    count('devices', 'Devices', fleet.devices),
    count('active', 'active', fleet.active),
    count('revoked', 'revoked', fleet.revoked),
    count('online', 'online', fleet.presence?.online, 'online'),
    count('offline', 'offline', fleet.presence?.offline, 'offline'),
    count('unknown', 'unknown', fleet.presence?.unknown),
    count('lowBattery', `battery under ${fleet.lowBatteryPct} %:`, fleet.lowBattery),
    count('stale', `silent over ${fmtDuration(fleet.staleMs)}:`, fleet.stale),
    count('neverReported', 'never reported:', fleet.neverReported),
    h('small', {}, `as of ${fmtTime(fleet.at)}`),
  );

export async function devicesPage(params) {
  const presence = PRESENCE.includes(params.get('presence') ?? '') ? (params.get('presence') ?? '') : '';
  const cursor = params.get('cursor') ?? '';
  const back = params.get('back') ?? '';
  const q = new URLSearchParams({ limit: '200' });
  if (presence !== '') q.set('presence', presence);
  if (cursor !== '') q.set('cursor', cursor);
  // An API without the fleet summary (404) lists devices only, without presence filter.
  const fleet = await optional(get('/v1/devices/summary'));
  if (fleet === undefined) q.delete('presence');
  const list = await get('/v1/devices', q);
  const kinds = Object.keys(fleet?.byKind ?? {}).sort();
  const select = h(
    'select',
    { id: 'presence-filter', 'aria-label': 'presence' },
    h('option', { value: '' }, 'all'),
    PRESENCE.map((p) => h('option', { value: p, selected: p === presence }, p)),
  );
  select.addEventListener('change', () => {
    location.hash = hashOf('/devices', { presence: select.value });
  });
  const next =
    list.nextCursor === undefined
      ? undefined
      : hashOf('/devices', { presence, cursor: list.nextCursor, back: location.hash });
  page(
    'Devices',
    fleet === undefined
      ? h('p', { class: 'card' }, 'Fleet-wide counts are not available from this API.')
      : fleetCounts(fleet),
    kinds.length === 0
      ? null
      : h(
          'div',
          { class: 'card' },
          h(
            'table',
            { id: 'fleet-kinds' },
            h(
              'thead',
              {},
              h(
                'tr',
                {},
                h('th', {}, 'Kind'),
                KIND_COLUMNS.map(([, label]) => h('th', { class: 'num' }, label)),
              ),
            ),
            h(
              'tbody',
              {},
              kinds.map((k) =>
                h(
                  'tr',
                  { 'data-kind': k },
                  h('td', {}, k),
                  KIND_COLUMNS.map(([key]) =>
                    h('td', { class: 'num', 'data-count': key }, fmtCount(fleet.byKind[k][key])),
                  ),
                ),
              ),
            ),
          ),
        ),
    h(
      'div',
      { class: 'card' },
      fleet === undefined ? null : h('div', { class: 'toolbar' }, h('label', {}, 'Presence ', select)),
      h(
        'table',
        { id: 'devices' },
        h(
          'thead',
          {},
          h(
            'tr',
            {},
            ['Device', 'Kind', 'Borrower', 'Presence', 'Last seen', 'Battery'].map((t) => h('th', {}, t)),
          ),
        ),
        h(
          'tbody',
          {},
          list.items.length === 0
            ? h(
                'tr',
                {},
                h('td', { colspan: 6 }, presence === '' ? 'No devices.' : `No device is ${presence}.`),
              )
            : list.items.map((d) =>
                h(
                  'tr',
                  { 'data-presence': d.presence },
                  h('td', {}, d.id),
                  h('td', {}, d.kind),
                  h(
                    'td',
                    {},
                    h('a', { href: `#/borrower/${encodeURIComponent(d.borrowerId)}` }, d.borrowerId),
                  ),
                  h('td', { class: d.presence }, d.status === 'revoked' ? 'revoked' : d.presence),
                  timeCell(d.lastSeenAt),
                  h('td', {}, typeof d.batteryPct === 'number' ? `${Math.round(d.batteryPct)} %` : '—'),
                ),
              ),
        ),
      ),
      pagerLinks(back, next),
    ),
  );
}
