import { Type, type Static } from '@sinclair/typebox';
import type { FastifyReply } from 'fastify';
import { RiskfuseError } from '../../core/errors.js';
import type {
  ModelRecord,
  PdPoint,
  ScoreHead,
  ScoreKey,
  ScoreQuery,
  ScoreRecord,
} from '../../core/state/index.js';
import type { RiskComponent } from '../../risk/app.js';
import { FEATURES, GRADE_BANDS } from '../../risk/index.js';
import type { ApiApp, RouteContext } from '../app.js';
import { decodeCursor, encodeCursor } from '../pagination.js';
import { ScoreBodyCache } from '../score-body-cache.js';
import { ERROR_RESPONSES } from '../problem.js';
import { Cursor, EpochMs, IdParams, Limit, Page } from '../schemas.js';

/**
 * Scores and models, from the risk component: a borrower's latest score with reason codes and its online vs
 * offline contributions, its history, the portfolio ranked by PD, on-demand re-scoring, and the model
 * registry (list and show for readers, activate for admins). Registered when `buildApp` gets `deps.scores`.
 */
export interface ScoresService {
  latest(borrowerId: string): Promise<ScoreRecord | undefined>;
  /** Which score is the borrower's latest official one, without reading it whole. */
  latestKey(borrowerId: string): Promise<ScoreKey | undefined>;
  /** The latest official scores of these borrowers (at most a page). */
  latestMany(borrowerIds: readonly string[]): Promise<ScoreRecord[]>;
  /** Every borrower's latest official score without explanations, with the named inputs (cheap). */
  heads(features?: readonly string[]): Promise<ScoreHead[]>;
  history(q: ScoreQuery): Promise<ScoreRecord[]>;
  /** The last official score of each UTC day in [fromMs, toMs), newest first. */
  daily(borrowerId: string, fromMs: number, toMs: number, limit: number): Promise<ScoreRecord[]>;
  /** Daily PD trends (the last official score of each UTC day) from each window's start on. */
  trends(
    windows: readonly { borrowerId: string; fromMs: number; toMs: number }[],
  ): Promise<Map<string, PdPoint[]>>;
  /** Scores these borrowers now with the champion; resolves when stored. */
  rescore(borrowerIds: readonly string[]): Promise<{ modelVersion?: string }>;
  /** A loan or repayment of the borrower changed (import): re-score it shortly. */
  notifyLoanEvent(borrowerId: string): void;
  models(): Promise<ModelRecord[]>;
  model(version: string): Promise<ModelRecord | undefined>;
  /** Makes the version the champion; joins the caller's state transaction (with its audit entry). */
  activate(version: string, atMs: number): Promise<ModelRecord>;
}

/** The scores service over the in-process risk component. */
export function riskScores(risk: RiskComponent): ScoresService {
  return {
    latest: async (id) => (await risk.scores.latestScores({ borrowerIds: [id] }))[0],
    latestKey: (id) => risk.scores.latestKey(id),
    latestMany: (ids) => risk.scores.latestScores({ borrowerIds: ids }),
    heads: (f) => risk.scores.latestHeads(f),
    history: (q) => risk.scores.scoreHistory(q),
    daily: (id, from, to, limit) => risk.scores.dailyScores(id, from, to, limit),
    trends: (w) => risk.scores.dailyPdTrends(w),
    rescore: async (ids) => {
      const run = await risk.scoring.scoreBorrowers(ids, 'on-demand');
      return run.modelVersion === undefined ? {} : { modelVersion: run.modelVersion };
    },
    notifyLoanEvent: (id) => risk.scoring.notifyLoanEvent(id),
    models: () => risk.registry.list(),
    model: (v) => risk.registry.get(v),
    activate: (v, at) => risk.registry.activate(v, at),
  };
}

const DAY_MS = 86_400_000;
const GROUP_OF = new Map(FEATURES.map((f) => [f.name, f.group]));
export const Grade = Type.Union(
  GRADE_BANDS.map((b) => Type.Literal(b.grade)),
  { description: 'grade band, A (safest) to G' },
);

