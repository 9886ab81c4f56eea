import { pointInPolygon } from '../../core/geo.js';
import type { CollateralLot, Device, Site } from '../../core/state/index.js';
import { dayValue, type DailyPanel, type PanelField, type PanelSeries } from './panel.js';

/**
 * Offline features of one borrower at t, from the daily panel and the registry (which lot a stake sits on,
 * which site fence applies). Pure: no store access. Every value is NaN when its data is missing; the missing
 * policy in spec.ts decides what the model sees.
 */
export const LOOKBACK_DAYS = 120;
/** Days before t each device kind's features read (offlineFeatures below): the panel reads no further back. */
const STAKE_DAYS = 33;
const WORKER_DAYS = 104;
const SATELLITE_DAYS = 30;
const COVERAGE_CAP = 5;

export interface BorrowerAssets {
  readonly borrowerId: string;
  readonly region: string;
  /** Stakes with their lot and the lot's site. */
  readonly stakes: readonly { device: Device; lot: CollateralLot; site: Site }[];
  readonly workerHelmets: readonly Device[];
  readonly inspectorHelmets: readonly { device: Device; site: Site }[];
  readonly parcelFeeds: readonly Device[];
  readonly siteFeeds: readonly Device[];
}

/**
 * The lender's inspector's helmet, as the registry records the wearer's role (migration 010), never from the
 * device's name. Pinned by risk/test/inspector-role.test.ts.
 */
export const isInspectorHelmet = (d: Device): boolean => d.kind === 'helmet' && d.role === 'inspector';

/**
 * The daily aggregates the offline features read. For a whole portfolio, whole device kinds: the stores make
 * a kind-wide query cheap (SQLite walks each device's key range) and InfluxDB gets a short query. For a few
 * borrowers (event-triggered scoring), their own devices only. The inspectors' positions always by device id.
 * Only order-free aggregates (count, mean, max), which every store computes in one grouped pass.
 */
export function panelFields(assets: readonly BorrowerAssets[], byDevice = false): PanelField[] {
  const ids = (list: readonly string[]): { deviceIds?: readonly string[] } =>
    byDevice ? { deviceIds: list } : {};
  const stakes = ids(assets.flatMap((a) => a.stakes.map((s) => s.device.id)));
  const workers = ids(assets.flatMap((a) => a.workerHelmets.map((d) => d.id)));
  const inspectors = assets.flatMap((a) => a.inspectorHelmets.map((h) => h.device.id));
  const parcels = ids(assets.flatMap((a) => a.parcelFeeds.map((d) => d.id)));
  const sites = ids(assets.flatMap((a) => a.siteFeeds.map((d) => d.id)));
  const feeds = ids(assets.flatMap((a) => [...a.parcelFeeds, ...a.siteFeeds].map((d) => d.id)));
  const days = (n: number): { days: number } => ({ days: n });
  return [
    { kind: 'stake', field: 'weightKg', fns: ['mean', 'count'], ...stakes, ...days(STAKE_DAYS) },
    { kind: 'stake', field: 'tamper', fns: ['max'], ...stakes, ...days(STAKE_DAYS) },
    { kind: 'stake', field: 'lat', fns: ['mean'], ...stakes, ...days(STAKE_DAYS) },
    { kind: 'stake', field: 'lon', fns: ['mean'], ...stakes, ...days(STAKE_DAYS) },
    { kind: 'helmet', field: 'worn', fns: ['mean', 'count'], ...workers, ...days(WORKER_DAYS) },
    { kind: 'helmet', field: 'lat', fns: ['mean'], deviceIds: inspectors, ...days(LOOKBACK_DAYS) },
    { kind: 'helmet', field: 'lon', fns: ['mean'], deviceIds: inspectors, ...days(LOOKBACK_DAYS) },
    { kind: 'satellite', field: 'ndvi', fns: ['mean'], ...parcels, ...days(SATELLITE_DAYS) },
    { kind: 'satellite', field: 'activityIndex', fns: ['mean'], ...sites, ...days(SATELLITE_DAYS) },
    { kind: 'satellite', field: 'cloudPct', fns: ['mean'], ...feeds, ...days(SATELLITE_DAYS) },
  ];
}

