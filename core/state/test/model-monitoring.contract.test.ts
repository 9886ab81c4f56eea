import { afterAll, describe, expect, it } from 'vitest';
import { RiskfuseError } from '../../errors.js';
import type { ModelRecord } from '../models/model-repository.js';
import type { BacktestRecord, DriftRecord } from '../monitoring/model-monitoring-repository.js';
import type { State } from '../state.js';
import { closeAll, STATE_BACKENDS } from './backends.js';

afterAll(closeAll);

const DAY = 86_400_000;
const T0 = Date.UTC(2026, 0, 1);

const model = (version: string): ModelRecord => ({
  version,
  name: 'fused-mlp',
  kind: 'mlp',
  status: 'challenger',
  createdAt: T0,
  artifactPath: `models/${version}.json`,
  dataHash: 'h',
  backend: 'wasm',
  meta: {},
});

const drift = (v: string, day: number, over: Partial<DriftRecord> = {}): DriftRecord => ({
  modelVersion: v,
  day,
  computedAt: day + 3_600_000,
  population: 120,
  scorePsi: 0.04,
  worstInput: 'ndvi_anomaly',
  worstPsi: 0.31,
  band: 'major',
  referenceSource: 'training',
  detail: { inputs: { ndvi_anomaly: { psi: 0.31 } }, shifted: ['ndvi_anomaly'] },
  ...over,
});

const backtest = (v: string, day: number, over: Partial<BacktestRecord> = {}): BacktestRecord => ({
  modelVersion: v,
  day,
  computedAt: day + 1,
  labelled: 40,
  defaults: 3,
  auc: 0.81,
  ks: 0.5,
  detail: { grades: [{ grade: 'A', count: 30, defaults: 0 }] },
  ...over,
});

async function withModels(state: State, ...versions: string[]): Promise<void> {
  for (const v of versions) await state.models.addModel(model(v));
}

describe.each(STATE_BACKENDS)('model monitoring repository on %s', (backend) => {
  it('when a reference is stored twice, then a training one stays and a first-scored one is replaced; an unknown version is NOT_FOUND', async () => {
    const state = await backend.open();
    await withModels(state, 'v1');
    const first = {
      version: 'v1',
      source: 'training' as const,
      at: T0,
      reference: { score: { cuts: [0.1] } },
    };
    expect(await state.monitoring.putReference(first)).toBe(true);
    expect(
      await state.monitoring.putReference({ ...first, source: 'first-scored', reference: { other: 1 } }),
    ).toBe(false);
    expect(await state.monitoring.getReference('v1')).toEqual(first);
    expect(await state.monitoring.getReference('v2')).toBeUndefined();
    // A first-scored reference is provisional: a later one replaces it.
    await withModels(state, 'v3');
    const provisional = { ...first, version: 'v3', source: 'first-scored' as const };
    expect(await state.monitoring.putReference(provisional)).toBe(true);
    const settled = { ...provisional, at: T0 + 1000, reference: { score: { cuts: [0.2] } } };
    expect(await state.monitoring.putReference(settled)).toBe(true);
    expect(await state.monitoring.getReference('v3')).toEqual(settled);
    const err = await state.monitoring.putReference({ ...first, version: 'nope' }).catch((e: unknown) => e);
    expect(err instanceof RiskfuseError && err.code).toBe('NOT_FOUND');
  });

  it('when drift is stored per day, then a rerun replaces its day, history pages newest first and latest is one per version', async () => {
    const state = await backend.open();
    await withModels(state, 'v1', 'v2');
    await state.monitoring.putDrift(drift('v1', T0));
    await state.monitoring.putDrift(drift('v1', T0 + DAY, { band: 'moderate', worstPsi: 0.2 }));
    await state.monitoring.putDrift(drift('v1', T0 + DAY, { band: 'stable', worstPsi: 0.01 }));
    const { worstInput: _w, worstPsi: _p, ...noWorst } = drift('v2', T0, { band: 'stable' });
    await state.monitoring.putDrift(noWorst);
    const history = await state.monitoring.driftHistory('v1', { limit: 10 });
    expect(history.map((d) => [d.day, d.band, d.worstPsi])).toEqual([
      [T0 + DAY, 'stable', 0.01],
      [T0, 'major', 0.31],
    ]);
    expect(history[1]).toEqual(drift('v1', T0));
    expect(await state.monitoring.driftHistory('v1', { limit: 1, toMs: T0 + DAY })).toEqual([
      drift('v1', T0),
    ]);
    expect(await state.monitoring.driftHistory('v1', { limit: 10, fromMs: T0 + 1 })).toHaveLength(1);
    const latest = await state.monitoring.latestDrift();
    expect(latest.map((d) => [d.modelVersion, d.day])).toEqual([
      ['v1', T0 + DAY],
      ['v2', T0],
    ]);
    expect(latest[1]).toEqual(noWorst);
  });

  it('when backtests are stored, then a day is replaced, null figures stay null and latest is one per version', async () => {
    const state = await backend.open();
    await withModels(state, 'v1', 'v2');
    await state.monitoring.putBacktest(backtest('v1', T0, { auc: null, ks: null, defaults: 0 }));
    await state.monitoring.putBacktest(backtest('v1', T0 + DAY));
    await state.monitoring.putBacktest(backtest('v1', T0 + DAY, { labelled: 50 }));
    await state.monitoring.putBacktest(backtest('v2', T0));
    expect(await state.monitoring.backtestHistory('v1', 10)).toEqual([
      backtest('v1', T0 + DAY, { labelled: 50 }),
      backtest('v1', T0, { auc: null, ks: null, defaults: 0 }),
    ]);
    expect((await state.monitoring.latestBacktests()).map((b) => [b.modelVersion, b.labelled])).toEqual([
      ['v1', 50],
      ['v2', 40],
    ]);
  });
});
