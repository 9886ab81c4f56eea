import { afterAll, describe, expect, it } from 'vitest';
import { isConstraintError } from '../database.js';
import { POSTGRES_MIGRATIONS } from '../migrations/postgres/index.js';
import { SQLITE_MIGRATIONS } from '../migrations/sqlite/index.js';
import type { ScoreRecord } from '../scores/score-repository.js';
import type { State } from '../state.js';
import { closeAll, STATE_BACKENDS, type StateBackend } from './backends.js';

afterAll(closeAll);

const T0 = Date.UTC(2026, 0, 1);
const DAY_MS = 86_400_000;
const HOUR_MS = 3_600_000;

const score = (borrowerId: string, at: number, pd: number, over: Partial<ScoreRecord> = {}): ScoreRecord => ({
  borrowerId,
  at,
  modelVersion: 'v1',
  shadow: false,
  pd,
  score: 600,
  grade: pd > 0.1 ? 'E' : 'B',
  reasons: [{ feature: 'dpd_now', contribution: 0.2, value: 3, text: 'Days past due now' }],
  contributions: { dpd_now: 0.2 },
  trigger: 'periodic',
  features: { collateral_coverage: pd * 10, dpd_now: 3 },
  ...over,
});

/** A shadow score as challengers store it: without inputs. */
const shadowScore = (borrowerId: string, at: number, pd: number): ScoreRecord => {
  const { features: _features, ...rest } = score(borrowerId, at, pd, { modelVersion: 'v2', shadow: true });
  return rest;
};

/** A fresh state with models v1 and v2 (scores reference a model; borrowers are not referenced). */
async function openWithModels(backend: StateBackend): Promise<State> {
  const state = await backend.open();
  for (const version of ['v1', 'v2']) {
    await state.models.addModel({
      version,
      name: 'm',
      kind: 'mlp',
      status: 'challenger',
      createdAt: T0,
      artifactPath: 'x',
      dataHash: 'h',
      backend: 'wasm',
      meta: {},
    });
  }
  return state;
}