const at = dayValue;

/** Last non-missing value in days [from, to), scanning back; NaN when none. */
function lastIn(a: PanelSeries | undefined, from: number, to: number): number {
  if (a === undefined) return Number.NaN;
  for (let d = to - 1; d >= Math.max(0, from); d--) {
    const v = at(a, d);
    if (!Number.isNaN(v)) return v;
  }
  return Number.NaN;
}

/** Cloud-quality weight of a scene: clear sky 1, full cover 0. */
const cloudWeight = (cloudPct: number): number =>
  Number.isNaN(cloudPct) ? 0.5 : Math.max(0, 1 - cloudPct / 100) ** 2;

/** Cloud-weighted mean of a satellite field over days [from, to) of the given feeds: [Σw·v, Σw]. */
export function weightedSatellite(
  panel: DailyPanel,
  feeds: readonly Device[],
  field: 'ndvi' | 'activityIndex',
  from: number,
  to: number,
): [number, number] {
  let sw = 0;
  let swv = 0;
  for (const dev of feeds) {
    const v = panel.get('satellite', field, 'mean', dev.id);
    if (v === undefined) continue;
    const c = panel.get('satellite', 'cloudPct', 'mean', dev.id);
    for (let d = Math.max(0, from); d < to; d++) {
      const x = at(v, d);
      if (Number.isNaN(x)) continue;
      const w = cloudWeight(at(c, d));
      sw += w;
      swv += w * x;
    }
  }
  return [swv, sw];
}

export interface RegionBaselines {
  /** region → cloud-weighted mean NDVI of all its parcels over the 30 days before t. */
  readonly ndvi: ReadonlyMap<string, number>;
}

export function regionBaselines(
  panel: DailyPanel,
  all: readonly BorrowerAssets[],
  dayT: number,
): RegionBaselines {
  const acc = new Map<string, [number, number]>();
  for (const b of all) {
    const [swv, sw] = weightedSatellite(panel, b.parcelFeeds, 'ndvi', dayT - 30, dayT);
    const cur = acc.get(b.region) ?? [0, 0];
    acc.set(b.region, [cur[0] + swv, cur[1] + sw]);
  }
  const ndvi = new Map<string, number>();
  for (const [region, [swv, sw]] of acc) ndvi.set(region, sw > 0 ? swv / sw : Number.NaN);
  return { ndvi };
}

