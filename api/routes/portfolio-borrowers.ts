import { Type, type Static } from '@sinclair/typebox';
import { RiskfuseError } from '../../core/errors.js';
import type { Borrower, CreditExposure, ScoreHead } from '../../core/state/index.js';
import type { ApiApp, RouteContext } from '../app.js';
import { decodeCursor, encodeCursor } from '../pagination.js';
import { ERROR_RESPONSES } from '../problem.js';
import { Cursor, EpochMs, Limit } from '../schemas.js';
import { Grade, type ScoresService } from './scores.js';

const DAY_MS = 86_400_000;
/** The model input shown as coverage (risk/features/spec.ts). */
const COVERAGE = 'collateral_coverage';

const SORTS = ['pd', 'exposure', 'coverage', 'openAlerts', 'name', 'el', 'verifiedCoverage'] as const;
type SortKey = (typeof SORTS)[number];
type Order = 'asc' | 'desc';
/** Riskiest first by default: high PD, large exposure, many alerts, thin coverage. */
const DEFAULT_ORDER: Record<SortKey, Order> = {
  pd: 'desc',
  exposure: 'desc',
  coverage: 'asc',
  openAlerts: 'desc',
  name: 'asc',
  el: 'desc',
  verifiedCoverage: 'asc',
};

const Row = Type.Object({
  borrowerId: Type.String(),
  name: Type.String(),
  sector: Type.String(),
  region: Type.String(),
  score: Type.Optional(
    Type.Object(
      {
        pd: Type.Number({ minimum: 0, maximum: 1 }),
        grade: Grade,
        score: Type.Integer(),
        at: EpochMs('when the score was computed'),
        modelVersion: Type.String(),
      },
      { description: 'the latest official score; absent when the borrower has none yet' },
    ),
  ),
  trend: Type.Array(Type.Object({ at: EpochMs('score time'), pd: Type.Number() }), {
    description:
      'the last score of each UTC day in the `trendDays` days up to the latest score, oldest first',
  }),
  exposure: Type.Array(Type.Object({ currency: Type.String(), outstanding: Type.Number() }), {
    description: 'active loans: what is still due on their schedules (due − paid), per currency',
  }),
  coverage: Type.Union([Type.Number(), Type.Null()], {
    description:
      'collateral coverage the latest score saw: Σ stake weight × unit price ÷ outstanding, capped at 5 (null = no data)',
  }),
  openAlerts: Type.Union([Type.Integer({ minimum: 0 }), Type.Null()], {
    description: 'alerts not yet resolved (open or acknowledged); null when alerts are not wired in',
  }),
  credit: Type.Union(
    [
      Type.Object({
        currency: Type.String(),
        ead: Type.Number(),
        claimedCoverage: Type.Union([Type.Number(), Type.Null()]),
        verifiedCoverage: Type.Union([Type.Number(), Type.Null()]),
        lgd: Type.Number(),
        el: Type.Union([Type.Number(), Type.Null()]),
        policyStatus: Type.Union([Type.Literal('ok'), Type.Literal('breached')]),
        breaches: Type.Array(Type.String(), { description: 'policy reason codes' }),
      }),
      Type.Null(),
    ],
    {
      description:
        'EAD, claimed vs verified coverage, LGD, EL and policy status as the credit monitor last computed them (README "Credit decisions"); null before it has',
    },
  ),
});
type Row = Static<typeof Row>;

const creditOf = (e: CreditExposure | undefined): Row['credit'] =>
  e === undefined
    ? null
    : {
        currency: e.currency,
        ead: e.ead,
        claimedCoverage: e.claimedCoverage ?? null,
        verifiedCoverage: e.verifiedCoverage ?? null,
        lgd: e.lgd,
        el: e.el ?? null,
        policyStatus: e.breaches.length > 0 ? 'breached' : 'ok',
        breaches: e.breaches.map((b) => b.code),
      };

