import { Type, type Static } from '@sinclair/typebox';
import { RiskfuseError } from '../../core/errors.js';
import type {
  Borrower as BorrowerRecord,
  CollateralLot,
  PortfolioResource,
  Site as SiteRecord,
} from '../../core/state/index.js';
import type { ApiApp, RouteContext } from '../app.js';
import { decodeCursor, isString, paged } from '../pagination.js';
import { ERROR_RESPONSES } from '../problem.js';
import {
  Borrower,
  BorrowerPatch,
  Cursor,
  Id,
  IdParams,
  Limit,
  Lot,
  LotPatch,
  NewBorrower,
  NewLot,
  NewSite,
  Page,
  Sector,
  Site,
  SitePatch,
} from '../schemas.js';

/** The stored site with its geofence as the schema's (mutable) tuples. */
type SiteBody = Static<typeof Site>;

const BORROWER_SORTS = ['id', '-id', 'name', '-name', 'createdAt', '-createdAt'] as const;

const Summary = Type.Object({
  borrowers: Type.Integer(),
  bySector: Type.Record(Type.String(), Type.Integer()),
  sites: Type.Integer(),
  lots: Type.Integer(),
  devices: Type.Record(Type.String(), Type.Integer(), { description: 'by status' }),
  loans: Type.Record(Type.String(), Type.Integer(), { description: 'by status' }),
  exposure: Type.Array(
    Type.Object({
      currency: Type.String(),
      activeLoans: Type.Integer(),
      principal: Type.Number(),
      outstanding: Type.Number({ description: 'due − paid over the schedules of active loans' }),
    }),
  ),
  collateralValue: Type.Array(Type.Object({ currency: Type.String(), value: Type.Number() })),
  byGrade: Type.Union([Type.Record(Type.String(), Type.Integer()), Type.Null()], {
    description: 'borrowers by risk grade; null until the risk module is wired in',
  }),
  openAlerts: Type.Union([Type.Integer(), Type.Null()], {
    description: 'alerts not yet resolved (open or acknowledged); null when the alert engine is not wired in',
  }),
});

const isBorrowerKey = (v: unknown): v is [string | number, string] =>
  Array.isArray(v) &&
  v.length === 2 &&
  (typeof v[0] === 'string' || typeof v[0] === 'number') &&
  isString(v[1]);

