import { RiskfuseError } from '../../core/errors.js';
import type {
  Borrower as BorrowerRecord,
  CollateralLot,
  PortfolioResource,
  Site as SiteRecord,
} from '../../core/state/index.js';
import type { RouteContext } from '../app.js';

/**
 * What the borrower, site and lot routes share (portfolio.ts, portfolio-sites.ts, portfolio-lots.ts): lookups
 * that answer 404, a body's reference to something missing (400), serializable writes, and a delete refused
 * while anything depends on the item.
 */
export function portfolioItems(ctx: RouteContext) {
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

  return { state, mustBorrower, mustSite, mustLot, refMissing, SERIALIZABLE, remove };
}
