import { RiskfuseError } from '../../errors.js';
import { isConstraintError, type Database, type Dialect, type Row } from '../database.js';
import { textListSql } from '../sql-text-list.js';
import { upsertRows } from '../sql-upsert.js';
import type {
  After,
  Borrower,
  BorrowerQuery,
  CollateralLot,
  ListQuery,
  PortfolioRepository,
  PortfolioResource,
  PortfolioSummary,
  Site,
} from './portfolio-repository.js';

/** Sort keys of the borrower list and their columns (never user text in SQL). */
const BORROWER_SORT_COLUMNS = { id: 'id', name: 'name', createdAt: 'created_at' } as const;

/** Who refers to what: the dependents counted when a delete is refused, as [label, table, column]. */
const DEPENDENTS: Record<
  PortfolioResource,
  readonly (readonly [label: string, table: string, column: string])[]
> = {
  borrower: [
    ['sites', 'sites', 'borrower_id'],
    ['lots', 'collateral_lots', 'borrower_id'],
    ['devices', 'devices', 'borrower_id'],
    ['loans', 'loans', 'borrower_id'],
  ],
  site: [
    ['lots', 'collateral_lots', 'site_id'],
    ['devices', 'devices', 'site_id'],
  ],
  lot: [['devices', 'devices', 'lot_id']],
};
/** Every count in one statement (one round trip on PostgreSQL). */
const DEPENDENTS_SQL = Object.fromEntries(
  Object.entries(DEPENDENTS).map(([resource, list]) => [
    resource,
    `SELECT ${list.map(([label, table, column]) => `(SELECT count(*) FROM ${table} WHERE ${column} = @id) AS ${label}`).join(', ')}`,
  ]),
) as Record<PortfolioResource, string>;

const PORTFOLIO_TABLES: Record<PortfolioResource, string> = {
  borrower: 'borrowers',
  site: 'sites',
  lot: 'collateral_lots',
};

const toBorrower = (r: Row): Borrower => ({
  id: String(r.id),
  name: String(r.name),
  sector: String(r.sector) as Borrower['sector'],
  region: String(r.region),
  createdAt: Number(r.created_at),
});
const toSite = (r: Row): Site => ({
  id: String(r.id),
  borrowerId: String(r.borrower_id),
  name: String(r.name),
  kind: String(r.kind) as Site['kind'],
  lat: Number(r.lat),
  lon: Number(r.lon),
  geofence: JSON.parse(String(r.geofence)) as Site['geofence'],
});
const toLot = (r: Row): CollateralLot => ({
  id: String(r.id),
  borrowerId: String(r.borrower_id),
  siteId: String(r.site_id),
  commodity: String(r.commodity),
  pledgedWeightKg: Number(r.pledged_weight_kg),
  unitPricePerKg: Number(r.unit_price_per_kg),
  currency: String(r.currency),
  pledgedAt: Number(r.pledged_at),
});

const upsertBorrowerRows = upsertRows({
  table: 'borrowers',
  columns: ['id', 'name', 'sector', 'region', 'created_at'],
  key: 'id',
  update: ['name', 'sector', 'region'],
});
const upsertSiteRows = upsertRows({
  table: 'sites',
  columns: ['id', 'borrower_id', 'name', 'kind', 'lat', 'lon', 'geofence'],
  key: 'id',
  update: ['name', 'kind', 'lat', 'lon', 'geofence'],
});
const upsertLotRows = upsertRows({
  table: 'collateral_lots',
  columns: [
    'id',
    'borrower_id',
    'site_id',
    'commodity',
    'pledged_weight_kg',
    'unit_price_per_kg',
    'currency',
    'pledged_at',
  ],
  key: 'id',
  update: ['site_id', 'commodity', 'pledged_weight_kg', 'unit_price_per_kg', 'currency'],
});

/**
 * A column lowered for a case-insensitive match that folds ASCII letters only, as SQLite's `lower()` and LIKE
 * do: PostgreSQL's `lower()` folds by the database's locale (every letter under C.UTF-8 or en_US, ASCII only
 * under C), and under the "C" collation it folds ASCII only whatever the database's locale.
 */
const asciiLower = (dialect: Dialect, column: string): string =>
  dialect === 'postgres' ? `lower(${column} COLLATE "C")` : `lower(${column})`;

/**
 * LIKE pattern (with `ESCAPE '\'`) of a substring: ASCII letters lowered (to match `asciiLower`), other letters
 * kept as typed, and the user's `%`, `_` and `\` literal.
 */
const asciiLikeSubstring = (q: string): string =>
  `%${q.replace(/[A-Z]/g, (c) => c.toLowerCase()).replace(/[\\%_]/g, (c) => `\\${c}`)}%`;

/**
 * The portfolio on the state database (SQLite or PostgreSQL). Lists page by keyset (the sort value and id of
 * the previous page's last item). A delete that foreign keys refuse is a CONFLICT naming the dependents.
 */
export class SqlPortfolioRepository implements PortfolioRepository {
  constructor(private readonly db: Database) {}

