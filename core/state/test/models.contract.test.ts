import { afterAll, describe, expect, it } from 'vitest';
import { RiskfuseError } from '../../errors.js';
import { isConstraintError } from '../database.js';
import type { ModelRecord } from '../models/model-repository.js';
import { closeAll, STATE_BACKENDS } from './backends.js';

afterAll(closeAll);

const T0 = Date.UTC(2026, 0, 1);

const model = (version: string, over: Partial<ModelRecord> = {}): ModelRecord => ({
  version,
  name: 'fused',
  kind: 'fused-mlp',
  status: 'challenger',
  createdAt: T0,
  artifactPath: `models/${version}.json`,
  dataHash: 'h',
  backend: 'wasm',
  meta: { auc: 0.8, features: ['dpd_now'] },
  ...over,
});

const codeOf = (err: unknown): string | undefined => (err instanceof RiskfuseError ? err.code : undefined);

describe.each(STATE_BACKENDS)('model repository on %s', (backend) => {
  it('when models are added, then they read back in creation order with their metadata, and no champion yet', async () => {
    const state = await backend.open();
    await state.models.addModel(model('v2', { createdAt: T0 + 1 }));
    await state.models.addModel(model('v1'));
    await state.models.addModel(model('v0', { createdAt: T0 + 1, status: 'retired' }));
    expect((await state.models.listModels()).map((m) => m.version)).toEqual(['v1', 'v0', 'v2']);
    expect(await state.models.getModel('v1')).toEqual(model('v1'));
    expect(await state.models.getModel('nope')).toBeUndefined();
    expect(await state.models.champion()).toBeUndefined();
  });

  it('when a model is added with its artifact, then the artifact reads back; a taken version stores neither', async () => {
    const state = await backend.open();
    await state.models.addModel(model('v1'), '{"format":"riskfuse-risk-model/1","weights":[1,2]}');
    await state.models.addModel(model('v2'));
    expect(await state.models.getArtifact('v1')).toBe('{"format":"riskfuse-risk-model/1","weights":[1,2]}');
    expect(await state.models.getArtifact('v2')).toBeUndefined();
    await expect(state.models.addModel(model('v1'), 'other')).rejects.toThrow(/already exists/);
    expect(await state.models.getArtifact('v1')).toBe('{"format":"riskfuse-risk-model/1","weights":[1,2]}');
  });

  it('when a model is added as champion or under a taken version, then it is refused', async () => {
    const state = await backend.open();
    await state.models.addModel(model('v1'));
    const champion = await state.models
      .addModel(model('v2', { status: 'champion' }))
      .catch((e: unknown) => e);
    expect(codeOf(champion)).toBe('VALIDATION_FAILED');
    const taken = await state.models.addModel(model('v1', { name: 'other' })).catch((e: unknown) => e);
    expect(codeOf(taken)).toBe('CONFLICT');
    expect(await state.models.listModels()).toEqual([model('v1')]);
  });

  it('when a model is activated, then it is the one champion and the previous champion becomes a challenger', async () => {
    const state = await backend.open();
    for (const v of ['v1', 'v2']) await state.models.addModel(model(v));
    const first = await state.models.activateModel('v1', T0 + 10);
    expect(first).toEqual(model('v1', { status: 'champion', activatedAt: T0 + 10 }));
    expect(await state.models.champion()).toEqual(first);
    const second = await state.models.activateModel('v2', T0 + 20);
    expect(second).toMatchObject({ version: 'v2', status: 'champion', activatedAt: T0 + 20 });
    expect(await state.models.getModel('v1')).toMatchObject({ status: 'challenger', activatedAt: T0 + 10 });
    expect((await state.models.champion())?.version).toBe('v2');
    const missing = await state.models.activateModel('nope', T0 + 30).catch((e: unknown) => e);
    expect(codeOf(missing)).toBe('NOT_FOUND');
    expect((await state.models.champion())?.version).toBe('v2');
  });

  it('when a second champion is written directly, then the one-champion index refuses it', async () => {
    const state = await backend.open();
    for (const v of ['v1', 'v2']) await state.models.addModel(model(v));
    await state.models.activateModel('v1', T0);
    const err = await state.db
      .run(`UPDATE models SET status = 'champion' WHERE version = ?`, ['v2'])
      .catch((e: unknown) => e);
    expect(isConstraintError(err, 'unique')).toBe(true);
  });

  it('when activations race, then each succeeds in turn and exactly one champion remains', async () => {
    const state = await backend.open();
    const versions = ['v1', 'v2', 'v3', 'v4'];
    for (const v of versions) await state.models.addModel(model(v));
    await Promise.all(versions.map((v, i) => state.models.activateModel(v, T0 + i)));
    const models = await state.models.listModels();
    expect(models.filter((m) => m.status === 'champion')).toHaveLength(1);
    expect(models.filter((m) => m.status === 'challenger')).toHaveLength(3);
  });

  it('when a model is retired or demoted, then the champion cannot be and an unknown one is not found', async () => {
    const state = await backend.open();
    for (const v of ['v1', 'v2']) await state.models.addModel(model(v));
    await state.models.activateModel('v1', T0);
    await state.models.setModelStatus('v2', 'retired');
    expect((await state.models.getModel('v2'))?.status).toBe('retired');
    await state.models.setModelStatus('v2', 'challenger');
    expect((await state.models.getModel('v2'))?.status).toBe('challenger');
    const champion = await state.models.setModelStatus('v1', 'retired').catch((e: unknown) => e);
    expect(codeOf(champion)).toBe('CONFLICT');
    expect((await state.models.champion())?.version).toBe('v1');
    const missing = await state.models.setModelStatus('nope', 'retired').catch((e: unknown) => e);
    expect(codeOf(missing)).toBe('NOT_FOUND');
  });
});
