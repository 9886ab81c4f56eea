import { Type } from '@sinclair/typebox';
import { RiskfuseError } from '../../core/errors.js';
import type { CreditExposure } from '../../core/state/index.js';
import { portfolioCredit } from '../../risk/credit/borrower-credit.js';
import type { LotValuation } from '../../risk/credit/collateral.js';
import type { CreditComponent } from '../../risk/credit/credit-app.js';
import { LendingPolicySchema } from '../../risk/policy/policy.js';
import type { ApiApp, RouteContext } from '../app.js';
import { ERROR_RESPONSES } from '../problem.js';
import { EpochMs, Id, IdParams, Limit } from '../schemas.js';

/**
 * Credit figures and the lending policy (README "Credit decisions"): each borrower's EAD, claimed and verified
 * coverage, LGD, EL and policy status as the credit monitor last computed them, the portfolio's totals, the
 * policy in force and its versions (every change audited), and limit reviews. Pinned by
 * api/test/credit-applications.test.ts.
 */
/** One pledged lot as risk/credit/collateral.ts valued it (`LotValuation`). */
const LotValuationSchema = Type.Object({
  lotId: Type.String(),
  commodity: Type.String(),
  currency: Type.String(),
  haircut: Type.Number(),
  claimedValue: Type.Number({ description: 'pledged weight × price × (1 − haircut)' }),
  measuredWeightKg: Type.Optional(Type.Number({ description: "the stake's last weight" })),
  verifiedValue: Type.Number({ description: 'min(measured, pledged) × price × (1 − haircut) × factor' }),
  factor: Type.Number({ description: 'the status factor applied (1: counted in full)' }),
  conditions: Type.Array(
    Type.Union(
      (['unverified', 'outside-geofence', 'tampered', 'offline'] as const).map((c) => Type.Literal(c)),
    ),
    { description: 'why the lot counts reduced; empty when it counts in full' },
  ),
});
const ExposureSchema = Type.Object({
  borrowerId: Type.String(),
  currency: Type.String(),
  outstanding: Type.Number(),
  undrawn: Type.Number(),
  ead: Type.Number({ description: 'outstanding + undrawn × CCF' }),
  claimedValue: Type.Number({ description: 'pledged weight × price × (1 − haircut)' }),
  verifiedValue: Type.Number({ description: 'as the stakes see it now' }),
  claimedCoverage: Type.Optional(Type.Number()),
  verifiedCoverage: Type.Optional(Type.Number()),
  lgd: Type.Number(),
  pd: Type.Optional(Type.Number()),
  el: Type.Optional(Type.Number({ description: 'PD × LGD × EAD' })),
  policyStatus: Type.Union([Type.Literal('ok'), Type.Literal('breached')]),
  breaches: Type.Array(
    Type.Object({ code: Type.String(), message: Type.String(), limit: Type.Number(), actual: Type.Number() }),
  ),
  lots: Type.Array(LotValuationSchema),
  computedAt: EpochMs('when computed'),
});
const PolicyVersionSchema = Type.Object({
  version: Type.Integer({ description: '0: the built-in default' }),
  policy: LendingPolicySchema,
  createdAt: EpochMs('saved'),
  createdBy: Type.Optional(Type.String()),
});
const ReviewSchema = Type.Object({
  id: Type.String(),
  borrowerId: Type.String(),
  reason: Type.String(),
  evidence: Type.Record(Type.String(), Type.Unknown()),
  status: Type.Union([Type.Literal('open'), Type.Literal('closed')]),
  openedAt: EpochMs('opened'),
  closedAt: Type.Optional(EpochMs('closed')),
  closedBy: Type.Optional(Type.String()),
});

export const exposureView = (e: CreditExposure) => ({
  ...e,
  policyStatus: e.breaches.length > 0 ? ('breached' as const) : ('ok' as const),
  breaches: e.breaches.map((b) => ({ ...b })),
  lots: e.lots.map((l) => ({ ...(l as LotValuation), conditions: [...(l as LotValuation).conditions] })),
});

