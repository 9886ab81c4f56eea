/**
 * The portfolio: borrowers, their sites and the collateral lots pledged there, with the whole book's summary.
 */
export type Sector = 'agriculture' | 'manufacturing' | 'trading';
export type LatLon = readonly [lat: number, lon: number];

export interface Borrower {
  readonly id: string;
  readonly name: string;
  readonly sector: Sector;
  readonly region: string;
  readonly createdAt: number;
}

export interface Site {
  readonly id: string;
  readonly borrowerId: string;
  readonly name: string;
  readonly kind: 'warehouse' | 'parcel' | 'factory' | 'yard';
  readonly lat: number;
  readonly lon: number;
  /** Closed polygon of [lat, lon] vertices (first vertex need not repeat). */
  readonly geofence: readonly LatLon[];
}

export interface CollateralLot {
  readonly id: string;
  readonly borrowerId: string;
  readonly siteId: string;
  readonly commodity: string;
  readonly pledgedWeightKg: number;
  readonly unitPricePerKg: number;
  readonly currency: string;
  readonly pledgedAt: number;
}

/** Keyset pagination: the sort value and id of the last item of the previous page. */
export interface After {
  readonly value: string | number;
  readonly id: string;
}

export type BorrowerSort = 'id' | 'name' | 'createdAt';

export interface BorrowerQuery {
  readonly limit: number;
  /**
   * Substring of the name or id, ASCII letters in any case (other letters as typed, as SQLite's LIKE matches on
   * either engine); `%`, `_` and `\` are literal.
   */
  readonly q?: string;
  readonly sector?: Sector;
  readonly region?: string;
  readonly sort?: BorrowerSort;
  readonly desc?: boolean;
  readonly after?: After;
}

export interface ListQuery {
  readonly limit: number;
  /** Items with an id greater than this (lists are ordered by id). */
  readonly afterId?: string;
}

export type PortfolioResource = 'borrower' | 'site' | 'lot';

export interface PortfolioSummary {
  readonly borrowers: number;
  readonly bySector: Readonly<Record<string, number>>;
  readonly sites: number;
  readonly lots: number;
  readonly devices: Readonly<Record<string, number>>;
  readonly loans: Readonly<Record<string, number>>;
  /** Per currency: principal of active loans, and what is still due on their schedules (due − paid). */
  readonly exposure: readonly {
    currency: string;
    activeLoans: number;
    principal: number;
    outstanding: number;
  }[];
  /** Per currency: pledged weight × unit price over every lot. */
  readonly collateralValue: readonly { currency: string; value: number }[];
}

export interface PortfolioRepository {
  upsertBorrowers(items: readonly Borrower[]): Promise<void>;
  upsertSites(items: readonly Site[]): Promise<void>;
  upsertLots(items: readonly CollateralLot[]): Promise<void>;
  getBorrower(id: string): Promise<Borrower | undefined>;
  /** The borrowers of these ids that exist, by id (a batch lookup: an import checks thousands at once). */
  getBorrowers(ids: readonly string[]): Promise<Map<string, Borrower>>;
  listBorrowers(): Promise<Borrower[]>;
  listSites(borrowerId?: string): Promise<Site[]>;
  getSite(id: string): Promise<Site | undefined>;
  listLots(borrowerId?: string): Promise<CollateralLot[]>;

  getLot(id: string): Promise<CollateralLot | undefined>;
  queryBorrowers(query: BorrowerQuery): Promise<Borrower[]>;
  querySites(query: ListQuery & { borrowerId?: string }): Promise<Site[]>;
  queryLots(query: ListQuery & { borrowerId?: string; siteId?: string }): Promise<CollateralLot[]>;
  /** How many rows of each kind refer to the resource (only kinds with some). */
  dependents(resource: PortfolioResource, id: string): Promise<Record<string, number>>;
  /**
   * Deletes a resource nothing refers to; resolves whether it existed. When the foreign keys refuse, rejects with
   * a CONFLICT whose `details.dependents` are the `dependents` counts (the API's 409); inside a transaction the
   * transaction stays usable.
   */
  deletePortfolioItem(resource: PortfolioResource, id: string): Promise<boolean>;
  portfolioSummary(): Promise<PortfolioSummary>;
}