describe.each(STATE_BACKENDS)('score repository on %s', (backend) => {
  it('when scores arrive out of order and challengers score in shadow, then the latest official score of each borrower is the newest non-shadow one, with its inputs', async () => {
    const { scores } = await openWithModels(backend);
    await scores.addScores([score('b1', T0 + 2000, 0.3), score('b2', T0, 0.05)]);
    // An older score stored later, and a newer shadow score: neither is the borrower's latest.
    await scores.addScores([score('b1', T0 + 1000, 0.01), shadowScore('b1', T0 + 5000, 0.9)]);
    const latest = await scores.latestScores();
    expect(latest.map((s) => [s.borrowerId, s.pd])).toEqual([
      ['b1', 0.3],
      ['b2', 0.05],
    ]);
    expect(latest[0]).toEqual(score('b1', T0 + 2000, 0.3));
    // The grouped path (one model) and the few-borrowers paths agree with the heads.
    expect(await scores.latestScores({ modelVersion: 'v1' })).toEqual(latest);
    expect(await scores.latestScores({ borrowerIds: ['b1'] })).toEqual([latest[0]]);
    expect(await scores.latestScores({ borrowerIds: ['zz', 'b2', 'b1', 'b2'] })).toEqual(latest);
    expect(await scores.latestScores({ modelVersion: 'v1', borrowerIds: ['b2', 'b1'] })).toEqual(latest);
    expect(await scores.latestScores({ borrowerIds: [] })).toEqual([]);
    expect((await scores.latestScores({ shadow: true })).map((s) => s.pd)).toEqual([0.9]);
    expect(await scores.latestScores({ shadow: true, borrowerIds: ['b1', 'b2'] })).toEqual([
      shadowScore('b1', T0 + 5000, 0.9),
    ]);
    expect(await scores.latestHeads(['collateral_coverage', 'nope'])).toEqual([
      {
        borrowerId: 'b1',
        at: T0 + 2000,
        modelVersion: 'v1',
        pd: 0.3,
        score: 600,
        grade: 'E',
        features: { collateral_coverage: 3, nope: null },
      },
      {
        borrowerId: 'b2',
        at: T0,
        modelVersion: 'v1',
        pd: 0.05,
        score: 600,
        grade: 'B',
        features: { collateral_coverage: 0.5, nope: null },
      },
    ]);
    // The head's key names the latest official score, not the shadow one or an older one stored later.
    expect(await scores.latestKey('b1')).toEqual({
      at: T0 + 2000,
      modelVersion: 'v1',
      pd: 0.3,
      score: 600,
    });
    expect(await scores.latestKey('nobody')).toBeUndefined();
    // A newer official score of another model moves the head.
    await scores.addScores([score('b1', T0 + 9000, 0.2, { modelVersion: 'v2' })]);
    expect(await scores.latestKey('b1')).toMatchObject({ at: T0 + 9000, modelVersion: 'v2', pd: 0.2 });
    expect((await scores.latestHeads()).find((h) => h.borrowerId === 'b1')).toMatchObject({
      modelVersion: 'v2',
      pd: 0.2,
      features: {},
    });
  });

  it('when more borrowers are asked for than are sought one by one, then the whole-book paths give the same answer', async () => {
    const { scores } = await openWithModels(backend);
    await scores.addScores([score('b1', T0, 0.3), score('b2', T0 + 1, 0.05), score('b3', T0 + 2, 0.2)]);
    await scores.addScores([shadowScore('b1', T0 + 5, 0.9), shadowScore('b3', T0 + 6, 0.8)]);
    const many = ['b3', 'b1', ...Array.from({ length: 1_000 }, (_v, i) => `x${String(i)}`)];
    expect((await scores.latestScores({ borrowerIds: many })).map((s) => s.borrowerId)).toEqual(['b1', 'b3']);
    expect((await scores.latestScores({ borrowerIds: many, modelVersion: 'v1' })).map((s) => s.pd)).toEqual([
      0.3, 0.2,
    ]);
    expect((await scores.latestScores({ borrowerIds: many, shadow: true })).map((s) => s.pd)).toEqual([
      0.9, 0.8,
    ]);
  });

  it('when a batch holds one key twice, a backtest, or an unknown model, then the last wins, history does not move heads, and a bad batch stores nothing', async () => {
    const { scores } = await openWithModels(backend);
    await scores.addScores([
      score('b1', T0, 0.3),
      score('b1', T0 + 10, 0.4),
      score('b1', T0, 0.35, { grade: 'D' }),
      score('b1', T0 + 10, 0.45),
    ]);
    expect((await scores.scoreHistory({ borrowerId: 'b1' })).map((s) => [s.at, s.pd, s.grade])).toEqual([
      [T0 + 10, 0.45, 'E'],
      [T0, 0.35, 'D'],
    ]);
    expect((await scores.latestHeads()).map((h) => [h.at, h.pd])).toEqual([[T0 + 10, 0.45]]);

    await scores.addScores([score('b1', T0 + DAY_MS, 0.01, { trigger: 'backtest' })], { history: true });
    expect((await scores.latestScores()).map((s) => s.pd)).toEqual([0.45]);
    expect((await scores.scoreHistory({ borrowerId: 'b1', limit: 1 }))[0]?.trigger).toBe('backtest');

    const err = await scores
      .addScores([score('b2', T0, 0.1), score('b2', T0 + 1, 0.1, { modelVersion: 'ghost' })])
      .catch((e: unknown) => e);
    expect(isConstraintError(err, 'foreign-key')).toBe(true);
    expect(await scores.scoreHistory({ borrowerId: 'b2' })).toEqual([]);
    expect((await scores.latestScores()).map((s) => s.borrowerId)).toEqual(['b1']);
  });

  it('when the history is queried, then it is newest first and every filter and the limit narrow it', async () => {
    const { scores } = await openWithModels(backend);
    await scores.addScores([
      score('b1', T0, 0.1),
      score('b1', T0 + 1, 0.2),
      score('b2', T0 + 2, 0.3),
      score('b1', T0 + 1, 0.25, { modelVersion: 'v2' }),
      shadowScore('b1', T0 + 3, 0.9),
    ]);
    const key = (s: ScoreRecord): string => `${s.borrowerId}@${String(s.at - T0)}/${s.modelVersion}`;
    expect((await scores.scoreHistory({})).map(key)).toEqual([
      'b1@3/v2',
      'b2@2/v1',
      'b1@1/v1',
      'b1@1/v2',
      'b1@0/v1',
    ]);
    expect((await scores.scoreHistory({ borrowerId: 'b1', shadow: false })).map(key)).toEqual([
      'b1@1/v1',
      'b1@1/v2',
      'b1@0/v1',
    ]);
    expect((await scores.scoreHistory({ modelVersion: 'v2' })).map(key)).toEqual(['b1@3/v2', 'b1@1/v2']);
    expect((await scores.scoreHistory({ shadow: true })).map(key)).toEqual(['b1@3/v2']);
    expect((await scores.scoreHistory({ fromMs: T0 + 1, toMs: T0 + 3 })).map(key)).toEqual([
      'b2@2/v1',
      'b1@1/v1',
      'b1@1/v2',
    ]);
    expect((await scores.scoreHistory({ limit: 2 })).map(key)).toEqual(['b1@3/v2', 'b2@2/v1']);
    expect((await scores.scoreHistory({ shadow: true }))[0]).toEqual(shadowScore('b1', T0 + 3, 0.9));
  });

  it('when the observations of a model version are read, then they are its scores in the window (official, shadow and backtest), light, by borrower then time', async () => {
    const { scores } = await openWithModels(backend);
    await scores.addScores([score('b2', T0 + HOUR_MS, 0.2), score('b1', T0 + 2 * HOUR_MS, 0.01)]);
    await scores.addScores([score('b1', T0, 0.02, { trigger: 'backtest' })], { history: true });
    await scores.addScores([shadowScore('b1', T0 + HOUR_MS, 0.4), score('b1', T0 + DAY_MS, 0.03)]);
    expect(await scores.scoreObservations('v1', T0, T0 + DAY_MS)).toEqual([
      { borrowerId: 'b1', at: T0, pd: 0.02, grade: 'B', shadow: false },
      { borrowerId: 'b1', at: T0 + 2 * HOUR_MS, pd: 0.01, grade: 'B', shadow: false },
      { borrowerId: 'b2', at: T0 + HOUR_MS, pd: 0.2, grade: 'E', shadow: false },
    ]);
    expect(await scores.scoreObservations('v2', T0, T0 + DAY_MS)).toEqual([
      { borrowerId: 'b1', at: T0 + HOUR_MS, pd: 0.4, grade: 'E', shadow: true },
    ]);
    expect(await scores.scoreObservations('v1', T0 + DAY_MS + 1, T0 + 2 * DAY_MS)).toEqual([]);
  });

  it('when a borrower is scored many times a day, then its daily trend holds the last score of each day in the window, oldest first', async () => {
    const { scores } = await openWithModels(backend);
    const items: ScoreRecord[] = [];
    for (let d = 0; d < 10; d++) {
      for (let k = 0; k < 24; k++)
        items.push(score('b1', T0 + d * DAY_MS + k * HOUR_MS, d / 100 + k / 10_000));
    }
    items.push(shadowScore('b1', T0 + 3 * DAY_MS + 30 * 60_000, 0.77));
    await scores.addScores(items);
    const to = T0 + 9 * DAY_MS + 12 * HOUR_MS;
    const trends = await scores.dailyPdTrends([
      { borrowerId: 'b1', fromMs: T0 + 5 * DAY_MS + 1, toMs: to },
      { borrowerId: 'b2', fromMs: T0, toMs: to },
    ]);
    expect(trends.has('b2')).toBe(false);
    const points = trends.get('b1') ?? [];
    expect(points.map((p) => Math.round(p.pd * 10_000))).toEqual([523, 623, 723, 823, 912]);
    expect(points.at(-1)?.at).toBe(to);
    expect(points.some((p) => p.pd === 0.77)).toBe(false);
    expect(await scores.dailyPdTrends([])).toEqual(new Map());
    // A borrower given twice keeps its last window that has points.
    const twice = await scores.dailyPdTrends([
      { borrowerId: 'b1', fromMs: T0, toMs: T0 + DAY_MS - 1 },
      { borrowerId: 'b1', fromMs: T0 + 2 * DAY_MS, toMs: T0 + 2 * DAY_MS + HOUR_MS },
      { borrowerId: 'b1', fromMs: T0 + 20 * DAY_MS, toMs: T0 + 21 * DAY_MS },
    ]);
    expect(twice.get('b1')).toEqual([{ at: T0 + 2 * DAY_MS + HOUR_MS, pd: 2 / 100 + 1 / 10_000 }]);
    // The same days as whole scores, newest first, within [from, to) and the limit.
    const daily = await scores.dailyScores('b1', T0 + 5 * DAY_MS + 1, to, 10);
    expect(daily.map((s) => Math.round(s.pd * 10_000))).toEqual([911, 823, 723, 623, 523]);
    expect(daily.every((s) => !s.shadow && s.trigger === 'periodic')).toBe(true);
    expect(daily[0]).toEqual(items.find((s) => s.at === T0 + 9 * DAY_MS + 11 * HOUR_MS));
    expect((await scores.dailyScores('b1', T0, T0 + 10 * DAY_MS, 3)).map((s) => s.at)).toEqual(
      [9, 8, 7].map((d) => T0 + d * DAY_MS + 23 * HOUR_MS),
    );
    expect(await scores.dailyScores('b1', T0, T0 + 10 * DAY_MS, 0)).toEqual([]);
    expect(await scores.dailyScores('b1', to, to, 10)).toEqual([]);
    expect(await scores.dailyScores('b2', T0, to, 10)).toEqual([]);
  });

  it('when a database from before score inputs is migrated, then migration 8 fills the heads from the history', async () => {
    const state = await openWithModels(backend);
    await state.scores.addScores([score('b1', T0, 0.1), score('b1', T0 + 10, 0.2), score('b3', T0 + 5, 0.4)]);
    await state.scores.addScores([shadowScore('b3', T0 + 50, 0.9)]);
    // Back to schema 7 (no inputs, no heads), then migration 8's statements again.
    await state.db.run('DROP TABLE score_heads');
    await state.db.run('ALTER TABLE scores DROP COLUMN features');
    const migrations = backend.name === 'sqlite' ? SQLITE_MIGRATIONS : POSTGRES_MIGRATIONS;
    const sql = migrations.find((m) => m.version === 8)?.sql ?? '';
    for (const statement of sql.split(';').map((s) => s.trim())) {
      if (statement !== '') await state.db.run(statement);
    }
    const latest = await state.scores.latestScores();
    expect(latest.map((s) => [s.borrowerId, s.at, s.pd])).toEqual([
      ['b1', T0 + 10, 0.2],
      ['b3', T0 + 5, 0.4],
    ]);
    expect(latest[0]?.features).toBeUndefined();
  });

  it('when scores older than the thinning age are thinned, then each borrower keeps its latest and the last of every older day, per model', async () => {
    const { scores } = await openWithModels(backend);
    const every15Min = (borrowerId: string, fromMs: number, days: number): ScoreRecord[] =>
      Array.from({ length: days * 96 }, (_, i) =>
        score(borrowerId, fromMs + i * 900_000, 0.01 + (i % 96) / 1_000),
      );
    await scores.addScores([...every15Min('b1', T0, 4), ...every15Min('b2', T0, 1)]);
    await scores.addScores([shadowScore('b1', T0 + HOUR_MS, 0.5), shadowScore('b1', T0 + 2 * HOUR_MS, 0.6)]);
    const dailyBefore = await scores.dailyScores('b1', T0, T0 + 4 * DAY_MS, 10);
    const latestBefore = await scores.latestScores();

    // Thin the first two days: b1 keeps one score per day there, b2 (all on day one) keeps its last one.
    const deleted = await scores.thinScores(T0 + 2 * DAY_MS);
    expect(deleted).toBe(2 * 95 + 95 + 1);
    const b1 = await scores.scoreHistory({ borrowerId: 'b1', shadow: false, limit: 1_000 });
    expect(b1.filter((s) => s.at < T0 + 2 * DAY_MS).map((s) => s.at)).toEqual([
      T0 + 2 * DAY_MS - 900_000,
      T0 + DAY_MS - 900_000,
    ]);
    expect(b1.filter((s) => s.at >= T0 + 2 * DAY_MS)).toHaveLength(2 * 96);
    expect(await scores.dailyScores('b1', T0, T0 + 4 * DAY_MS, 10)).toEqual(dailyBefore);
    expect(await scores.latestScores()).toEqual(latestBefore);
    // The challenger's shadow scores are thinned within their own model: one a day.
    const shadow = await scores.scoreHistory({ borrowerId: 'b1', modelVersion: 'v2', limit: 10 });
    expect(shadow.map((s) => s.at)).toEqual([T0 + 2 * HOUR_MS]);

    // Thinning again deletes nothing more.
    expect(await scores.thinScores(T0 + 2 * DAY_MS)).toBe(0);
  });
});
