// The borrower's sites, geofences, lots and stakes on a Leaflet map (vector only, works offline).
import * as L from '../vendor/leaflet/leaflet-src.esm.js';
import { h, onLeave } from '../core/dom.js';
import { fmtMoney } from '../core/format.js';

export function drawMap(card, sites, lots, devices) {
  // No tile layer: vector shapes only, so the map works offline.
  const map = L.map('map', { attributionControl: false });
  const bounds = [];
  const lotsAt = new Map();
  for (const l of lots) lotsAt.set(l.siteId, [...(lotsAt.get(l.siteId) ?? []), l]);
  const lotText = (l) =>
    `${l.commodity} ${l.pledgedWeightKg.toLocaleString()} kg pledged (${fmtMoney(l.currency, l.pledgedWeightKg * l.unitPricePerKg)})`;
  const siteBounds = new Map();
  for (const s of sites) {
    const pledged = (lotsAt.get(s.id) ?? []).map(lotText);
    const tip = `${s.name} (${s.kind})${pledged.length > 0 ? ` · ${pledged.join(' · ')}` : ''}`;
    const own = [[s.lat, s.lon]];
    if (s.geofence.length >= 3) {
      L.polygon(s.geofence, { color: '#1d5fbf' }).addTo(map).bindTooltip(tip);
      own.push(...s.geofence);
    }
    L.circleMarker([s.lat, s.lon], { radius: 4, color: '#1d2b45' }).addTo(map).bindTooltip(tip);
    siteBounds.set(s.id, own);
    bounds.push(...own);
  }
  const lotById = new Map(lots.map((l) => [l.id, l]));
  // A marker's radius is in screen pixels: at a fixed 6 px, a site's dozens of stakes hid its fence and each
  // other once the map showed several sites. Zoomed out they shrink to dots (a stake carried far off stays
  // visible); at street level they are full size.
  const deviceMarkers = [];
  // Whole pixels: Leaflet rounds an SVG circle's radius.
  const radiusAt = (zoom) => (zoom >= 16 ? 6 : zoom >= 13 ? 4 : zoom >= 10 ? 3 : 2);
  for (const d of devices) {
    const f = d.lastReading?.fields;
    if (typeof f?.lat !== 'number' || typeof f?.lon !== 'number') continue;
    const color = d.kind === 'stake' ? '#b58900' : '#6a1b9a';
    const lot = lotById.get(d.lotId);
    const on = lot === undefined ? '' : ` · lot ${lot.id}: ${lotText(lot)}`;
    const marker = L.circleMarker([f.lat, f.lon], { radius: 6, color, weight: 1, fillOpacity: 0.7 })
      .addTo(map)
      .bindTooltip(`${d.kind} ${d.id}${on} · ${d.presence}`);
    deviceMarkers.push(marker);
    bounds.push([f.lat, f.lon]);
    siteBounds.get(d.siteId)?.push([f.lat, f.lon]);
  }
  const resize = () => {
    const r = radiusAt(map.getZoom());
    for (const m of deviceMarkers) m.setRadius(r);
    // For the e2e test: the zoom the markers were sized for.
    map.getContainer().dataset.zoom = String(map.getZoom());
  };
  map.on('zoomend', resize);
  // For the e2e test: the view a zoom button led to, once it is reached (`data-fit` names the button's target:
  // `all` or a site id; `data-view` the view's south,west,north,east). Leaflet ends every fit with `moveend`,
  // also one that leaves the view where it was.
  const container = map.getContainer();
  let fitting = '';
  map.on('moveend', () => {
    const b = map.getBounds();
    container.dataset.view = [b.getSouth(), b.getWest(), b.getNorth(), b.getEast()].join(',');
    container.dataset.fit = fitting;
  });
  const fit = (target, fn) => {
    container.dataset.fit = '';
    fitting = target;
    fn();
  };
  const all = () =>
    fit('all', () => {
      if (bounds.length > 0) map.fitBounds(bounds, { padding: [20, 20], maxZoom: 17 });
      else map.setView([0, 0], 2);
    });
  all();
  resize();
  // Sites can lie hundreds of kilometres apart: one button per site zooms to its fence, stock and helmets.
  card.append(
    h(
      'p',
      { class: 'map-sites' },
      'Zoom: ',
      h('button', { type: 'button', onclick: all }, 'all sites'),
      sites.map((s) =>
        h(
          'button',
          {
            type: 'button',
            'data-site': s.id,
            onclick: () =>
              fit(s.id, () => map.fitBounds(siteBounds.get(s.id), { padding: [30, 30], maxZoom: 18 })),
          },
          s.name,
        ),
      ),
      h('small', {}, ' · blue: geofences · yellow: stakes · purple: helmets (latest positions)'),
    ),
  );
  const ro = new ResizeObserver(() => map.invalidateSize());
  ro.observe(map.getContainer());
  onLeave(() => {
    ro.disconnect();
    // Listeners first: after a window resize (a tablet rotated) Leaflet fires `moveend` from a 200 ms timer
    // (Map.invalidateSize, debounceMoveend) that remove() does not clear, and the `moveend` handler above then
    // read the bounds of a removed map: "Cannot read properties of undefined (reading '_leaflet_pos')", an
    // uncaught page error (reproduced in headless Chromium: rotate, leave within 200 ms).
    map.off();
    map.remove();
  });
}
