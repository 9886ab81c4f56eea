// The borrower page's readings and worker-hours charts, each with its subject and range controls.
import uPlot from '../vendor/uplot/uPlot.esm.js';
import { get, optional } from '../core/api.js';
import { alertMarkers, plot } from '../core/charts.js';
import { h } from '../core/dom.js';
import { DAY_MS, fmtTime } from '../core/format.js';

/** Per device kind: the readings worth charting. */
const FIELDS = { stake: ['weightKg'], satellite: ['ndvi', 'activityIndex'], helmet: ['activity'] };

/**
 * A chart card's controls and chart: a subject select, a range select (24 h, 7 days, 30 days; `labels`) and
 * below them what `render(subject, days, holder)` draws (it returns the chart's release). Redrawn on change.
 */
function chartPanel(card, subjectSel, rangeId, labels, render) {
  const rangeSel = h(
    'select',
    { id: rangeId, 'aria-label': 'range' },
    ['1', '7', '30'].map((v, i) => h('option', { value: v, selected: v === '7' }, labels[i])),
  );
  const holder = h('div');
  card.append(h('p', {}, subjectSel, ' ', rangeSel), holder);
  let release = () => undefined;
  const draw = async () => {
    release();
    release = () => undefined;
    holder.replaceChildren('Loading…');
    try {
      release = (await render(subjectSel.value, Number(rangeSel.value), holder)) ?? (() => undefined);
    } catch (err) {
      holder.replaceChildren(h('p', { class: 'error' }, err.message));
    }
  };
  subjectSel.addEventListener('change', () => void draw());
  rangeSel.addEventListener('change', () => void draw());
  void draw();
}

/** The borrower's alerts in [from, to) about any of these devices (404 = no alerts component). */
async function alertsAbout(borrowerId, deviceIds, from, to) {
  const q = new URLSearchParams({ borrowerId, from: String(from), to: String(to), limit: '500' });
  const alerts = await optional(get('/v1/alerts', q));
  return (alerts?.items ?? []).filter((a) => deviceIds.has(a.deviceId) || deviceIds.has(a.subjectId));
}

export function readingsChart(card, devices) {
  // Devices that have reported first, stakes (the collateral's weight) ahead of the others.
  const order = { stake: 0, satellite: 1, helmet: 2 };
  const charted = devices
    .filter((d) => FIELDS[d.kind])
    .sort(
      (a, b) =>
        Number(b.lastSeenAt !== undefined) - Number(a.lastSeenAt !== undefined) ||
        order[a.kind] - order[b.kind] ||
        a.id.localeCompare(b.id),
    );
  if (charted.length === 0) {
    card.append(h('p', {}, 'No devices.'));
    return;
  }
  const deviceSel = h(
    'select',
    { id: 'device', 'aria-label': 'device' },
    charted.map((d) => h('option', { value: d.id }, `${d.kind} ${d.id}`)),
  );
  chartPanel(
    card,
    deviceSel,
    'range',
    ['last 24 h', 'last 7 days', 'last 30 days'],
    async (id, days, holder) => {
      const device = charted.find((d) => d.id === id);
      if (!device) return undefined;
      // The range ends at the device's latest reading: device time can run ahead of the wall clock (simulation).
      const to = (device.lastSeenAt ?? Date.now()) + 1;
      const from = to - days * DAY_MS;
      const q = new URLSearchParams({
        deviceId: device.id,
        fields: FIELDS[device.kind].join(','),
        fns: 'mean',
        from: String(from),
        to: String(to),
        windowMs: String(days === 1 ? 600_000 : days === 7 ? 3_600_000 : 6 * 3_600_000),
      });
      const [agg, marks] = await Promise.all([
        get('/v1/telemetry/aggregate', q),
        alertsAbout(device.borrowerId, new Set([device.id]), from, to),
      ]);
      const times = [...new Set(agg.series.flatMap((s) => s.points.map((p) => p.startMs)))].sort(
        (a, b) => a - b,
      );
      const data = [times.map((t) => t / 1000)];
      const series = [{}];
      const colors = ['#1d5fbf', '#2e7d32', '#b58900'];
      agg.series.forEach((s, i) => {
        const byT = new Map(s.points.map((p) => [p.startMs, p.mean ?? null]));
        data.push(times.map((t) => byT.get(t) ?? null));
        series.push({ label: s.field, stroke: colors[i % colors.length], spanGaps: false });
      });
      holder.replaceChildren();
      if (times.length === 0) {
        holder.append(h('p', {}, 'No readings in this range.'));
        return undefined;
      }
      // A y axis wide enough for readings in the tens of thousands (kg).
      const opts = { height: 240, series, axes: [{}, { size: 64 }], plugins: [alertMarkers(marks)] };
      const release = plot(card, opts, data, holder);
      if (marks.length > 0) {
        holder.append(
          h(
            'p',
            { class: 'marks' },
            `Alerts in range (red dashed lines): ${marks.map((a) => `${fmtTime(a.openedAt)} ${a.title}`).join(' · ')}`,
          ),
        );
      }
      return release;
    },
  );
}

