import type { Borrower, Device, Repayment, State } from '../../core/state/index.js';
import type { TelemetryStore } from '../../core/storage/telemetry-store.js';
import { bookStatus, DAY_MS, onlineFeatures, type BookStatus, type BorrowerBook } from './online.js';
import {
  isInspectorHelmet,
  LOOKBACK_DAYS,
  offlineFeatures,
  panelFields,
  regionBaselines,
  type BorrowerAssets,
  type RegionBaselines,
} from './offline.js';
import { loadPanel } from './panel.js';

/** Up to this many borrowers, the panel asks for their devices by id rather than whole device kinds. */
const FEW_BORROWERS = 50;
import { FEATURE_NAMES } from './spec.js';

/**
 * Features for a portfolio at one or more observation times, from the two stores only (what a lender can
 * observe): the loan book and registry from the state store, device data from the telemetry store through one
 * daily panel (one `aggregateGrid` query per device kind and device list, whatever the number of borrowers and days).
 *
 * Times must be UTC midnights, except the latest, which may be any instant (live scoring at "now").
 */
export interface FeatureRow {
  readonly borrowerId: string;
  readonly t: number;
  /** In FEATURE_NAMES order; NaN = missing. */
  readonly values: Float64Array;
  readonly status: BookStatus;
  /**
   * Features that cannot exist for this borrower (no parcels → no NDVI): still model inputs (missing), never
   * adverse-action reasons. Absent when every feature applies.
   */
  readonly notApplicable?: readonly string[];
}

export interface Portfolio {
  readonly borrowers: readonly Borrower[];
  readonly assets: ReadonlyMap<string, BorrowerAssets>;
  readonly books: ReadonlyMap<string, BorrowerBook>;
}

export async function loadPortfolio(state: State, borrowerIds?: readonly string[]): Promise<Portfolio> {
  // A few borrowers (event-triggered scoring): per-borrower lookups; the whole book: one pass per table.
  const few = borrowerIds !== undefined && borrowerIds.length <= 50;
  const borrowers: Borrower[] = [];
  if (borrowerIds === undefined) borrowers.push(...(await state.portfolio.listBorrowers()));
  else if (few) {
    for (const id of borrowerIds) {
      const b = await state.portfolio.getBorrower(id);
      if (b !== undefined) borrowers.push(b);
    }
  } else {
    const wanted = new Set(borrowerIds);
    borrowers.push(...(await state.portfolio.listBorrowers()).filter((b) => wanted.has(b.id)));
  }
  const sites = new Map(
    (await perBorrower(few, borrowers, (id) => state.portfolio.listSites(id))).map((s) => [s.id, s]),
  );
  const lots = new Map(
    (await perBorrower(few, borrowers, (id) => state.portfolio.listLots(id))).map((l) => [l.id, l]),
  );
  const devicesBy = groupBy(
    (
      await perBorrower(few, borrowers, (id) =>
        state.devices.listDevices(id === undefined ? {} : { borrowerId: id }),
      )
    ).filter((d) => d.status === 'active'),
  );
  const loansBy = groupBy(await perBorrower(few, borrowers, (id) => state.loans.listLoans(id)));
  const assets = new Map<string, BorrowerAssets>();
  const books = new Map<string, BorrowerBook>();
  for (const b of borrowers) {
    const stakes: BorrowerAssets['stakes'][number][] = [];
    const workerHelmets: Device[] = [];
    const inspectorHelmets: BorrowerAssets['inspectorHelmets'][number][] = [];
    const parcelFeeds: Device[] = [];
    const siteFeeds: Device[] = [];
    for (const d of devicesBy.get(b.id) ?? []) {
      const site = sites.get(d.siteId);
      if (site === undefined) continue;
      if (d.kind === 'stake') {
        const lot = d.lotId === undefined ? undefined : lots.get(d.lotId);
        if (lot !== undefined) stakes.push({ device: d, lot, site: sites.get(lot.siteId) ?? site });
      } else if (d.kind === 'helmet') {
        if (isInspectorHelmet(d)) inspectorHelmets.push({ device: d, site });
        else workerHelmets.push(d);
      } else if (site.kind === 'parcel') parcelFeeds.push(d);
      else siteFeeds.push(d);
    }
    assets.set(b.id, {
      borrowerId: b.id,
      region: b.region,
      stakes,
      workerHelmets,
      inspectorHelmets,
      parcelFeeds,
      siteFeeds,
    });
    const loans = loansBy.get(b.id) ?? [];
    // One read per loan: the loan repository has no bulk read of repayments.
    const repayments = new Map<string, Repayment[]>();
    for (const l of loans) repayments.set(l.id, await state.loans.listRepayments(l.id));
    books.set(b.id, { loans, repayments });
  }
  return { borrowers, assets, books };
}

