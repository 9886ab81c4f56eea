import { Type } from '@sinclair/typebox';
import { RiskfuseError } from '../../core/errors.js';
import type { CollateralLot } from '../../core/state/index.js';
import type { ApiApp, RouteContext } from '../app.js';
import { decodeCursor, isString, paged } from '../pagination.js';
import { ERROR_RESPONSES } from '../problem.js';
import { Cursor, Id, IdParams, Limit, Lot, LotPatch, NewLot, Page } from '../schemas.js';
import { portfolioItems } from './portfolio-items.js';

/** Pledged collateral lots: list, register, read, change (not across sites while stakes sit on it), delete. */
export function lotRoutes(app: ApiApp, ctx: RouteContext): void {
  const { state, mustLot, refMissing, SERIALIZABLE, remove } = portfolioItems(ctx);

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