/** Offline feature values of one borrower; `dayT` = panel.daysBefore(t); `outstanding` from the loan book. */
export function offlineFeatures(
  panel: DailyPanel,
  b: BorrowerAssets,
  dayT: number,
  outstanding: number,
  baselines: RegionBaselines,
): Record<string, number> {
  // Collateral: last weight within 7 days, and the weights 7 and 30 days earlier.
  let value = 0;
  let weightNow = 0;
  let pledged = 0;
  let seen = 0;
  let now7 = 0;
  let then7 = 0;
  let now30 = 0;
  let then30 = 0;
  let stakeDays = 0;
  let breachDays = 0;
  let tamperDays = 0;
  let silentDays = 0;
  for (const { device, lot, site } of b.stakes) {
    // Daily mean weight: the load cell's noise averages out; sales inside a day show as a lower mean.
    const w = panel.get('stake', 'weightKg', 'mean', device.id);
    const n = panel.get('stake', 'weightKg', 'count', device.id);
    const last = lastIn(w, dayT - 7, dayT);
    if (!Number.isNaN(last)) {
      seen++;
      value += last * lot.unitPricePerKg;
      weightNow += last;
      pledged += lot.pledgedWeightKg;
      const w7 = lastIn(w, dayT - 10, dayT - 7);
      if (!Number.isNaN(w7)) {
        now7 += last;
        then7 += w7;
      }
      const w30 = lastIn(w, dayT - 33, dayT - 30);
      if (!Number.isNaN(w30)) {
        now30 += last;
        then30 += w30;
      }
    }
    const tamper = panel.get('stake', 'tamper', 'max', device.id);
    const lat = panel.get('stake', 'lat', 'mean', device.id);
    const lon = panel.get('stake', 'lon', 'mean', device.id);
    for (let d = Math.max(0, dayT - 30); d < dayT; d++) {
      const count = at(n, d);
      if (d >= dayT - 7 && !(count > 0)) silentDays++;
      if (!(count > 0)) continue;
      stakeDays++;
      if (at(tamper, d) >= 1) tamperDays++;
      const la = at(lat, d);
      const lo = at(lon, d);
      if (!Number.isNaN(la) && !Number.isNaN(lo) && !pointInPolygon([la, lo], site.geofence)) breachDays++;
    }
  }
  const NaN_ = Number.NaN;
  const coverage =
    seen === 0 ? NaN_ : outstanding > 0 ? Math.min(COVERAGE_CAP, value / outstanding) : COVERAGE_CAP;

  // Worker helmets: worn readings per day, last 14 days vs the 90 days before.
  let recent = 0;
  let base = 0;
  let any = false;
  for (const h of b.workerHelmets) {
    const m = panel.get('helmet', 'worn', 'mean', h.id);
    const c = panel.get('helmet', 'worn', 'count', h.id);
    if (m === undefined || c === undefined) continue;
    for (let d = Math.max(0, dayT - 104); d < dayT; d++) {
      const worn = at(m, d) * at(c, d);
      if (Number.isNaN(worn)) continue;
      any = true;
      if (d >= dayT - 14) recent += worn;
      else base += worn;
    }
  }
  const baseDays = Math.min(90, Math.max(0, dayT - 14));
  const workerRatio = !any || base <= 0 || baseDays < 30 ? NaN_ : recent / 14 / (base / baseDays);

  // Inspections: the inspector's helmet reports only while inspecting.
  let sinceDays = LOOKBACK_DAYS;
  let offsite = NaN_;
  for (const { device, site } of b.inspectorHelmets) {
    const lat = panel.get('helmet', 'lat', 'mean', device.id);
    const lon = panel.get('helmet', 'lon', 'mean', device.id);
    for (let d = dayT - 1; d >= Math.max(0, dayT - LOOKBACK_DAYS); d--) {
      const la = at(lat, d);
      const lo = at(lon, d);
      if (Number.isNaN(la) || Number.isNaN(lo)) continue;
      if (dayT - d < sinceDays) {
        sinceDays = dayT - d;
        offsite = pointInPolygon([la, lo], site.geofence) ? 0 : 1;
      }
      break;
    }
  }

  // Satellite: NDVI against the region's parcels, activity against the site's normal (100).
  const [nv, nw] = weightedSatellite(panel, b.parcelFeeds, 'ndvi', dayT - 30, dayT);
  const regionNdvi = baselines.ndvi.get(b.region) ?? NaN_;
  const [av, aw] = weightedSatellite(panel, b.siteFeeds, 'activityIndex', dayT - 30, dayT);

  return {
    collateral_coverage: coverage,
    collateral_fill: seen === 0 || pledged <= 0 ? NaN_ : weightNow / pledged,
    weight_change_7d: then7 > 0 ? now7 / then7 - 1 : NaN_,
    weight_change_30d: then30 > 0 ? now30 / then30 - 1 : NaN_,
    geofence_breach_share_30d: stakeDays > 0 ? breachDays / stakeDays : NaN_,
    tamper_share_30d: stakeDays > 0 ? tamperDays / stakeDays : NaN_,
    stake_offline_share_7d: b.stakes.length > 0 ? silentDays / (7 * b.stakes.length) : 0,
    worker_activity_ratio: workerRatio,
    inspection_days_since: sinceDays,
    inspection_offsite: offsite,
    ndvi_anomaly_30d: nw > 0 && !Number.isNaN(regionNdvi) ? nv / nw - regionNdvi : NaN_,
    activity_anomaly_30d: aw > 0 ? av / aw / 100 - 1 : NaN_,
  };
}