  async upsertBorrowers(items: readonly Borrower[]): Promise<void> {
    await upsertBorrowerRows(
      this.db,
      items.map((b) => [b.id, b.name, b.sector, b.region, b.createdAt]),
    );
  }

  async upsertSites(items: readonly Site[]): Promise<void> {
    await upsertSiteRows(
      this.db,
      items.map((x) => [x.id, x.borrowerId, x.name, x.kind, x.lat, x.lon, JSON.stringify(x.geofence)]),
    );
  }

  async upsertLots(items: readonly CollateralLot[]): Promise<void> {
    await upsertLotRows(
      this.db,
      items.map((x) => [
        x.id,
        x.borrowerId,
        x.siteId,
        x.commodity,
        x.pledgedWeightKg,
        x.unitPricePerKg,
        x.currency,
        x.pledgedAt,
      ]),
    );
  }

  async getBorrower(id: string): Promise<Borrower | undefined> {
    const r = await this.db.get('SELECT * FROM borrowers WHERE id = ?', [id]);
    return r && toBorrower(r);
  }

  async getBorrowers(ids: readonly string[]): Promise<Map<string, Borrower>> {
    const out = new Map<string, Borrower>();
    // Pages of ids, each one statement (one round trip on PostgreSQL) whatever its length.
    for (let i = 0; i < ids.length; i += 1_000) {
      const rows = await this.db.all(
        `SELECT * FROM borrowers WHERE id IN (${textListSql(this.db.dialect)})`,
        [JSON.stringify(ids.slice(i, i + 1_000))],
      );
      for (const r of rows) out.set(String(r.id), toBorrower(r));
    }
    return out;
  }

  async listBorrowers(): Promise<Borrower[]> {
    return (await this.db.all('SELECT * FROM borrowers ORDER BY id')).map(toBorrower);
  }

  async listSites(borrowerId?: string): Promise<Site[]> {
    const rows =
      borrowerId === undefined
        ? await this.db.all('SELECT * FROM sites ORDER BY id')
        : await this.db.all('SELECT * FROM sites WHERE borrower_id = ? ORDER BY id', [borrowerId]);
    return rows.map(toSite);
  }

  async getSite(id: string): Promise<Site | undefined> {
    const r = await this.db.get('SELECT * FROM sites WHERE id = ?', [id]);
    return r && toSite(r);
  }

  async listLots(borrowerId?: string): Promise<CollateralLot[]> {
    const rows =
      borrowerId === undefined
        ? await this.db.all('SELECT * FROM collateral_lots ORDER BY id')
        : await this.db.all('SELECT * FROM collateral_lots WHERE borrower_id = ? ORDER BY id', [borrowerId]);
    return rows.map(toLot);
  }

  async getLot(id: string): Promise<CollateralLot | undefined> {
    const r = await this.db.get('SELECT * FROM collateral_lots WHERE id = ?', [id]);
    return r && toLot(r);
  }

  async queryBorrowers(query: BorrowerQuery): Promise<Borrower[]> {
    const sort = query.sort ?? 'id';
    const col = BORROWER_SORT_COLUMNS[sort];
    const dir = query.desc === true ? 'DESC' : 'ASC';
    const cmp = query.desc === true ? '<' : '>';
    const after: After | undefined = query.after;
    const keyset =
      after === undefined
        ? ''
        : sort === 'id'
          ? `AND id ${cmp} @afterId`
          : `AND (${col} ${cmp} @afterValue OR (${col} = @afterValue AND id ${cmp} @afterId))`;
    const name = asciiLower(this.db.dialect, 'name');
    const id = asciiLower(this.db.dialect, 'id');
    const rows = await this.db.all(
      `SELECT * FROM borrowers
       WHERE (CAST(@q AS TEXT) IS NULL OR ${name} LIKE @q ESCAPE '\\' OR ${id} LIKE @q ESCAPE '\\')
         AND (CAST(@sector AS TEXT) IS NULL OR sector = @sector)
         AND (CAST(@region AS TEXT) IS NULL OR region = @region) ${keyset}
       ORDER BY ${sort === 'id' ? `id ${dir}` : `${col} ${dir}, id ${dir}`} LIMIT @limit`,
      {
        q: query.q === undefined ? null : asciiLikeSubstring(query.q),
        sector: query.sector ?? null,
        region: query.region ?? null,
        limit: query.limit,
        ...(after === undefined
          ? {}
          : { afterId: after.id, ...(sort === 'id' ? {} : { afterValue: after.value }) }),
      },
    );
    return rows.map(toBorrower);
  }

  async querySites(query: ListQuery & { borrowerId?: string }): Promise<Site[]> {
    const rows = await this.db.all(
      `SELECT * FROM sites WHERE (CAST(@borrowerId AS TEXT) IS NULL OR borrower_id = @borrowerId)
         AND (CAST(@afterId AS TEXT) IS NULL OR id > @afterId) ORDER BY id LIMIT @limit`,
      { borrowerId: query.borrowerId ?? null, afterId: query.afterId ?? null, limit: query.limit },
    );
    return rows.map(toSite);
  }