/** Borrowers, sites (with geofences) and collateral lots: CRUD, search, the portfolio summary. */
export function portfolioRoutes(app: ApiApp, ctx: RouteContext): void {
  const { state } = ctx;
  const notFound = (what: string, id: string): RiskfuseError =>
    new RiskfuseError('NOT_FOUND', `no ${what} ${id}`);
  const mustBorrower = async (id: string): Promise<BorrowerRecord> => {
    const b = await state.portfolio.getBorrower(id);
    if (b === undefined) throw notFound('borrower', id);
    return b;
  };
  const mustSite = async (id: string): Promise<SiteRecord> => {
    const s = await state.portfolio.getSite(id);
    if (s === undefined) throw notFound('site', id);
    return s;
  };
  const mustLot = async (id: string): Promise<CollateralLot> => {
    const l = await state.portfolio.getLot(id);
    if (l === undefined) throw notFound('lot', id);
    return l;
  };
  /** A body referring to something that does not exist is a bad request (400), not a 404 of the URL. */
  const refMissing = (what: string, id: string, field: string): RiskfuseError =>
    new RiskfuseError('VALIDATION_FAILED', `no ${what} ${id}`, {
      details: { errors: [{ path: `body/${field}`, message: `no ${what} ${id}` }] },
    });

  /**
   * Every write here checks then writes (the id is free, the parent exists, nothing depends on it, the row read
   * is the row changed): serializable, so that on PostgreSQL two requests at once behave as if one ran after
   * the other — two creates of one id give one 201 and one 409, two deletes one 204 and one 404 — instead of
   * both passing the check (SQLite's write transactions run one at a time anyway).
   */
  const SERIALIZABLE = { isolation: 'serializable' } as const;

  const remove = (
    resource: PortfolioResource,
    id: string,
    load: (id: string) => Promise<unknown>,
    request: Parameters<RouteContext['audit']>[0],
  ): Promise<void> =>
    state.transaction(async () => {
      const before = await load(id);
      const dependents = await state.portfolio.dependents(resource, id);
      if (Object.keys(dependents).length > 0) {
        throw new RiskfuseError(
          'CONFLICT',
          `${resource} ${id} still has ${Object.entries(dependents)
            .map(([k, v]) => `${v} ${k}`)
            .join(', ')}; delete or move them first`,
          { details: { dependents } },
        );
      }
      await state.portfolio.deletePortfolioItem(resource, id);
      await ctx.audit(request, { action: 'delete', resource, resourceId: id, before });
    }, SERIALIZABLE);

  app.get(
    '/portfolio/summary',
    {
      schema: {
        summary: 'Portfolio summary: counts, exposure, collateral value, grades and open alerts',
        tags: ['portfolio'],
        response: { 200: Summary, ...ERROR_RESPONSES },
      },
    },
    async () => {
      const summary = await state.portfolio.portfolioSummary();
      return {
        ...summary,
        exposure: [...summary.exposure],
        collateralValue: [...summary.collateralValue],
        byGrade: (await ctx.gradeCounts?.()) ?? null,
        openAlerts: (await ctx.countActiveAlerts?.()) ?? null,
      };
    },
  );

  // Borrowers
  app.get(
    '/borrowers',
    {
      schema: {
        summary: 'Search borrowers',
        tags: ['borrowers'],
        querystring: Type.Object(
          {
            q: Type.Optional(
              Type.String({ minLength: 1, maxLength: 100, description: 'substring of name or id' }),
            ),
            sector: Type.Optional(Sector),
            region: Type.Optional(Type.String({ maxLength: 100 })),
            sort: Type.Optional(
              Type.Union(
                BORROWER_SORTS.map((s) => Type.Literal(s)),
                { default: 'id', description: '`-` for descending' },
              ),
            ),
            limit: Limit,
            cursor: Type.Optional(Cursor),
          },
          { additionalProperties: false },
        ),
        response: { 200: Page(Borrower), ...ERROR_RESPONSES },
      },
    },
    async (request) => {
      const { q, sector, region, limit, cursor } = request.query;
      const sortParam = request.query.sort ?? 'id';
      const desc = sortParam.startsWith('-');
      const sort = (desc ? sortParam.slice(1) : sortParam) as 'id' | 'name' | 'createdAt';
      const after = cursor === undefined ? undefined : decodeCursor(cursor, isBorrowerKey);
      const rows = await state.portfolio.queryBorrowers({
        limit: limit + 1,
        sort,
        desc,
        ...(q === undefined ? {} : { q }),
        ...(sector === undefined ? {} : { sector }),
        ...(region === undefined ? {} : { region }),
        ...(after === undefined ? {} : { after: { value: after[0], id: after[1] } }),
      });
      return paged(rows, limit, (b) => [
        sort === 'name' ? b.name : sort === 'createdAt' ? b.createdAt : b.id,
        b.id,
      ]);
    },
  );

  app.post(
    '/borrowers',
    {
      schema: {
        summary: 'Register a borrower',
        tags: ['borrowers'],
        body: NewBorrower,
        response: { 201: Borrower, ...ERROR_RESPONSES },
      },
    },
    async (request, reply) => {
      const borrower: BorrowerRecord = { ...request.body, createdAt: ctx.now() };
      await state.transaction(async () => {
        if (await state.portfolio.getBorrower(borrower.id))
          throw new RiskfuseError('CONFLICT', `borrower ${borrower.id} exists`);
        await state.portfolio.upsertBorrowers([borrower]);
        await ctx.audit(request, {
          action: 'create',
          resource: 'borrower',
          resourceId: borrower.id,
          after: borrower,
        });
      }, SERIALIZABLE);
      void reply.code(201);
      return borrower;
    },
  );

  app.get(
    '/borrowers/:id',
    {
      schema: {
        summary: 'A borrower',
        tags: ['borrowers'],
        params: IdParams,
        response: { 200: Borrower, ...ERROR_RESPONSES },
      },
    },
    (request) => mustBorrower(request.params.id),
  );

  app.patch(
    '/borrowers/:id',
    {
      schema: {
        summary: 'Change a borrower’s name, sector or region',
        tags: ['borrowers'],
        params: IdParams,
        body: BorrowerPatch,
        response: { 200: Borrower, ...ERROR_RESPONSES },
      },
    },
    (request) =>
      state.transaction(async () => {
        const before = await mustBorrower(request.params.id);
        const after: BorrowerRecord = { ...before, ...request.body };
        await state.portfolio.upsertBorrowers([after]);
        await ctx.audit(request, {
          action: 'update',
          resource: 'borrower',
          resourceId: before.id,
          before,
          after,
        });
        return after;
      }, SERIALIZABLE),
  );

  app.delete(
    '/borrowers/:id',
    {
      schema: {
        summary: 'Delete a borrower with no sites, lots, devices or loans (409 otherwise)',
        tags: ['borrowers'],
        params: IdParams,
        response: { 204: Type.Null(), ...ERROR_RESPONSES },
      },
    },
    async (request, reply) => {
      await remove('borrower', request.params.id, mustBorrower, request);
      return reply.code(204).send(null);
    },
  );

  // Sites
  app.get(
    '/sites',
    {
      schema: {
        summary: 'List sites',
        tags: ['sites'],
        querystring: Type.Object(
          { borrowerId: Type.Optional(Id('borrower id')), limit: Limit, cursor: Type.Optional(Cursor) },
          { additionalProperties: false },
        ),
        response: { 200: Page(Site), ...ERROR_RESPONSES },
      },
    },
    async (request) => {
      const { borrowerId, limit, cursor } = request.query;
      const afterId = cursor === undefined ? undefined : decodeCursor(cursor, isString);
      const rows = await state.portfolio.querySites({
        limit: limit + 1,
        ...(borrowerId === undefined ? {} : { borrowerId }),
        ...(afterId === undefined ? {} : { afterId }),
      });
      return paged(rows as SiteBody[], limit, (s) => s.id);
    },
  );

  app.post(
    '/sites',
    {
      schema: {
        summary: 'Register a site with its geofence',
        tags: ['sites'],
        body: NewSite,
        response: { 201: Site, ...ERROR_RESPONSES },
      },
    },
    async (request, reply) => {
      const site: SiteRecord = request.body;
      await state.transaction(async () => {
        if (await state.portfolio.getSite(site.id))
          throw new RiskfuseError('CONFLICT', `site ${site.id} exists`);
        if (!(await state.portfolio.getBorrower(site.borrowerId)))
          throw refMissing('borrower', site.borrowerId, 'borrowerId');
        await state.portfolio.upsertSites([site]);
        await ctx.audit(request, { action: 'create', resource: 'site', resourceId: site.id, after: site });
      }, SERIALIZABLE);
      void reply.code(201);
      return site as SiteBody;
    },
  );

  app.get(
    '/sites/:id',
    {
      schema: {
        summary: 'A site',
        tags: ['sites'],
        params: IdParams,
        response: { 200: Site, ...ERROR_RESPONSES },
      },
    },
    async (request) => (await mustSite(request.params.id)) as SiteBody,
  );

  app.patch(
    '/sites/:id',
    {
      schema: {
        summary: 'Change a site (name, kind, position, geofence)',
        tags: ['sites'],
        params: IdParams,
        body: SitePatch,
        response: { 200: Site, ...ERROR_RESPONSES },
      },
    },
    (request) =>
      state.transaction(async () => {
        const before = await mustSite(request.params.id);
        const after: SiteRecord = { ...before, ...request.body };
        await state.portfolio.upsertSites([after]);
        await ctx.audit(request, {
          action: 'update',
          resource: 'site',
          resourceId: before.id,
          before,
          after,
        });
        return after as SiteBody;
      }, SERIALIZABLE),
  );

  app.delete(
    '/sites/:id',
    {
      schema: {
        summary: 'Delete a site with no lots or devices (409 otherwise)',
        tags: ['sites'],
        params: IdParams,
        response: { 204: Type.Null(), ...ERROR_RESPONSES },
      },
    },
    async (request, reply) => {
      await remove('site', request.params.id, mustSite, request);
      return reply.code(204).send(null);
    },
  );

  // Collateral lots
  app.get(
    '/lots',
    {
      schema: {
        summary: 'List collateral lots',
        tags: ['lots'],
        querystring: Type.Object(
          {
            borrowerId: Type.Optional(Id('borrower id')),
            siteId: Type.Optional(Id('site id')),
            limit: Limit,
            cursor: Type.Optional(Cursor),
          },
          { additionalProperties: false },
        ),
        response: { 200: Page(Lot), ...ERROR_RESPONSES },
      },
    },
    async (request) => {
      const { borrowerId, siteId, limit, cursor } = request.query;
      const afterId = cursor === undefined ? undefined : decodeCursor(cursor, isString);
      const rows = await state.portfolio.queryLots({
        limit: limit + 1,
        ...(borrowerId === undefined ? {} : { borrowerId }),
        ...(siteId === undefined ? {} : { siteId }),
        ...(afterId === undefined ? {} : { afterId }),
      });
      return paged(rows, limit, (l) => l.id);
    },
  );

  const checkLotSite = async (lot: CollateralLot): Promise<void> => {
    const site = await state.portfolio.getSite(lot.siteId);
    if (site === undefined) throw refMissing('site', lot.siteId, 'siteId');
    if (site.borrowerId !== lot.borrowerId) {
      throw new RiskfuseError(
        'VALIDATION_FAILED',
        `site ${site.id} belongs to borrower ${site.borrowerId}, not ${lot.borrowerId}`,
        {
          details: { errors: [{ path: 'body/siteId', message: 'belongs to another borrower' }] },
        },
      );
    }
  };

  app.post(
    '/lots',
    {
      schema: {
        summary: 'Register a pledged collateral lot',
        tags: ['lots'],
        body: NewLot,
        response: { 201: Lot, ...ERROR_RESPONSES },
      },
    },
    async (request, reply) => {
      const lot: CollateralLot = request.body;
      await state.transaction(async () => {
        if (await state.portfolio.getLot(lot.id)) throw new RiskfuseError('CONFLICT', `lot ${lot.id} exists`);
        if (!(await state.portfolio.getBorrower(lot.borrowerId)))
          throw refMissing('borrower', lot.borrowerId, 'borrowerId');
        await checkLotSite(lot);
        await state.portfolio.upsertLots([lot]);
        await ctx.audit(request, { action: 'create', resource: 'lot', resourceId: lot.id, after: lot });
      }, SERIALIZABLE);
      void reply.code(201);
      return lot;
    },
  );

  app.get(
    '/lots/:id',
    {
      schema: {
        summary: 'A collateral lot',
        tags: ['lots'],
        params: IdParams,
        response: { 200: Lot, ...ERROR_RESPONSES },
      },
    },
    (request) => mustLot(request.params.id),
  );

  app.patch(
    '/lots/:id',
    {
      schema: {
        summary: 'Change a lot (site, commodity, weight, price, currency)',
        tags: ['lots'],
        params: IdParams,
        body: LotPatch,
        response: { 200: Lot, ...ERROR_RESPONSES },
      },
    },
    (request) =>
      state.transaction(async () => {
        const before = await mustLot(request.params.id);
        const after: CollateralLot = { ...before, ...request.body };
        await checkLotSite(after);
        const devices = (await state.portfolio.dependents('lot', before.id)).devices ?? 0;
        if (after.siteId !== before.siteId && devices > 0) {
          // The stakes on the lot are registered at its site; moving the lot alone would split them.
          throw new RiskfuseError(
            'CONFLICT',
            `lot ${before.id} has ${devices} devices on it; move or revoke them first`,
            {
              details: { dependents: { devices } },
            },
          );
        }
        await state.portfolio.upsertLots([after]);
        await ctx.audit(request, { action: 'update', resource: 'lot', resourceId: before.id, before, after });
        return after;
      }, SERIALIZABLE),
  );

  app.delete(
    '/lots/:id',
    {
      schema: {
        summary: 'Delete a lot no device sits on (409 otherwise)',
        tags: ['lots'],
        params: IdParams,
        response: { 204: Type.Null(), ...ERROR_RESPONSES },
      },
    },
    async (request, reply) => {
      await remove('lot', request.params.id, mustLot, request);
      return reply.code(204).send(null);
    },
  );
}
