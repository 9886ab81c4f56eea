import { Type, type Static } from '@sinclair/typebox';
import { RiskfuseError } from '../../core/errors.js';
import type { BacktestRecord, DriftRecord, ModelRecord } from '../../core/state/index.js';
import type { ApiApp, RouteContext } from '../app.js';
import { ERROR_RESPONSES } from '../problem.js';
import { EpochMs } from '../schemas.js';
import type { ScoresService } from './scores.js';

/**
 * Model health, from the daily model monitoring (risk/monitoring/monitor.ts): per model version — the champion
 * beside its challengers — its training reference, its latest drift (PSI of the score and of each input
 * against that reference, banded stable < 0.1 ≤ moderate ≤ 0.25 < major) and its latest backtest on outcomes
 * as they arrived (AUC, KS, predicted vs observed default rate per grade), with each one's daily history.
 * Read-only; registered with the score routes. Pinned by api/test/model-health.test.ts.
 */
const Band = Type.Union([Type.Literal('stable'), Type.Literal('moderate'), Type.Literal('major')], {
  description: 'PSI band: stable < 0.1 ≤ moderate ≤ 0.25 < major',
});
const Status = Type.Union([Type.Literal('champion'), Type.Literal('challenger'), Type.Literal('retired')]);
const ReferenceSource = Type.Union([Type.Literal('training'), Type.Literal('first-scored')], {
  description: 'training: stored with the model; first-scored: built from its first scored population',
});
const Nullable = (s: ReturnType<typeof Type.Number>) => Type.Union([s, Type.Null()]);

const PsiBin = Type.Object({
  from: Type.Union([Type.Number(), Type.Null()], { description: 'lower edge (null = −∞)' }),
  to: Type.Union([Type.Number(), Type.Null()], { description: 'upper edge, exclusive (null = +∞)' }),
  referenceShare: Type.Number(),
  currentShare: Type.Number(),
  contribution: Type.Number({ description: 'this bin’s term of the PSI' }),
});
const InputDrift = Type.Object({
  psi: Type.Number(),
  band: Band,
  missingReference: Type.Number({ description: 'share with no value in the reference' }),
  missingCurrent: Type.Number({ description: 'share with no value now' }),
  bins: Type.Array(PsiBin),
});
const DriftDay = Type.Object({
  day: EpochMs('the UTC day'),
  computedAt: EpochMs('when it was computed'),
  population: Type.Integer({ description: 'borrowers the version scored in the day before' }),
  scorePsi: Type.Number(),
  worstInput: Type.Optional(Type.String()),
  worstPsi: Type.Optional(Type.Number()),
  band: Band,
  referenceSource: ReferenceSource,
  shifted: Type.Array(Type.String(), { description: 'inputs (and `score`) not stable, most shifted first' }),
});
const DriftDetail = Type.Object({
  ...DriftDay.properties,
  score: Type.Object({ psi: Type.Number(), band: Band, bins: Type.Array(PsiBin) }),
  inputs: Type.Record(Type.String(), InputDrift),
});
const GradeBacktest = Type.Object({
  grade: Type.String(),
  count: Type.Integer(),
  defaults: Type.Integer(),
  meanPd: Type.Number({ description: 'mean predicted PD' }),
  observedRate: Type.Number({ description: 'observed default rate' }),
});
const BacktestDay = Type.Object({
  day: EpochMs('the UTC day'),
  computedAt: EpochMs('when it was computed'),
  observations: Type.Integer({ description: 'one per borrower and day scored in the window' }),
  labelled: Type.Integer({ description: 'observations whose outcome is known' }),
  pending: Type.Integer({ description: 'horizon still open, no default yet' }),
  defaults: Type.Integer(),
  auc: Nullable(Type.Number({ description: 'null until both outcomes are present' })),
  ks: Nullable(Type.Number()),
  brier: Nullable(Type.Number()),
  meanPd: Nullable(Type.Number()),
  observedRate: Nullable(Type.Number()),
  horizonDays: Type.Integer(),
  grades: Type.Array(GradeBacktest),
});
const ModelHealth = Type.Object({
  version: Type.String(),
  name: Type.String(),
  status: Status,
  createdAt: EpochMs('when the model was trained'),
  reference: Type.Union([
    Type.Object({ source: ReferenceSource, at: EpochMs('when the reference population was observed') }),
    Type.Null(),
  ]),
  drift: Type.Union([DriftDay, Type.Null()], { description: 'the latest day; null before the first' }),
  backtest: Type.Union([BacktestDay, Type.Null()]),
});
const VersionParams = Type.Object({ version: Type.String({ pattern: '^v[0-9]{1,9}$' }) });
const Days = Type.Integer({
  minimum: 1,
  maximum: 366,
  default: 30,
  description: 'how many days, newest first',
});

const bandOf = (v: unknown): Static<typeof Band> => (v === 'moderate' || v === 'major' ? v : 'stable');
const n = (v: unknown): number => (typeof v === 'number' ? v : 0);
const nOrNull = (v: unknown): number | null => (typeof v === 'number' ? v : null);
const bins = (v: unknown): Static<typeof PsiBin>[] =>
  (Array.isArray(v) ? (v as Record<string, unknown>[]) : []).map((b) => ({
    from: nOrNull(b.from),
    to: nOrNull(b.to),
    referenceShare: n(b.referenceShare),
    currentShare: n(b.currentShare),
    contribution: n(b.contribution),
  }));