/** The rows of the named borrowers one call each (a few of them), or of the whole book in one call. */
async function perBorrower<T extends { readonly borrowerId: string }>(
  few: boolean,
  borrowers: readonly Borrower[],
  list: (borrowerId?: string) => Promise<T[]>,
): Promise<T[]> {
  if (!few) return list();
  const out: T[] = [];
  for (const b of borrowers) out.push(...(await list(b.id)));
  return out;
}

function groupBy<T extends { readonly borrowerId: string }>(items: readonly T[]): Map<string, T[]> {
  const by = new Map<string, T[]>();
  for (const x of items) {
    const list = by.get(x.borrowerId) ?? [];
    list.push(x);
    by.set(x.borrowerId, list);
  }
  return by;
}

export interface ExtractOptions {
  readonly telemetryStore: TelemetryStore;
  readonly portfolio: Portfolio;
  readonly times: readonly number[];
  /** Keep only borrowers with a loan started by t (default true). */
  readonly withLoansOnly?: boolean;
  readonly onProgress?: (line: string) => void;
  /**
   * Region baselines (NDVI of all parcels in the region) to use instead of computing them from this
   * portfolio — needed when only a few borrowers are extracted (their own parcels are not their region).
   * Only with a single observation time.
   */
  readonly regionBaselines?: RegionBaselines;
  /**
   * Read the borrowers' own devices (true) or whole device kinds (false); default: by device up to 50
   * borrowers. Both give the same features (risk/test/features.test.ts), by different store query plans.
   */
  readonly byDevice?: boolean;
  /** Hears the region baselines computed at each time (to reuse for single-borrower runs). */
  readonly onBaselines?: (t: number, baselines: RegionBaselines) => void;
}

export async function extractFeatures(opts: ExtractOptions): Promise<FeatureRow[]> {
  const times = [...opts.times].sort((a, b) => a - b);
  const first = times[0];
  const last = times[times.length - 1];
  if (first === undefined || last === undefined) return [];
  const { portfolio } = opts;
  const fromMs = Math.floor(first / DAY_MS) * DAY_MS - (LOOKBACK_DAYS + 1) * DAY_MS;
  const panel = await loadPanel({
    store: opts.telemetryStore,
    // A few borrowers: their own devices; the whole book: whole kinds.
    fields: panelFields(
      [...portfolio.assets.values()],
      opts.byDevice ?? portfolio.borrowers.length <= FEW_BORROWERS,
    ),
    fromMs,
    toMs: last,
    lookbackDays: LOOKBACK_DAYS + 1,
    onQuery: (done, total) => opts.onProgress?.(`features: telemetry query ${done}/${total}`),
  });
  const all = [...portfolio.assets.values()];
  const rows: FeatureRow[] = [];
  for (const t of times) {
    const dayT = panel.daysBefore(t);
    const baselines = opts.regionBaselines ?? regionBaselines(panel, all, dayT);
    opts.onBaselines?.(t, baselines);
    for (const b of portfolio.borrowers) {
      const book = portfolio.books.get(b.id);
      const assets = portfolio.assets.get(b.id);
      if (book === undefined || assets === undefined) continue;
      if ((opts.withLoansOnly ?? true) && !book.loans.some((l) => l.startAt <= t)) continue;
      const status = bookStatus(book, t);
      const named = {
        ...onlineFeatures(book, t),
        ...offlineFeatures(panel, assets, dayT, status.outstanding, baselines),
      };
      const values = new Float64Array(FEATURE_NAMES.length);
      FEATURE_NAMES.forEach((name, i) => (values[i] = named[name] ?? Number.NaN));
      const na = notApplicable(assets);
      rows.push({ borrowerId: b.id, t, values, status, ...(na.length === 0 ? {} : { notApplicable: na }) });
    }
  }
  return rows;
}

/** The offline features a borrower's devices cannot produce at all. */
export function notApplicable(a: BorrowerAssets): string[] {
  const out: string[] = [];
  if (a.stakes.length === 0) {
    out.push('collateral_coverage', 'collateral_fill', 'weight_change_7d', 'weight_change_30d');
    out.push('geofence_breach_share_30d', 'tamper_share_30d');
  }
  if (a.workerHelmets.length === 0) out.push('worker_activity_ratio');
  if (a.inspectorHelmets.length === 0) out.push('inspection_days_since', 'inspection_offsite');
  if (a.parcelFeeds.length === 0) out.push('ndvi_anomaly_30d');
  if (a.siteFeeds.length === 0) out.push('activity_anomaly_30d');
  return out;
}