const Query = Type.Object(
  {
    q: Type.Optional(
      Type.String({ minLength: 1, maxLength: 100, description: 'case-insensitive part of the name or id' }),
    ),
    grade: Type.Optional(Grade),
    sort: Type.Union(
      SORTS.map((s) => Type.Literal(s)),
      { default: 'pd', description: 'rows without a value of the key come last in either order' },
    ),
    order: Type.Optional(
      Type.Union([Type.Literal('asc'), Type.Literal('desc')], {
        description:
          'default: desc for pd, exposure, openAlerts and el; asc for coverage, verifiedCoverage and name',
      }),
    ),
    limit: Limit,
    cursor: Type.Optional(Cursor),
    trendDays: Type.Integer({ minimum: 1, maximum: 365, default: 30 }),
  },
  { additionalProperties: false },
);

/** A cursor names the list it belongs to (sort and order), then the last row's key and id. */
type CursorKey = [SortKey, Order, number | string | null, string];
const isCursorKey = (v: unknown): v is CursorKey =>
  Array.isArray(v) &&
  v.length === 4 &&
  SORTS.includes(v[0] as SortKey) &&
  (v[1] === 'asc' || v[1] === 'desc') &&
  (v[2] === null || typeof v[2] === 'number' || typeof v[2] === 'string') &&
  typeof v[3] === 'string';

interface Draft {
  readonly borrower: Borrower;
  readonly score: ScoreHead | undefined;
  readonly coverage: number | null;
  readonly openAlerts: number | null;
}

type Exposures = Map<string, { currency: string; outstanding: number }[]>;

function keyOf(
  d: Draft,
  sort: SortKey,
  exposures: Exposures | undefined,
  credit: Map<string, CreditExposure> | undefined,
): number | string | null {
  switch (sort) {
    case 'pd':
      return d.score?.pd ?? null;
    case 'exposure': {
      // No FX: the book is one currency in practice; several are summed as they are.
      const e = exposures?.get(d.borrower.id) ?? [];
      return e.length === 0 ? null : e.reduce((a, x) => a + x.outstanding, 0);
    }
    case 'coverage':
      return d.coverage;
    case 'openAlerts':
      return d.openAlerts;
    case 'name':
      return d.borrower.name;
    case 'el':
      return credit?.get(d.borrower.id)?.el ?? null;
    case 'verifiedCoverage':
      return credit?.get(d.borrower.id)?.verifiedCoverage ?? null;
  }
}

/** Orders (key, id) pairs: missing keys last whatever the order, ties by borrower id. */
function compareKeys(
  a: number | string | null,
  aId: string,
  b: number | string | null,
  bId: string,
  order: Order,
): number {
  if (a === null || b === null) {
    if (a !== b) return a === null ? 1 : -1;
  } else if (a !== b) {
    const c = typeof a === 'number' && typeof b === 'number' ? a - b : String(a).localeCompare(String(b));
    if (c !== 0) return order === 'asc' ? c : -c;
  }
  return aId < bId ? -1 : aId > bId ? 1 : 0;
}

/**
 * `GET /v1/portfolio/borrowers`: the portfolio table of the dashboard — every borrower with its latest score,
 * PD trend, exposure, collateral coverage and open alerts, searchable, filterable by grade and sortable by any
 * of them (cursor paging). Registered with the score routes (it needs the risk module).
 */
