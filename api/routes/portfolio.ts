import { Type, type Static } from '@sinclair/typebox';
import { RiskfuseError } from '../../core/errors.js';
import type {
  Borrower as BorrowerRecord,
  CollateralLot,
  PortfolioResource,
  Site as SiteRecord,
} from '../../core/storage/state-store.js';
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
  const mustBorrower = (id: string): BorrowerRecord => {
    const b = state.getBorrower(id);
    if (b === undefined) throw notFound('borrower', id);
    return b;
  };
  const mustSite = (id: string): SiteRecord => {
    const s = state.getSite(id);
    if (s === undefined) throw notFound('site', id);
    return s;
  };
  const mustLot = (id: string): CollateralLot => {
    const l = state.getLot(id);
    if (l === undefined) throw notFound('lot', id);
    return l;
  };
  /** A body referring to something that does not exist is a bad request (400), not a 404 of the URL. */
  const refMissing = (what: string, id: string, field: string): RiskfuseError =>
    new RiskfuseError('VALIDATION_FAILED', `no ${what} ${id}`, {
      details: { errors: [{ path: `body/${field}`, message: `no ${what} ${id}` }] },
    });

  const remove = (
    resource: PortfolioResource,
    id: string,
    before: unknown,
    request: Parameters<RouteContext['audit']>[0],
  ) => {
    state.transaction(() => {
      const dependents = state.dependents(resource, id);
      if (Object.keys(dependents).length > 0) {
        throw new RiskfuseError(
          'CONFLICT',
          `${resource} ${id} still has ${Object.entries(dependents)
            .map(([k, v]) => `${v} ${k}`)
            .join(', ')}; delete or move them first`,
          { details: { dependents } },
        );
      }
      state.deletePortfolioItem(resource, id);
      ctx.audit(request, { action: 'delete', resource, resourceId: id, before });
    });
  };

  app.get(
    '/portfolio/summary',
    {
      schema: {
        summary: 'Portfolio summary: counts, exposure, collateral value, grades and open alerts',
        tags: ['portfolio'],
        response: { 200: Summary, ...ERROR_RESPONSES },
      },
    },
    () => {
      const summary = state.portfolioSummary();
      return {
        ...summary,
        exposure: [...summary.exposure],
        collateralValue: [...summary.collateralValue],
        byGrade: ctx.gradeCounts?.() ?? null,
        openAlerts: ctx.countActiveAlerts?.() ?? null,
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
    (request) => {
      const { q, sector, region, limit, cursor } = request.query;
      const sortParam = request.query.sort ?? 'id';
      const desc = sortParam.startsWith('-');
      const sort = (desc ? sortParam.slice(1) : sortParam) as 'id' | 'name' | 'createdAt';
      const after = cursor === undefined ? undefined : decodeCursor(cursor, isBorrowerKey);
      const rows = state.queryBorrowers({
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
    (request, reply) => {
      const borrower: BorrowerRecord = { ...request.body, createdAt: ctx.now() };
      state.transaction(() => {
        if (state.getBorrower(borrower.id))
          throw new RiskfuseError('CONFLICT', `borrower ${borrower.id} exists`);
        state.upsertBorrowers([borrower]);
        ctx.audit(request, {
          action: 'create',
          resource: 'borrower',
          resourceId: borrower.id,
          after: borrower,
        });
      });
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
      state.transaction(() => {
        const before = mustBorrower(request.params.id);
        const after: BorrowerRecord = { ...before, ...request.body };
        state.upsertBorrowers([after]);
        ctx.audit(request, { action: 'update', resource: 'borrower', resourceId: before.id, before, after });
        return after;
      }),
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
    (request, reply) => {
      const before = mustBorrower(request.params.id);
      remove('borrower', before.id, before, request);
      void reply.code(204).send(null);
      return;
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
    (request) => {
      const { borrowerId, limit, cursor } = request.query;
      const afterId = cursor === undefined ? undefined : decodeCursor(cursor, isString);
      const rows = state.querySites({
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
    (request, reply) => {
      const site: SiteRecord = request.body;
      state.transaction(() => {
        if (state.getSite(site.id)) throw new RiskfuseError('CONFLICT', `site ${site.id} exists`);
        if (!state.getBorrower(site.borrowerId)) throw refMissing('borrower', site.borrowerId, 'borrowerId');
        state.upsertSites([site]);
        ctx.audit(request, { action: 'create', resource: 'site', resourceId: site.id, after: site });
      });
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
    (request) => mustSite(request.params.id) as SiteBody,
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
      state.transaction(() => {
        const before = mustSite(request.params.id);
        const after: SiteRecord = { ...before, ...request.body };
        state.upsertSites([after]);
        ctx.audit(request, { action: 'update', resource: 'site', resourceId: before.id, before, after });
        return after as SiteBody;
      }),
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
    (request, reply) => {
      const before = mustSite(request.params.id);
      remove('site', before.id, before, request);
      void reply.code(204).send(null);
      return;
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
    (request) => {
      const { borrowerId, siteId, limit, cursor } = request.query;
      const afterId = cursor === undefined ? undefined : decodeCursor(cursor, isString);
      const rows = state.queryLots({
        limit: limit + 1,
        ...(borrowerId === undefined ? {} : { borrowerId }),
        ...(siteId === undefined ? {} : { siteId }),
        ...(afterId === undefined ? {} : { afterId }),
      });
      return paged(rows, limit, (l) => l.id);
    },
  );

  const checkLotSite = (lot: CollateralLot): void => {
    const site = state.getSite(lot.siteId);
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
    (request, reply) => {
      const lot: CollateralLot = request.body;
      state.transaction(() => {
        if (state.getLot(lot.id)) throw new RiskfuseError('CONFLICT', `lot ${lot.id} exists`);
        if (!state.getBorrower(lot.borrowerId)) throw refMissing('borrower', lot.borrowerId, 'borrowerId');
        checkLotSite(lot);
        state.upsertLots([lot]);
        ctx.audit(request, { action: 'create', resource: 'lot', resourceId: lot.id, after: lot });
      });
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
      state.transaction(() => {
        const before = mustLot(request.params.id);
        const after: CollateralLot = { ...before, ...request.body };
        checkLotSite(after);
        const devices = state.dependents('lot', before.id).devices ?? 0;
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
        state.upsertLots([after]);
        ctx.audit(request, { action: 'update', resource: 'lot', resourceId: before.id, before, after });
        return after;
      }),
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
    (request, reply) => {
      const before = mustLot(request.params.id);
      remove('lot', before.id, before, request);
      void reply.code(204).send(null);
      return;
    },
  );
}
