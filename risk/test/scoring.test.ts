import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../core/logger.js';
import { fitImputer, inputNames, toMatrix } from '../features/dataset.js';
import { extractFeatures, loadPortfolio, type FeatureRow } from '../features/extract.js';
import { FEATURE_NAMES } from '../features/spec.js';
import { evaluate } from '../evaluate.js';
import { trainClassifier } from '../model/train.js';
import { ModelRegistry } from '../registry.js';
import { RISK_MODEL_FORMAT, RiskModel, type RiskModelFile } from '../scorer.js';
import { ScoringService, type ScoreChange } from '../scoring-service.js';
import { buildTestWorld, DAY_MS, type TestWorld } from './support/world.js';

let w: TestWorld;
let t: number;
let rows: FeatureRow[];
let fileA: RiskModelFile;
let fileB: RiskModelFile;

/** A model over the real feature rows; labels from a rule so both classes exist (the model is not judged here). */
async function trainOn(
  rs: readonly FeatureRow[],
  name: string,
  seed: number,
  features = FEATURE_NAMES,
): Promise<RiskModelFile> {
  const imputer = fitImputer(rs, features);
  const fill = FEATURE_NAMES.indexOf('collateral_fill');
  const y = Uint8Array.from(rs, (r, i) => ((r.values[fill] ?? 1) < 0.97 || i % 7 === 0 ? 1 : 0));
  const x = toMatrix(rs, imputer);
  const { model } = await trainClassifier({
    kind: 'mlp',
    featureNames: inputNames(imputer),
    x,
    y,
    xVal: x,
    yVal: y,
    seed,
    maxEpochs: 6,
  });
  const file: RiskModelFile = {
    format: RISK_MODEL_FORMAT,
    name,
    horizonDays: 180,
    population: 'performing',
    imputer,
    artifact: model.toArtifact(),
    dataHash: 'test',
    backend: 'wasm',
    createdAt: Date.now(),
    metrics: { auc: 0.5 },
  };
  model.dispose();
  return file;
}

beforeAll(async () => {
  w = await buildTestWorld({ borrowers: 24, days: 150, seed: 5 });
  t = w.fromMs + 140 * DAY_MS;
  const times = [t - 21 * DAY_MS, t - 14 * DAY_MS, t - 7 * DAY_MS, t];
  rows = await extractFeatures({
    telemetryStore: w.telemetry,
    portfolio: await loadPortfolio(w.state),
    times,
  });
  fileA = await trainOn(rows, 'fused-mlp', 1);
  fileB = await trainOn(rows, 'fused-mlp', 2);
}, 180_000);

afterAll(async () => {
  await w?.close();
});

describe('explanations', () => {
  it('when a borrower is scored, then the contributions sum to the logit minus the baseline logit (within 1 %) and the top reasons raise the PD', async () => {
    const model = await RiskModel.load(fileA);
    const scored = model.score(rows);
    expect(scored.length).toBe(rows.length);
    for (const s of scored) {
      const sum = Object.values(s.contributions).reduce((a, b) => a + b, 0);
      const diff = s.logit - s.baselineLogit;
      expect(Math.abs(sum - diff)).toBeLessThanOrEqual(Math.max(0.01 * Math.abs(diff), 1e-3));
      expect(s.reasons.length).toBeLessThanOrEqual(4);
      for (const r of s.reasons) {
        expect(r.contribution).toBeGreaterThan(0);
        expect(r.text.length).toBeGreaterThan(5);
        expect(FEATURE_NAMES).toContain(r.feature);
      }
      const row = rows.find((r) => r.borrowerId === s.borrowerId && r.t === s.t);
      for (const r of s.reasons) expect(row?.notApplicable ?? []).not.toContain(r.feature);
      const sorted = [...s.reasons].sort((a, b) => b.contribution - a.contribution);
      expect(s.reasons).toEqual(sorted);
      // A file without recalibration (as written before it existed): PD = σ(logit), floored.
      expect(s.pd).toBeCloseTo(Math.max(model.pdFloor, 1 / (1 + Math.exp(-s.logit))), 5);
    }
    model.dispose();
  });

  it('when the model file carries a recalibration and a PD floor, then predict and score use both; without them the configured floor applies', async () => {
    const plain = await RiskModel.load(fileA, { pdFloor: 0.001 });
    expect(plain.pdFloor).toBe(0.001);
    const raw = plain.predict(rows);
    // Platt map that halves the odds' log (b = 0.5) and shifts it (a = −1), with the file's own floor of 2 %.
    const calibrated = await RiskModel.load(
      { ...fileA, calibration: { method: 'platt', a: -1, b: 0.5 }, pdFloor: 0.02 },
      { pdFloor: 0.001 },
    );
    const p = calibrated.predict(rows);
    const scored = calibrated.score(rows);
    rows.forEach((_, i) => {
      const logit = scored[i]?.logit as number;
      const want = Math.max(0.02, 1 / (1 + Math.exp(-(-1 + 0.5 * logit))));
      expect(p[i]).toBeCloseTo(want, 5);
      expect(scored[i]?.pd).toBeCloseTo(want, 5);
      expect(raw[i]).toBeCloseTo(Math.max(0.001, 1 / (1 + Math.exp(-logit))), 5);
    });
    expect(Math.min(...p)).toBeGreaterThanOrEqual(0.02 - 1e-7);
    await expect(
      RiskModel.load({ ...fileA, calibration: { method: 'platt', a: Number.NaN, b: 1 } as never }),
    ).rejects.toThrow(/calibration/);
    plain.dispose();
    calibrated.dispose();
  });
});