export function portfolioBorrowerRoutes(app: ApiApp, ctx: RouteContext, scores: ScoresService): void {
  const { state } = ctx;
  app.get(
    '/portfolio/borrowers',
    {
      schema: {
        summary: 'Portfolio table: every borrower with PD, trend, exposure, coverage and open alerts',
        tags: ['scores'],
        querystring: Query,
        response: {
          200: Type.Object({
            items: Type.Array(Row),
            total: Type.Integer({ minimum: 0, description: 'rows matching the filters, over all pages' }),
            nextCursor: Type.Optional(Type.String({ description: 'absent on the last page' })),
          }),
          ...ERROR_RESPONSES,
        },
      },
    },
    async (request) => {
      const { q, grade, sort, limit, cursor, trendDays } = request.query;
      const order = request.query.order ?? DEFAULT_ORDER[sort];
      const after = cursor === undefined ? undefined : decodeCursor(cursor, isCursorKey);
      if (after !== undefined && (after[0] !== sort || after[1] !== order)) {
        // A cursor continues the list it came from; under another sort it would skip or repeat rows silently.
        throw new RiskfuseError('VALIDATION_FAILED', 'invalid cursor: it belongs to another sort or order', {
          details: {
            errors: [{ path: 'querystring/cursor', message: 'is a cursor of another sort or order' }],
          },
        });
      }
      const needle = q?.toLowerCase();
      const latest = new Map((await scores.heads([COVERAGE])).map((s) => [s.borrowerId, s]));
      // Every borrower's exposure only to sort by it; otherwise the page's, once it is known.
      const exposures = sort === 'exposure' ? await state.loans.borrowerExposures() : undefined;
      // Likewise the credit figures: every borrower's (one query) to sort by EL or verified coverage.
      const creditAll =
        sort === 'el' || sort === 'verifiedCoverage' ? await state.credit.getExposures() : undefined;
      const alerts = await ctx.activeAlertsByBorrower?.();
      const drafts: Draft[] = [];
      for (const b of await state.portfolio.listBorrowers()) {
        if (
          needle !== undefined &&
          !b.name.toLowerCase().includes(needle) &&
          !b.id.toLowerCase().includes(needle)
        ) {
          continue;
        }
        const score = latest.get(b.id);
        if (grade !== undefined && score?.grade !== grade) continue;
        const coverage = score?.features[COVERAGE];
        drafts.push({
          borrower: b,
          score,
          coverage: typeof coverage === 'number' ? coverage : null,
          openAlerts: alerts === undefined ? null : (alerts.get(b.id) ?? 0),
        });
      }
      const keyed = drafts.map((d) => ({ d, key: keyOf(d, sort, exposures, creditAll) }));
      keyed.sort((a, b) => compareKeys(a.key, a.d.borrower.id, b.key, b.d.borrower.id, order));
      const start =
        after === undefined
          ? 0
          : keyed.findIndex((r) => compareKeys(r.key, r.d.borrower.id, after[2], after[3], order) > 0);
      const rest = start < 0 ? [] : keyed.slice(start);
      const page = rest.slice(0, limit);
      const pageExposures =
        exposures ?? (await state.loans.borrowerExposures(page.map((r) => r.d.borrower.id)));
      const trends = await scores.trends(
        page
          .filter((r) => r.d.score !== undefined)
          .map((r) => ({
            borrowerId: r.d.borrower.id,
            fromMs: (r.d.score?.at ?? 0) - trendDays * DAY_MS + 1,
            toMs: r.d.score?.at ?? 0,
          })),
      );
      const credit = creditAll ?? (await state.credit.getExposures(page.map((r) => r.d.borrower.id)));
      const items: Row[] = page.map(({ d }) => ({
        borrowerId: d.borrower.id,
        name: d.borrower.name,
        sector: d.borrower.sector,
        region: d.borrower.region,
        ...(d.score === undefined
          ? {}
          : {
              score: {
                pd: d.score.pd,
                grade: d.score.grade,
                score: d.score.score,
                at: d.score.at,
                modelVersion: d.score.modelVersion,
              },
            }),
        trend: trends.get(d.borrower.id) ?? [],
        exposure: [...(pageExposures.get(d.borrower.id) ?? [])],
        coverage: d.coverage,
        openAlerts: d.openAlerts,
        credit: creditOf(credit.get(d.borrower.id)),
      }));
      const last = page.at(-1);
      return {
        items,
        total: keyed.length,
        ...(rest.length > limit && last !== undefined
          ? { nextCursor: encodeCursor([sort, order, last.key, last.d.borrower.id] satisfies CursorKey) }
          : {}),
      };
    },
  );
}