  async queryLots(query: ListQuery & { borrowerId?: string; siteId?: string }): Promise<CollateralLot[]> {
    const rows = await this.db.all(
      `SELECT * FROM collateral_lots WHERE (CAST(@borrowerId AS TEXT) IS NULL OR borrower_id = @borrowerId)
         AND (CAST(@siteId AS TEXT) IS NULL OR site_id = @siteId)
         AND (CAST(@afterId AS TEXT) IS NULL OR id > @afterId) ORDER BY id LIMIT @limit`,
      {
        borrowerId: query.borrowerId ?? null,
        siteId: query.siteId ?? null,
        afterId: query.afterId ?? null,
        limit: query.limit,
      },
    );
    return rows.map(toLot);
  }

  async dependents(resource: PortfolioResource, id: string): Promise<Record<string, number>> {
    const r = (await this.db.get(DEPENDENTS_SQL[resource], { id })) ?? {};
    const out: Record<string, number> = {};
    for (const [label] of DEPENDENTS[resource]) {
      const c = Number(r[label] ?? 0);
      if (c > 0) out[label] = c;
    }
    return out;
  }

  /**
   * The foreign keys decide (no check-then-delete race): a refused delete becomes the CONFLICT the API has
   * always answered (`details.dependents`). Inside a transaction the DELETE runs under a savepoint, because a
   * refused statement aborts a whole PostgreSQL transaction (SQLite's only the statement) and the dependents are
   * counted after it, in the caller's transaction that goes on.
   */
  async deletePortfolioItem(resource: PortfolioResource, id: string): Promise<boolean> {
    const sql = `DELETE FROM ${PORTFOLIO_TABLES[resource]} WHERE id = ?`;
    const savepoint = this.db.inTransaction();
    try {
      if (!savepoint) return (await this.db.run(sql, [id])) > 0;
      await this.db.run('SAVEPOINT portfolio_delete');
      const changed = await this.db.run(sql, [id]);
      await this.db.run('RELEASE SAVEPOINT portfolio_delete');
      return changed > 0;
    } catch (err) {
      if (!isConstraintError(err, 'foreign-key')) throw err;
      if (savepoint) {
        await this.db.run('ROLLBACK TO SAVEPOINT portfolio_delete');
        await this.db.run('RELEASE SAVEPOINT portfolio_delete');
      }
      const dependents = await this.dependents(resource, id);
      const what = Object.entries(dependents).map(([k, v]) => `${v} ${k}`);
      throw new RiskfuseError(
        'CONFLICT',
        what.length > 0
          ? `${resource} ${id} still has ${what.join(', ')}; delete or move them first`
          : `${resource} ${id} is still referred to; delete or move what refers to it first`,
        { cause: err, details: { dependents } },
      );
    }
  }

  async portfolioSummary(): Promise<PortfolioSummary> {
    const counts = async (sql: string): Promise<Record<string, number>> => {
      const out: Record<string, number> = {};
      for (const r of await this.db.all(sql)) out[String(r.k)] = Number(r.c);
      return out;
    };
    const one = async (sql: string): Promise<number> => Number((await this.db.get(sql))?.c ?? 0);
    // Independent reads: on PostgreSQL they run side by side on the pool; SQLite answers each at once.
    const [borrowers, bySector, sites, lots, devices, loans, exposure, collateralValue] = await Promise.all([
      one('SELECT count(*) AS c FROM borrowers'),
      counts('SELECT sector AS k, count(*) AS c FROM borrowers GROUP BY sector ORDER BY sector'),
      one('SELECT count(*) AS c FROM sites'),
      one('SELECT count(*) AS c FROM collateral_lots'),
      counts('SELECT status AS k, count(*) AS c FROM devices GROUP BY status ORDER BY status'),
      counts('SELECT status AS k, count(*) AS c FROM loans GROUP BY status ORDER BY status'),
      this.db.all(
        `SELECT l.currency, count(*) AS loans, sum(l.principal) AS principal,
           coalesce(sum((SELECT sum(r.amount_due - r.amount_paid) FROM repayments r WHERE r.loan_id = l.id)), 0)
             AS outstanding
         FROM loans l WHERE l.status = 'active' GROUP BY l.currency ORDER BY l.currency`,
      ),
      this.db.all(
        `SELECT currency, sum(pledged_weight_kg * unit_price_per_kg) AS value FROM collateral_lots
         GROUP BY currency ORDER BY currency`,
      ),
    ]);
    return {
      borrowers,
      bySector,
      sites,
      lots,
      devices,
      loans,
      exposure: exposure.map((r) => ({
        currency: String(r.currency),
        activeLoans: Number(r.loans),
        principal: Number(r.principal),
        outstanding: Number(r.outstanding),
      })),
      collateralValue: collateralValue.map((r) => ({ currency: String(r.currency), value: Number(r.value) })),
    };
  }
}
