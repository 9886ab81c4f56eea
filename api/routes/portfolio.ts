import { Type } from '@sinclair/typebox';
import { RiskfuseError } from '../../core/errors.js';
import type { Borrower as BorrowerRecord } from '../../core/state/index.js';
import type { ApiApp, RouteContext } from '../app.js';
import { decodeCursor, isString, paged } from '../pagination.js';
import { ERROR_RESPONSES } from '../problem.js';
import { Borrower, BorrowerPatch, Cursor, IdParams, Limit, NewBorrower, Page, Sector } from '../schemas.js';
import { portfolioItems } from './portfolio-items.js';

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

/** Borrowers (CRUD, search) and the portfolio summary; sites and lots are in portfolio-sites.ts and portfolio-lots.ts. */
export function portfolioRoutes(app: ApiApp, ctx: RouteContext): void {
  const { state, mustBorrower, SERIALIZABLE, remove } = portfolioItems(ctx);

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
}