const Reason = Type.Object({
  feature: Type.String(),
  contribution: Type.Number({ description: 'signed contribution to the logit (integrated gradients)' }),
  value: Type.Union([Type.Number(), Type.Null()], { description: 'the feature value (null = no data)' }),
  text: Type.String({ description: 'plain words, for adverse-action notices' }),
});

const Score = Type.Object({
  borrowerId: Type.String(),
  at: EpochMs('when the score was computed'),
  modelVersion: Type.String(),
  pd: Type.Number({
    minimum: 0,
    maximum: 1,
    description: "probability of default within the model's horizon",
  }),
  score: Type.Integer({ description: 'points: 600 at odds 50:1, 20 points double the odds' }),
  grade: Grade,
  trigger: Type.String({ description: 'periodic, readings, loan-event or on-demand' }),
  reasons: Type.Array(Reason, { description: 'the top PD-raising features' }),
});
type Score = Static<typeof Score>;

const ScoreDetail = Type.Object({
  ...Score.properties,
  contributions: Type.Record(Type.String(), Type.Number(), {
    description: 'every feature’s contribution to the logit (missing-value flags folded in)',
  }),
  onlineContribution: Type.Number({ description: 'sum of the online (loan book) contributions' }),
  offlineContribution: Type.Number({ description: 'sum of the offline (device) contributions' }),
  features: Type.Optional(
    Type.Record(Type.String(), Type.Union([Type.Number(), Type.Null()]), {
      description: 'the model’s inputs at scoring time by feature (null = no data); absent on older scores',
    }),
  ),
});

const ModelView = Type.Object({
  version: Type.String(),
  name: Type.String(),
  kind: Type.String(),
  status: Type.Union([Type.Literal('champion'), Type.Literal('challenger'), Type.Literal('retired')]),
  createdAt: EpochMs('when the model was trained'),
  activatedAt: Type.Optional(EpochMs('when it last became champion')),
  dataHash: Type.String({ description: 'hash of the training rows' }),
  backend: Type.String({ description: 'TensorFlow.js backend it was trained on' }),
  meta: Type.Record(Type.String(), Type.Unknown(), { description: 'horizon, features, metrics' }),
});
const VersionParams = Type.Object({ version: Type.String({ pattern: '^v[0-9]{1,9}$' }) });

const view = (s: ScoreRecord): Score => ({
  borrowerId: s.borrowerId,
  at: s.at,
  modelVersion: s.modelVersion,
  pd: s.pd,
  score: s.score,
  grade: s.grade,
  trigger: s.trigger,
  // Readonly in the record and only read by the serialiser: no copy per request.
  reasons: s.reasons as Score['reasons'],
});

const modelView = ({ artifactPath: _path, ...m }: ModelRecord): Static<typeof ModelView> => ({
  ...m,
  meta: { ...m.meta },
});

/**
 * Sends JSON this route's response schema already serialised (reply.serialize): Fastify sends a string with a
 * JSON content type as it is. Untyped here because the type provider types `send` by the schema's object.
 */
const sendJson = (reply: FastifyReply, body: string): FastifyReply =>
  reply.type('application/json; charset=utf-8').send(body);

/** The score detail view: the record as stored (nothing copied), with its online and offline sums. */
function scoreDetail(s: ScoreRecord): Static<typeof ScoreDetail> {
  const contributions = s.contributions ?? {};
  let online = 0;
  let offline = 0;
  for (const f in contributions) {
    const c = contributions[f] ?? 0;
    if (GROUP_OF.get(f) === 'online') online += c;
    else offline += c;
  }
  return {
    ...view(s),
    contributions,
    onlineContribution: online,
    offlineContribution: offline,
    ...(s.features === undefined ? {} : { features: s.features }),
  };
}

const isRankKey = (v: unknown): v is [number, string] =>
  Array.isArray(v) && v.length === 2 && typeof v[0] === 'number' && typeof v[1] === 'string';

