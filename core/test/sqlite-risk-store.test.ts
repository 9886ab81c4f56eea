import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ScoreRecord } from '../storage/risk-store.js';
import { SqliteRiskStore } from '../storage/sqlite-risk-store.js';
import { openSqliteStateStore, type SqliteStateStore } from '../storage/sqlite-state-store.js';

const T0 = Date.UTC(2026, 0, 1);
const DAY_MS = 86_400_000;

let dir: string;
let state: SqliteStateStore;
let risk: SqliteRiskStore;

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

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'rf-risk-store-'));
  state = openSqliteStateStore(join(dir, 'state.db'));
  state.upsertBorrowers(
    ['b1', 'b2', 'b3'].map((id) => ({ id, name: id, sector: 'agriculture', region: 'r', createdAt: T0 })),
  );
  risk = new SqliteRiskStore(state);
  for (const version of ['v1', 'v2']) {
    risk.addModel({
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
});

afterEach(() => {
  state.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('SQLite risk store: latest scores, heads and trends', () => {
  it('when scores arrive out of order and challengers score in shadow, then the latest official score of each borrower is the newest non-shadow one, with its inputs', () => {
    risk.addScores([score('b1', T0 + 2000, 0.3), score('b2', T0, 0.05)]);
    // An older score stored later, and a newer shadow score: neither is the borrower's latest.
    risk.addScores([
      score('b1', T0 + 1000, 0.01),
      (({ features: _f, ...shadow }) => shadow)(
        score('b1', T0 + 5000, 0.9, { modelVersion: 'v2', shadow: true }),
      ),
    ]);
    const latest = risk.latestScores();
    expect(latest.map((s) => [s.borrowerId, s.pd])).toEqual([
      ['b1', 0.3],
      ['b2', 0.05],
    ]);
    expect(latest[0]).toEqual(score('b1', T0 + 2000, 0.3));
    // The grouped path (one model) and the few-borrowers path agree with the heads.
    expect(risk.latestScores({ modelVersion: 'v1' })).toEqual(latest);
    expect(risk.latestScores({ borrowerIds: ['b1'] })).toEqual([latest[0]]);
    expect(risk.latestScores({ shadow: true }).map((s) => s.pd)).toEqual([0.9]);
    expect(risk.latestHeads(['collateral_coverage', 'nope'])).toEqual([
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
    // A newer official score of another model moves the head.
    risk.addScores([score('b1', T0 + 9000, 0.2, { modelVersion: 'v2' })]);
    expect(risk.latestHeads().find((h) => h.borrowerId === 'b1')).toMatchObject({
      modelVersion: 'v2',
      pd: 0.2,
      features: {},
    });
  });

  it('when a database from before score inputs is opened, then migration 8 fills the heads from the history', () => {
    risk.addScores([score('b1', T0, 0.1), score('b1', T0 + 10, 0.2), score('b3', T0 + 5, 0.4)]);
    state.close();
    // Take the file back to schema 7: no features column, no heads.
    const db = new Database(join(dir, 'state.db'));
    db.exec('DROP TABLE score_heads; ALTER TABLE scores DROP COLUMN features; PRAGMA user_version = 7;');
    db.close();
    state = openSqliteStateStore(join(dir, 'state.db'));
    risk = new SqliteRiskStore(state);
    expect(state.schemaVersion()).toBe(8);
    const latest = risk.latestScores();
    expect(latest.map((s) => [s.borrowerId, s.at, s.pd])).toEqual([
      ['b1', T0 + 10, 0.2],
      ['b3', T0 + 5, 0.4],
    ]);
    expect(latest[0]?.features).toBeUndefined();
  });

  it('when a borrower is scored many times a day, then its daily trend holds the last score of each day in the window, oldest first', () => {
    const items: ScoreRecord[] = [];
    for (let d = 0; d < 10; d++) {
      for (let k = 0; k < 24; k++)
        items.push(score('b1', T0 + d * DAY_MS + k * 3_600_000, d / 100 + k / 10_000));
    }
    items.push(score('b1', T0 + 3 * DAY_MS + 30 * 60_000, 0.77, { modelVersion: 'v2', shadow: true }));
    risk.addScores(items);
    const to = T0 + 9 * DAY_MS + 12 * 3_600_000;
    const trends = risk.dailyPdTrends([
      { borrowerId: 'b1', fromMs: T0 + 5 * DAY_MS + 1, toMs: to },
      { borrowerId: 'b2', fromMs: T0, toMs: to },
    ]);
    expect(trends.has('b2')).toBe(false);
    const points = trends.get('b1') ?? [];
    expect(points.map((p) => Math.round(p.pd * 10_000))).toEqual([523, 623, 723, 823, 912]);
    expect(points.at(-1)?.at).toBe(to);
    expect(points.some((p) => p.pd === 0.77)).toBe(false);
    // The same days as whole scores, newest first, within [from, to) and the limit.
    const daily = risk.dailyScores('b1', T0 + 5 * DAY_MS + 1, to, 10);
    expect(daily.map((s) => Math.round(s.pd * 10_000))).toEqual([911, 823, 723, 623, 523]);
    expect(daily.every((s) => !s.shadow && s.trigger === 'periodic')).toBe(true);
    expect(risk.dailyScores('b1', T0, T0 + 10 * DAY_MS, 3).map((s) => s.at)).toEqual(
      [9, 8, 7].map((d) => T0 + d * DAY_MS + 23 * 3_600_000),
    );
  });
});