/**
 * Hours worked on site (`/v1/sites/:id/worker-hours`: worn work-mode helmets inside the geofence), as bars per
 * hour over 24 h or per day over 7 or 30 days, ending at the site's latest helmet reading.
 */
export function workerHoursChart(card, sites, devices) {
  const helmetsAt = new Map();
  for (const d of devices) {
    if (d.kind !== 'helmet') continue;
    const list = helmetsAt.get(d.siteId) ?? [];
    list.push(d);
    helmetsAt.set(d.siteId, list);
  }
  const staffed = sites.filter((s) => helmetsAt.has(s.id));
  if (staffed.length === 0) {
    card.append(h('p', {}, 'No helmets at this borrower’s sites.'));
    return;
  }
  const siteSel = h(
    'select',
    { id: 'worker-site', 'aria-label': 'site' },
    staffed.map((s) => h('option', { value: s.id }, `${s.name} (${helmetsAt.get(s.id).length} helmets)`)),
  );
  const labels = ['last 24 h, per hour', 'last 7 days, per day', 'last 30 days, per day'];
  chartPanel(card, siteSel, 'worker-range', labels, async (id, days, holder) => {
    const site = staffed.find((s) => s.id === id);
    if (!site) return undefined;
    const helmets = helmetsAt.get(site.id);
    const windowMs = days === 1 ? 3_600_000 : DAY_MS;
    // Windows end at the site's latest helmet reading (simulated device time can differ from the wall clock).
    const latest = Math.max(0, ...helmets.map((d) => d.lastSeenAt ?? 0)) || Date.now();
    const to = Math.ceil((latest + 1) / windowMs) * windowMs;
    const from = to - days * DAY_MS;
    const q = new URLSearchParams({ from: String(from), to: String(to), windowMs: String(windowMs) });
    const [wh, marks] = await Promise.all([
      get('/v1/sites/{id}/worker-hours', { id: site.id, ...Object.fromEntries(q) }),
      alertsAbout(site.borrowerId, new Set(helmets.map((d) => d.id)), from, to),
    ]);
    holder.replaceChildren(
      h('p', { id: 'worker-total' }, `${wh.totalHours.toFixed(1)} worker-hours on site in the range`),
    );
    const opts = {
      height: 200,
      series: [
        {},
        {
          label: days === 1 ? 'hours this hour' : 'hours this day',
          stroke: '#6a1b9a',
          fill: '#6a1b9a55',
          paths: uPlot.paths.bars({ size: [0.8, 40], align: 1 }),
          points: { show: false },
        },
      ],
      // The whole range on x (each bar starts at its window and spans it), hours from 0 on y.
      scales: {
        x: { time: true, range: () => [from / 1000, to / 1000] },
        y: { range: (_u, _min, max) => [0, Math.max(1, max)] },
      },
      plugins: [alertMarkers(marks)],
    };
    const data = [wh.points.map((p) => p.startMs / 1000), wh.points.map((p) => p.hours)];
    return plot(card, opts, data, holder);
  });
}