export function scoreRoutes(app: ApiApp, ctx: RouteContext, scores: ScoresService): void {
  const { state } = ctx;
  const bodies = new ScoreBodyCache();
  const borrowerOrThrow = async (id: string): Promise<void> => {
    if ((await state.portfolio.getBorrower(id)) === undefined)
      throw new RiskfuseError('NOT_FOUND', `no borrower ${id}`);
  };

  app.get(
    '/borrowers/:id/score',
    {
      schema: {
        summary: "A borrower's latest score, reasons and online vs offline contributions",
        tags: ['scores'],
        params: IdParams,
        response: { 200: ScoreDetail, ...ERROR_RESPONSES },
      },
    },
    async (request, reply) => {
      const id = request.params.id;
      // The latest score's body as served before, when it is still the latest (api/score-body-cache.ts).
      const head = await scores.latestKey(id);
      const kept = head === undefined ? undefined : bodies.get(id, head);
      if (kept !== undefined) return sendJson(reply, kept);
      // A stored score implies the borrower; look the borrower up only to say which 404 it is.
      const s = await scores.latest(id);
      if (s === undefined) {
        await borrowerOrThrow(id);
        throw new RiskfuseError('NOT_FOUND', `borrower ${id} has no score yet`);
      }
      // Serialised by the route's own response schema, as a returned object would be, and kept.
      const body = reply.serialize(scoreDetail(s)) as string;
      bodies.set(id, s, body);
      return sendJson(reply, body);
    },
  );

  app.get(
    '/borrowers/:id/scores',
    {
      schema: {
        summary: "A borrower's score history (newest first)",
        tags: ['scores'],
        params: IdParams,
        querystring: Type.Object(
          {
            from: Type.Optional(EpochMs('from (inclusive)')),
            to: Type.Optional(EpochMs('to (exclusive)')),
            modelVersion: Type.Optional(Type.String({ pattern: '^v[0-9]{1,9}$' })),
            shadow: Type.Optional(Type.Boolean({ description: 'challengers’ shadow scores instead' })),
            per: Type.Union([Type.Literal('score'), Type.Literal('day')], {
              default: 'score',
              description:
                '`day`: the last official score of each UTC day (from defaults to 365 days before to; not with modelVersion or shadow)',
            }),
            limit: Type.Integer({ minimum: 1, maximum: 1000, default: 100 }),
          },
          { additionalProperties: false },
        ),
        response: { 200: Type.Object({ items: Type.Array(Score) }), ...ERROR_RESPONSES },
      },
    },
    async (request) => {
      await borrowerOrThrow(request.params.id);
      const q = request.query;
      if (q.from !== undefined && q.to !== undefined && q.to <= q.from) {
        throw new RiskfuseError('VALIDATION_FAILED', '`to` must be after `from`');
      }
      if (q.per === 'day') {
        if (q.shadow === true || q.modelVersion !== undefined) {
          throw new RiskfuseError(
            'VALIDATION_FAILED',
            '`per=day` reads official scores: drop shadow and modelVersion',
            {
              details: { errors: [{ path: 'querystring/per', message: 'not with shadow or modelVersion' }] },
            },
          );
        }
        const to = q.to ?? ctx.now() + 1;
        const from = q.from ?? to - 365 * DAY_MS;
        return { items: (await scores.daily(request.params.id, from, to, q.limit)).map(view) };
      }
      const items = await scores.history({
        borrowerId: request.params.id,
        limit: q.limit,
        shadow: q.shadow ?? false,
        ...(q.from === undefined ? {} : { fromMs: q.from }),
        ...(q.to === undefined ? {} : { toMs: q.to }),
        ...(q.modelVersion === undefined ? {} : { modelVersion: q.modelVersion }),
      });
      return { items: items.map(view) };
    },
  );

  app.get(
    '/scores',
    {
      schema: {
        summary: 'Portfolio ranking: every borrower’s latest score, riskiest first',
        tags: ['scores'],
        querystring: Type.Object(
          {
            grade: Type.Optional(Grade),
            minPd: Type.Optional(Type.Number({ minimum: 0, maximum: 1 })),
            limit: Limit,
            cursor: Type.Optional(Cursor),
          },
          { additionalProperties: false },
        ),
        response: { 200: Page(Score), ...ERROR_RESPONSES },
      },
    },
    async (request) => {
      const { grade, minPd, limit, cursor } = request.query;
      const after = cursor === undefined ? undefined : decodeCursor(cursor, isRankKey);
      // Ranked on the light heads; only the page's scores are read whole (reasons).
      const ranked = (await scores.heads())
        .filter((s) => (grade === undefined || s.grade === grade) && (minPd === undefined || s.pd >= minPd))
        .sort((a, b) => b.pd - a.pd || a.borrowerId.localeCompare(b.borrowerId))
        .filter(
          (s) =>
            after === undefined ||
            s.pd < after[0] ||
            (s.pd === after[0] && s.borrowerId.localeCompare(after[1]) > 0),
        );
      const page = ranked.slice(0, limit);
      const whole = new Map(
        (await scores.latestMany(page.map((h) => h.borrowerId))).map((s) => [s.borrowerId, s]),
      );
      const items = page.map((h) => whole.get(h.borrowerId)).filter((s) => s !== undefined);
      const last = page.at(-1);
      return {
        items: items.map(view),
        ...(ranked.length > limit && last !== undefined
          ? { nextCursor: encodeCursor([last.pd, last.borrowerId]) }
          : {}),
      };
    },
  );

  app.post(
    '/borrowers/:id/rescore',
    {
      schema: {
        summary: 'Re-score a borrower now with the champion model',
        tags: ['scores'],
        params: IdParams,
        response: { 200: Score, ...ERROR_RESPONSES },
      },
    },
    async (request) => {
      await borrowerOrThrow(request.params.id);
      const before = await scores.latest(request.params.id);
      const run = await scores.rescore([request.params.id]);
      if (run.modelVersion === undefined) {
        throw new RiskfuseError('CONFLICT', 'no champion model to score with (see GET /v1/models)');
      }
      const after = await scores.latest(request.params.id);
      if (after === undefined) {
        throw new RiskfuseError('CONFLICT', `borrower ${request.params.id} has no active loan to score`);
      }
      await state.transaction(() =>
        ctx.audit(request, {
          action: 'rescore',
          resource: 'score',
          resourceId: request.params.id,
          ...(before === undefined ? {} : { before: view(before) }),
          after: view(after),
        }),
      );
      return view(after);
    },
  );

  app.get(
    '/models',
    {
      schema: {
        summary: 'Registered model versions with status and metrics',
        tags: ['models'],
        response: { 200: Type.Object({ items: Type.Array(ModelView) }), ...ERROR_RESPONSES },
      },
    },
    async () => ({ items: (await scores.models()).map(modelView) }),
  );

  app.get(
    '/models/:version',
    {
      schema: {
        summary: 'One model version',
        tags: ['models'],
        params: VersionParams,
        response: { 200: ModelView, ...ERROR_RESPONSES },
      },
    },
    async (request) => {
      const m = await scores.model(request.params.version);
      if (m === undefined) throw new RiskfuseError('NOT_FOUND', `no model version ${request.params.version}`);
      return modelView(m);
    },
  );

  app.post(
    '/models/:version/activate',
    {
      schema: {
        summary: 'Make a model version the champion (the previous one keeps scoring in shadow)',
        tags: ['models'],
        params: VersionParams,
        response: { 200: ModelView, ...ERROR_RESPONSES },
      },
    },
    async (request) => {
      const before = (await scores.models()).find((m) => m.status === 'champion');
      if ((await scores.model(request.params.version)) === undefined) {
        throw new RiskfuseError('NOT_FOUND', `no model version ${request.params.version}`);
      }
      const m = await state.transaction(async () => {
        const activated = await scores.activate(request.params.version, ctx.now());
        await ctx.audit(request, {
          action: 'activate',
          resource: 'model',
          resourceId: activated.version,
          ...(before === undefined ? {} : { before: { champion: before.version } }),
          after: { champion: activated.version },
        });
        return activated;
      });
      return modelView(m);
    },
  );
}
