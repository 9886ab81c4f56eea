import { Type, type Static } from '@sinclair/typebox';
import { RiskfuseError } from '../../core/errors.js';
import type { Site as SiteRecord } from '../../core/state/index.js';
import type { ApiApp, RouteContext } from '../app.js';
import { decodeCursor, isString, paged } from '../pagination.js';
import { ERROR_RESPONSES } from '../problem.js';
import { Cursor, Id, IdParams, Limit, NewSite, Page, Site, SitePatch } from '../schemas.js';
import { portfolioItems } from './portfolio-items.js';

/** The stored site with its geofence as the schema's (mutable) tuples. */
type SiteBody = Static<typeof Site>;

/** Sites with their geofences: list, register, read, change, delete (refused while lots or devices are on it). */
export function siteRoutes(app: ApiApp, ctx: RouteContext): void {
  const { state, mustSite, refMissing, SERIALIZABLE, remove } = portfolioItems(ctx);

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
}