export function creditRoutes(app: ApiApp, ctx: RouteContext, credit: CreditComponent): void {
  app.get(
    '/credit/exposures',
    {
      schema: {
        summary: 'EL, LGD, coverage and policy status per borrower, and the portfolio totals per currency',
        tags: ['credit'],
        querystring: Type.Object(
          { breached: Type.Optional(Type.Boolean({ description: 'only borrowers breaking the policy' })) },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Object({
            items: Type.Array(ExposureSchema),
            totals: Type.Array(
              Type.Object({
                currency: Type.String(),
                ead: Type.Number(),
                el: Type.Number(),
                lgd: Type.Number({ description: 'EAD-weighted' }),
                borrowers: Type.Integer(),
              }),
            ),
          }),
          ...ERROR_RESPONSES,
        },
      },
    },
    async (request) => {
      const all = [...(await ctx.state.credit.getExposures()).values()].sort((a, b) =>
        a.borrowerId < b.borrowerId ? -1 : 1,
      );
      const items = request.query.breached === true ? all.filter((e) => e.breaches.length > 0) : all;
      const totals = portfolioCredit(all.map((e) => ({ ...e, lots: [] })));
      return { items: items.map(exposureView), totals };
    },
  );

  app.get(
    '/borrowers/:id/credit',
    {
      schema: {
        summary:
          "A borrower's EAD, claimed vs verified coverage, LGD, EL, policy status and per-lot valuation",
        tags: ['credit'],
        params: IdParams,
        response: { 200: ExposureSchema, ...ERROR_RESPONSES },
      },
    },
    async (request) => {
      const id = request.params.id;
      const stored = (await ctx.state.credit.getExposures([id])).get(id);
      if (stored !== undefined) return exposureView(stored);
      if ((await ctx.state.portfolio.getBorrower(id)) === undefined)
        throw new RiskfuseError('NOT_FOUND', `no borrower ${id}`);
      const [computed] = await credit.monitor.compute([id]);
      if (computed === undefined) throw new RiskfuseError('NOT_FOUND', `no credit figures for ${id}`);
      const { credit: c, breaches } = computed;
      return exposureView({
        ...c,
        breaches: breaches.map((b) => ({ ...b })),
        lots: c.lots.map((l) => ({ ...l })),
      });
    },
  );

  app.get(
    '/policy',
    {
      schema: {
        summary: 'The lending policy in force',
        tags: ['credit'],
        response: { 200: PolicyVersionSchema, ...ERROR_RESPONSES },
      },
    },
    async () => {
      const p = await credit.policies.current();
      return { ...p, policy: structuredClone(p.policy) };
    },
  );

  app.put(
    '/policy',
    {
      schema: {
        summary: 'Save a new version of the lending policy (audited; the previous versions stay)',
        tags: ['credit'],
        body: LendingPolicySchema,
        response: { 200: PolicyVersionSchema, ...ERROR_RESPONSES },
      },
    },
    async (request) => {
      const before = await credit.policies.current();
      try {
        const saved = await ctx.state.transaction(async () => {
          const v = await credit.policies.save(request.body, request.principal?.keyId);
          await ctx.audit(request, {
            action: 'update',
            resource: 'policy',
            resourceId: String(v.version),
            before: { version: before.version, policy: before.policy },
            after: { version: v.version, policy: v.policy },
          });
          return v;
        });
        return { ...saved, policy: structuredClone(saved.policy) };
      } catch (err) {
        credit.policies.invalidate();
        throw err;
      }
    },
  );

  app.get(
    '/policy/versions',
    {
      schema: {
        summary: 'Saved versions of the lending policy, newest first',
        tags: ['credit'],
        querystring: Type.Object({ limit: Limit }, { additionalProperties: false }),
        response: {
          200: Type.Object({
            items: Type.Array(
              Type.Object({
                version: Type.Integer(),
                policy: Type.Unknown(),
                createdAt: EpochMs('saved'),
                createdBy: Type.Optional(Type.String()),
              }),
            ),
          }),
          ...ERROR_RESPONSES,
        },
      },
    },
    async (request) => ({ items: await ctx.state.lending.listPolicies(request.query.limit) }),
  );

  app.get(
    '/reviews',
    {
      schema: {
        summary: 'Limit reviews (opened when a grade falls or verified coverage drops below policy)',
        tags: ['credit'],
        querystring: Type.Object(
          {
            status: Type.Optional(Type.Union([Type.Literal('open'), Type.Literal('closed')])),
            borrowerId: Type.Optional(Id('borrower id')),
            limit: Limit,
          },
          { additionalProperties: false },
        ),
        response: { 200: Type.Object({ items: Type.Array(ReviewSchema) }), ...ERROR_RESPONSES },
      },
    },
    async (request) => {
      const q = request.query;
      const items = await ctx.state.credit.listReviews({
        limit: q.limit,
        ...(q.status === undefined ? {} : { status: q.status }),
        ...(q.borrowerId === undefined ? {} : { borrowerId: q.borrowerId }),
      });
      return { items: items.map((r) => ({ ...r, evidence: { ...r.evidence } })) };
    },
  );

  app.post(
    '/reviews/:id/close',
    {
      schema: {
        summary: 'Close a limit review (audited)',
        tags: ['credit'],
        params: IdParams,
        body: Type.Object(
          { comment: Type.Optional(Type.String({ maxLength: 2000 })) },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Object({ id: Type.String(), status: Type.Literal('closed') }),
          ...ERROR_RESPONSES,
        },
      },
    },
    async (request) => {
      const id = request.params.id;
      await ctx.state.transaction(async () => {
        if (!(await ctx.state.credit.closeReview(id, request.principal?.keyId ?? 'unknown', ctx.now()))) {
          if ((await ctx.state.credit.getReview(id)) === undefined)
            throw new RiskfuseError('NOT_FOUND', `no limit review ${id}`);
          throw new RiskfuseError('CONFLICT', `review ${id} is already closed`);
        }
        await ctx.audit(request, {
          action: 'close',
          resource: 'limit-review',
          resourceId: id,
          after: {
            status: 'closed',
            ...(request.body.comment === undefined ? {} : { comment: request.body.comment }),
          },
        });
      });
      return { id, status: 'closed' as const };
    },
  );
}