describe('model registry', () => {
  it('when a model is registered, activated and reloaded from its file by a new registry, then it scores identically (1e-6)', async () => {
    const dir = join(w.dir, 'models-a');
    const reg = new ModelRegistry(w.state.models, dir);
    const a = await reg.register(fileA, { activate: true });
    expect(a).toMatchObject({ version: 'v1', status: 'champion', name: 'fused-mlp', dataHash: 'test' });
    const fresh = new ModelRegistry(w.state.models, dir);
    const reloaded = await fresh.load('v1');
    const original = await RiskModel.load(fileA);
    const p1 = original.predict(rows);
    const p2 = reloaded.predict(rows);
    p1.forEach((v, i) => expect(Math.abs(v - (p2[i] as number))).toBeLessThanOrEqual(1e-6));
    const x = toMatrix(rows, fileA.imputer);
    expect(x.cols).toBe(inputNames(fileA.imputer).length);
    original.dispose();
  });

  it('when a second model is activated, then it becomes the only champion and the first a challenger', async () => {
    const reg = new ModelRegistry(w.state.models, join(w.dir, 'models-a'));
    const b = await reg.register(fileB);
    expect(b).toMatchObject({ version: 'v2', status: 'challenger' });
    await reg.activate('v2');
    expect((await reg.list()).map((m) => [m.version, m.status])).toEqual([
      ['v1', 'challenger'],
      ['v2', 'champion'],
    ]);
    await reg.activate('v1');
    expect((await reg.championRecord())?.version).toBe('v1');
    await expect(reg.activate('v9')).rejects.toThrow(/no model version v9/);
    await expect(reg.retire('v1')).rejects.toThrow(/champion/);
  });

  it('when another replica with its own models folder loads a registered model, then it scores the same without the file', async () => {
    const here = new ModelRegistry(w.state.models, join(w.dir, 'models-here'));
    const rec = await here.register(fileA);
    await rm(join(w.dir, 'models-here'), { recursive: true, force: true });
    const there = new ModelRegistry(w.state.models, join(w.dir, 'models-there'));
    const [a, b] = await Promise.all([here.load(rec.version), there.load(rec.version)]);
    expect(b.predict(rows)).toEqual(a.predict(rows));
  });

  it('when a model file is corrupt or uses an unknown feature, then loading or registering fails clearly and nothing is registered', async () => {
    const reg = new ModelRegistry(w.state.models, join(w.dir, 'models-a'));
    const before = (await reg.list()).length;
    const bad = {
      ...fileA,
      imputer: { ...fileA.imputer, features: ['no_such_feature', ...fileA.imputer.features.slice(1)] },
    };
    await expect(reg.register(bad)).rejects.toThrow(/do not match|no_such_feature/);
    await expect(reg.register({ ...fileA, format: 'x' } as unknown as RiskModelFile)).rejects.toThrow(
      /not a riskfuse risk model/,
    );
    expect((await reg.list()).length).toBe(before);
    // The stored artifact is what every replica loads: a damaged one fails clearly.
    await w.state.db.run('UPDATE model_artifacts SET body = ? WHERE version = ?', [
      '{"format": "riskfuse-risk-model/1", "artifact": {',
      'v2',
    ]);
    await expect(new ModelRegistry(w.state.models, join(w.dir, 'models-a')).load('v2')).rejects.toThrow(
      /model v2 is not JSON/,
    );
  });
});

/** A scoring service over the test world (hourly runs, 50 ms debounce, 2 % PD change). */
const newService = (reg: ModelRegistry, now: () => number, scoreIntervalMs = 3_600_000) =>
  new ScoringService({
    state: w.state,
    telemetryStore: w.telemetry,
    registry: reg,
    log: silentLogger,
    scoreIntervalMs,
    eventDebounceMs: 50,
    pdChangeThreshold: 0.02,
    now,
  });

