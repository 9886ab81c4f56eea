import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildReference, driftAgainst } from '../../risk/monitoring/reference.js';
import { backtestFigures } from '../../risk/monitoring/backtest.js';
import { startTestApi, type TestApi } from './support.js';

const DAY = 86_400_000;
const D0 = Date.UTC(2026, 2, 1);
const uniform = Array.from({ length: 200 }, (_, i) => (i + 0.5) / 200);

let t: TestApi;

/** What the monitoring job stores for a day (risk/monitoring/monitor.ts), from real PSI and backtest figures. */
async function storeDay(version: string, day: number, shift: number): Promise<void> {
  const ref = buildReference({ inputs: { dpd_now: uniform }, scores: uniform }, 'training', D0 - DAY);
  const moved = uniform.map((x) => Math.min(0.999, x + shift));
  const r = driftAgainst(ref, { inputs: { dpd_now: moved }, scores: uniform });
  await t.state.monitoring.putDrift({
    modelVersion: version,
    day,
    computedAt: day + 3_600_000,
    population: r.population,
    scorePsi: r.score.psi,
    ...(r.worstInput === undefined ? {} : { worstInput: r.worstInput.name, worstPsi: r.worstInput.psi }),
    band: r.band,
    referenceSource: 'training',
    detail: JSON.parse(JSON.stringify({ score: r.score, inputs: r.inputs, shifted: r.shifted })) as Record<
      string,
      unknown
    >,
  });
  const f = backtestFigures([
    { borrowerId: 'b1', at: day - 200 * DAY, pd: 0.2, grade: 'G', label: 1 },
    { borrowerId: 'b2', at: day - 200 * DAY, pd: 0.01, grade: 'C', label: 0 },
    { borrowerId: 'b3', at: day - 200 * DAY, pd: 0.03, grade: 'D', label: 0 },
  ]);
  await t.state.monitoring.putBacktest({
    modelVersion: version,
    day,
    computedAt: day + 3_600_000,
    labelled: f.labelled,
    defaults: f.defaults,
    auc: f.auc,
    ks: f.ks,
    detail: { ...f, horizonDays: 180, status: 'champion' },
  });
}

beforeAll(async () => {
  t = await startTestApi({ withRisk: true });
  // v1 is the shipped default (champion); v2 a challenger never monitored yet.
  await t.state.models.addModel({
    version: 'v2',
    name: 'fused-logistic',
    kind: 'logistic',
    status: 'challenger',
    createdAt: D0,
    artifactPath: 'x',
    dataHash: 'h',
    backend: 'wasm',
    meta: {},
  });
  await t.state.monitoring.putReference({ version: 'v1', source: 'first-scored', at: D0, reference: {} });
  await storeDay('v1', D0, 0);
  await storeDay('v1', D0 + DAY, 0.3);
}, 120_000);

afterAll(() => t?.close());

describe('model health routes', () => {
  it('when an auditor reads model health, then the champion comes first with its reference, latest drift and backtest, and an unmonitored challenger has nulls', async () => {
    const res = await t.app.inject({ url: '/v1/models/health', headers: t.auth('auditor') });
    expect(res.statusCode).toBe(200);
    const items = res.json<{ items: Record<string, unknown>[] }>().items;
    expect(items.map((m) => [m.version, m.status])).toEqual([
      ['v1', 'champion'],
      ['v2', 'challenger'],
    ]);
    expect(items[0]).toMatchObject({
      reference: { source: 'first-scored', at: D0 },
      drift: { day: D0 + DAY, band: 'major', worstInput: 'dpd_now', shifted: ['dpd_now'] },
      backtest: { day: D0 + DAY, labelled: 3, defaults: 1, auc: 1, ks: 1, horizonDays: 180 },
    });
    expect(items[1]).toMatchObject({ reference: null, drift: null, backtest: null });
  });

  it('when a version’s drift is read, then days come newest first with per-input PSI and bins (open edges as null), and from/to/limit narrow them', async () => {
    const res = await t.app.inject({ url: '/v1/models/v1/drift', headers: t.auth('officer') });
    expect(res.statusCode).toBe(200);
    const body = res.json<{
      status: string;
      items: {
        day: number;
        band: string;
        inputs: Record<string, { psi: number; bins: { from: number | null; to: number | null }[] }>;
      }[];
    }>();
    expect(body.status).toBe('champion');
    expect(body.items.map((d) => [d.day, d.band])).toEqual([
      [D0 + DAY, 'major'],
      [D0, 'stable'],
    ]);
    const bins = body.items[0]?.inputs.dpd_now?.bins ?? [];
    expect(bins).toHaveLength(10);
    expect(bins[0]?.from).toBeNull();
    expect(bins.at(-1)?.to).toBeNull();
    expect(body.items[0]?.inputs.dpd_now?.psi).toBeGreaterThan(0.25);
    const narrowed = await t.app.inject({
      url: `/v1/models/v1/drift?from=${D0}&to=${D0 + DAY}&limit=5`,
      headers: t.auth('officer'),
    });
    expect(narrowed.json<{ items: { day: number }[] }>().items.map((d) => d.day)).toEqual([D0]);
  });

  it('when a version’s backtests are read, then each day has AUC, KS and predicted vs observed per grade', async () => {
    const res = await t.app.inject({ url: '/v1/models/v1/backtest?limit=1', headers: t.auth('auditor') });
    expect(res.statusCode).toBe(200);
    const [day] = res.json<{
      items: { grades: { grade: string; count: number; observedRate: number }[] }[];
    }>().items;
    expect(day?.grades.map((g) => [g.grade, g.count, g.observedRate])).toEqual([
      ['C', 1, 0],
      ['D', 1, 0],
      ['G', 1, 1],
    ]);
  });

  it('when the health routes are called without a key or for an unknown version, then 401 and 404', async () => {
    expect((await t.app.inject({ url: '/v1/models/health' })).statusCode).toBe(401);
    const unknown = await t.app.inject({ url: '/v1/models/v99/drift', headers: t.auth('auditor') });
    expect(unknown.statusCode).toBe(404);
  });
});