function driftDay(d: DriftRecord): Static<typeof DriftDay> {
  const shifted = d.detail.shifted;
  return {
    day: d.day,
    computedAt: d.computedAt,
    population: d.population,
    scorePsi: d.scorePsi,
    ...(d.worstInput === undefined ? {} : { worstInput: d.worstInput }),
    ...(d.worstPsi === undefined ? {} : { worstPsi: d.worstPsi }),
    band: d.band,
    referenceSource: d.referenceSource,
    shifted: Array.isArray(shifted) ? shifted.filter((s): s is string => typeof s === 'string') : [],
  };
}

function driftDetail(d: DriftRecord): Static<typeof DriftDetail> {
  const score = (d.detail.score ?? {}) as Record<string, unknown>;
  const inputs: Record<string, Static<typeof InputDrift>> = {};
  for (const [name, v] of Object.entries((d.detail.inputs ?? {}) as Record<string, Record<string, unknown>>))
    inputs[name] = {
      psi: n(v.psi),
      band: bandOf(v.band),
      missingReference: n(v.missingReference),
      missingCurrent: n(v.missingCurrent),
      bins: bins(v.bins),
    };
  return {
    ...driftDay(d),
    score: { psi: n(score.psi), band: bandOf(score.band), bins: bins(score.bins) },
    inputs,
  };
}

function backtestDay(b: BacktestRecord): Static<typeof BacktestDay> {
  const x = b.detail;
  const grades = Array.isArray(x.grades) ? (x.grades as Record<string, unknown>[]) : [];
  return {
    day: b.day,
    computedAt: b.computedAt,
    observations: n(x.observations),
    labelled: b.labelled,
    pending: n(x.pending),
    defaults: b.defaults,
    auc: b.auc,
    ks: b.ks,
    brier: nOrNull(x.brier),
    meanPd: nOrNull(x.meanPd),
    observedRate: nOrNull(x.observedRate),
    horizonDays: n(x.horizonDays),
    grades: grades.map((g) => ({
      grade: String(g.grade),
      count: n(g.count),
      defaults: n(g.defaults),
      meanPd: n(g.meanPd),
      observedRate: n(g.observedRate),
    })),
  };
}

const STATUS_ORDER = { champion: 0, challenger: 1, retired: 2 } as const;

export function modelHealthRoutes(app: ApiApp, ctx: RouteContext, scores: ScoresService): void {
  const { state } = ctx;
  const modelOrThrow = async (version: string): Promise<ModelRecord> => {
    const m = await scores.model(version);
    if (m === undefined) throw new RiskfuseError('NOT_FOUND', `no model version ${version}`);
    return m;
  };

  app.get(
    '/models/health',
    {
      schema: {
        summary:
          'Every model version’s health: training reference, latest drift and backtest (champion first)',
        tags: ['models'],
        response: { 200: Type.Object({ items: Type.Array(ModelHealth) }), ...ERROR_RESPONSES },
      },
    },
    async () => {
      const [models, drift, backtests] = await Promise.all([
        scores.models(),
        state.monitoring.latestDrift(),
        state.monitoring.latestBacktests(),
      ]);
      const driftOf = new Map(drift.map((d) => [d.modelVersion, d]));
      const backtestOf = new Map(backtests.map((b) => [b.modelVersion, b]));
      const items = await Promise.all(
        [...models]
          .sort((a, b) => STATUS_ORDER[a.status] - STATUS_ORDER[b.status] || b.createdAt - a.createdAt)
          .map(async (m) => {
            const ref = await state.monitoring.getReference(m.version);
            const d = driftOf.get(m.version);
            const b = backtestOf.get(m.version);
            return {
              version: m.version,
              name: m.name,
              status: m.status,
              createdAt: m.createdAt,
              reference: ref === undefined ? null : { source: ref.source, at: ref.at },
              drift: d === undefined ? null : driftDay(d),
              backtest: b === undefined ? null : backtestDay(b),
            };
          }),
      );
      return { items };
    },
  );

  app.get(
    '/models/:version/drift',
    {
      schema: {
        summary: 'A model version’s daily drift: PSI of the score and of each input, with bins, newest first',
        tags: ['models'],
        params: VersionParams,
        querystring: Type.Object(
          {
            from: Type.Optional(EpochMs('first day (inclusive)')),
            to: Type.Optional(EpochMs('last day (exclusive)')),
            limit: Days,
          },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Object({ version: Type.String(), status: Status, items: Type.Array(DriftDetail) }),
          ...ERROR_RESPONSES,
        },
      },
    },
    async (request) => {
      const { from, to, limit } = request.query;
      if (from !== undefined && to !== undefined && from >= to)
        throw new RiskfuseError('VALIDATION_FAILED', '`from` must be before `to`');
      const m = await modelOrThrow(request.params.version);
      const items = await state.monitoring.driftHistory(m.version, {
        limit,
        ...(from === undefined ? {} : { fromMs: from }),
        ...(to === undefined ? {} : { toMs: to }),
      });
      return { version: m.version, status: m.status, items: items.map(driftDetail) };
    },
  );

  app.get(
    '/models/:version/backtest',
    {
      schema: {
        summary: 'A model version’s backtests on outcomes as they arrived, newest first',
        tags: ['models'],
        params: VersionParams,
        querystring: Type.Object({ limit: Days }, { additionalProperties: false }),
        response: {
          200: Type.Object({ version: Type.String(), status: Status, items: Type.Array(BacktestDay) }),
          ...ERROR_RESPONSES,
        },
      },
    },
    async (request) => {
      const m = await modelOrThrow(request.params.version);
      const items = await state.monitoring.backtestHistory(m.version, request.query.limit);
      return { version: m.version, status: m.status, items: items.map(backtestDay) };
    },
  );
}