describe('scoring service', () => {
  it('when the portfolio is scored, then every borrower gets a stored champion score with reasons, challengers score in shadow, and changes of the official score go to the outbox with the scores', async () => {
    const { scores, outbox } = w.state;
    const dir = join(w.dir, 'models-b');
    const reg = new ModelRegistry(w.state.models, dir);
    // A fresh registry file set: v3 champion, v4 challenger (versions continue in the same state store).
    const champ = await reg.register(fileA, { activate: true });
    const chall = await reg.register(fileB);
    const service = newService(reg, () => t);
    const changes: ScoreChange[] = [];
    service.on('score-changed', (c) => changes.push(c));
    const run = await service.scorePortfolio();
    expect(run.modelVersion).toBe(champ.version);
    expect(run.borrowers).toBeGreaterThan(15);
    const latest = await scores.latestScores({ modelVersion: champ.version });
    expect(latest.length).toBe(run.borrowers);
    for (const s of latest) {
      expect(s.at).toBe(t);
      expect(s.pd).toBeGreaterThan(0);
      expect(s.pd).toBeLessThan(1);
      expect(s.grade).toMatch(/^[A-G]$/);
      expect(Object.keys(s.contributions ?? {}).length).toBe(FEATURE_NAMES.length);
    }
    expect((await scores.latestScores({ modelVersion: chall.version, shadow: true })).length).toBe(
      run.borrowers,
    );
    // First scores are not changes.
    expect(changes).toEqual([]);
    expect(await outbox.after(0)).toEqual([]);

    // Same instant, same data: nothing changes, nothing is published.
    const again = await service.scorePortfolio();
    expect(again.changes).toBe(0);

    // The challenger becomes champion: where its PD differs enough, the official score changed — published
    // in-process and written to the outbox with the scores.
    await reg.activate(chall.version);
    const switched = await service.scorePortfolio();
    expect(switched.modelVersion).toBe(chall.version);
    expect(switched.changes).toBe(changes.length);
    expect(changes.length).toBeGreaterThan(0);
    const events = await outbox.after(0);
    expect(events.map((e) => e.data.borrowerId)).toEqual(changes.map((c) => c.borrowerId));
    for (const [i, e] of events.entries()) {
      const c = changes[i] as ScoreChange;
      expect(e.type).toBe('score.changed');
      expect(e.data).toMatchObject({ pd: c.current.pd, grade: c.current.grade, modelVersion: chall.version });
      expect((e.data.previous as { modelVersion: string }).modelVersion).toBe(champ.version);
      expect(Math.abs(c.current.pd - c.previous.pd) >= 0.02 || c.gradeSteps !== 0).toBe(true);
    }
    await reg.activate(champ.version);

    // A tamper reading re-scores its borrower alone, after the debounce.
    const stake = (await w.state.devices.listDevices({ kind: 'stake' }))[0];
    if (stake === undefined) throw new Error('no stake');
    const done = new Promise<unknown>((resolve) => service.once('run', resolve));
    service.notifyReadings([
      {
        kind: 'stake',
        deviceId: stake.id,
        borrowerId: stake.borrowerId,
        siteId: stake.siteId,
        ts: t - 1000,
        seq: 1,
        fields: { tamper: 1, weightKg: 10 },
      },
    ]);
    const eventRun = (await done) as { trigger: string; borrowers: number };
    expect(eventRun).toMatchObject({ trigger: 'readings', borrowers: 1 });
    const history = await scores.scoreHistory({ borrowerId: stake.borrowerId, modelVersion: champ.version });
    expect(history[0]?.trigger).toBe('readings');
    await service.close();
  });

  it('when the portfolio is backtested at past instants, then each gets point-in-time champion scores stored as history: no events, and the live latest score stays', async () => {
    const { scores, outbox } = w.state;
    const reg = new ModelRegistry(w.state.models, join(w.dir, 'models-c'));
    const champ = await reg.register(fileA, { activate: true });
    const service = newService(reg, () => clock);
    let clock = t + 1.5 * DAY_MS;
    const live = await service.scorePortfolio();
    clock = t + 3 * DAY_MS;
    const latestBefore = await scores.latestScores();
    const eventsBefore = (await outbox.after(0)).length;
    // Past day boundaries, one of them newer than the live scores (t + 1.5 d); one in the future, dropped.
    const times = [t - 14 * DAY_MS, t - 7 * DAY_MS, t + 2 * DAY_MS, t + 5 * DAY_MS];
    const run = await service.backtest(times);
    expect(run).toMatchObject({ trigger: 'backtest', modelVersion: champ.version });
    // Borrowers active at any of the instants (some had not yet defaulted or settled then).
    expect(run.borrowers).toBeGreaterThanOrEqual(live.borrowers);
    // Same rows, same model: the stored PDs are those of a fresh extraction at the same instants.
    const model = await reg.load(champ.version);
    const past = times.slice(0, 3);
    const expected = model.score(
      (
        await extractFeatures({
          telemetryStore: w.telemetry,
          portfolio: await loadPortfolio(w.state),
          times: past,
        })
      ).filter((r) => r.status.defaultedBy === undefined && r.status.active),
    );
    expect(expected.length).toBeGreaterThan(2 * live.borrowers);
    for (const e of expected) {
      const [stored] = await scores.scoreHistory({
        borrowerId: e.borrowerId,
        modelVersion: champ.version,
        fromMs: e.t,
        toMs: e.t + 1,
      });
      expect(stored).toMatchObject({ trigger: 'backtest', at: e.t, shadow: false });
      expect(Math.abs((stored?.pd ?? -1) - e.pd)).toBeLessThanOrEqual(1e-9);
    }
    expect(await scores.scoreHistory({ fromMs: t + 5 * DAY_MS - 1 })).toEqual([]);
    // History only: the latest official scores are the live ones (even where a backtest instant is newer),
    // and nothing is announced.
    expect(await scores.latestScores()).toEqual(latestBefore);
    expect(await scores.latestScores({ borrowerIds: [latestBefore[0]?.borrowerId ?? ''] })).toEqual([
      latestBefore[0],
    ]);
    expect((await outbox.after(0)).length).toBe(eventsBefore);
    await service.close();
  });

  it('when score changes are held, then scores are stored but no change is announced, and after release changes count against the held scores', async () => {
    const { scores, outbox } = w.state;
    const reg = new ModelRegistry(w.state.models, join(w.dir, 'models-d'));
    const a = await reg.register(fileA, { activate: true });
    const b = await reg.register(fileB);
    const service = newService(reg, () => t + 4 * DAY_MS);
    const changes: ScoreChange[] = [];
    service.on('score-changed', (c) => changes.push(c));
    // (Earlier tests scored this world: this run may announce changes against theirs.)
    await service.scorePortfolio();
    changes.length = 0;
    const events = (await outbox.after(0)).length;
    // Held: the other model's scores are stored (latest) but not announced.
    service.holdChanges(true);
    await reg.activate(b.version);
    const held = await service.scorePortfolio();
    expect(held.changes).toBe(0);
    expect(changes).toEqual([]);
    expect((await outbox.after(0)).length).toBe(events);
    expect((await scores.latestScores()).every((s) => s.modelVersion === b.version)).toBe(true);
    // Released: back to the first model, changes are against the held scores, and announced.
    service.holdChanges(false);
    await reg.activate(a.version);
    const released = await service.scorePortfolio();
    expect(released.changes).toBeGreaterThan(0);
    expect(changes.every((c) => c.previous.modelVersion === b.version)).toBe(true);
    expect((await outbox.after(0)).length).toBe(events + released.changes);
    await service.close();
  });

  it('when the periodic job is stopped during its run, then stop resolves once the run is stored, no run follows, and start runs it again', async () => {
    const reg = new ModelRegistry(w.state.models, join(w.dir, 'models-e'));
    const champ = await reg.register(fileA, { activate: true });
    const at = t + 5 * DAY_MS;
    // Runs every 20 ms once started: a timer left behind by stop would run again within the wait below.
    const service = newService(reg, () => at, 20);
    service.start();
    service.start();
    await service.stop();
    expect(service.counters.runs).toBe(1);
    const stored = await w.state.scores.scoreHistory({
      modelVersion: champ.version,
      fromMs: at,
      toMs: at + 1,
    });
    expect(stored.length).toBe(service.counters.borrowersScored);
    expect(stored.length).toBeGreaterThan(15);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(service.counters.runs).toBe(1);

    service.start();
    await new Promise((resolve) => service.once('run', resolve));
    expect(service.counters.runs).toBe(2);
    await service.close();
    const runs = service.counters.runs;
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(service.counters.runs).toBe(runs);
  });

  it('when the history is too small to hold a default, then evaluate says so instead of training on one class', async () => {
    await expect(
      evaluate({
        telemetryStore: w.telemetry,
        portfolio: await loadPortfolio(w.state),
        fromMs: w.fromMs,
        toMs: w.toMs,
        horizonDays: 30,
        maxEpochs: 2,
      }),
    ).rejects.toThrow(/only one class|too short/);
  });
});
