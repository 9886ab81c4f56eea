import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AlertService } from '../../alerts/alert-service.js';
import { MODEL_DRIFT_RULE, modelDriftAlerts } from '../../alerts/rules/model-drift.js';
import { silentLogger } from '../../core/logger.js';
import { REGIONS } from '../../simulators/catalog.js';
import { shippedModelPath } from '../app.js';
import { extractFeatures, loadPortfolio } from '../features/extract.js';
import { FEATURE_NAMES } from '../features/spec.js';
import { initBackend } from '../model/backend.js';
import { ModelMonitor } from '../monitoring/monitor.js';
import { buildReference } from '../monitoring/reference.js';
import { ModelRegistry, readModelFile } from '../registry.js';
import { RiskModel, type RiskModelFile } from '../scorer.js';
import { ScoringService } from '../scoring-service.js';
import { buildTestWorld, DAY_MS, type TestWorld } from './support/world.js';

/**
 * Model monitoring end to end on simulated worlds: the same seeded lender twice, once as it was and once with a
 * drought over every region for the last 70 days (farm incomes fall, parcels brown, stock runs down). The shipped
 * default model scores each; its drift is measured against a training reference taken from the first world.
 */
const START = Date.UTC(2024, 3, 1);
const DAYS = 120;
const T = START + (DAYS - 1) * DAY_MS;
let reference: TestWorld;
let drifted: TestWorld;
let shipped: RiskModelFile;
let withReference: RiskModelFile;
/** The shipped model as a file from elsewhere: no training reference (whatever the shipped file carries). */
let withoutReference: RiskModelFile;

beforeAll(async () => {
  await initBackend();
  const opts = { borrowers: 40, days: DAYS, seed: 3, startMs: START };
  reference = await buildTestWorld(opts);
  drifted = await buildTestWorld({
    ...opts,
    scenarios: REGIONS.map((r) => `drought:${r.code}:${DAYS - 70}:70`),
  });
  shipped = await readModelFile(shippedModelPath());
  // What `riskfuse evaluate` stores with a model: its training population's bins (here the first world at T).
  const rows = await extractFeatures({
    telemetryStore: reference.telemetry,
    portfolio: await loadPortfolio(reference.state),
    times: [T],
  });
  const model = await RiskModel.load(shipped);
  const inputs = Object.fromEntries(
    shipped.imputer.features.map((f) => {
      const j = FEATURE_NAMES.indexOf(f);
      return [f, rows.map((r) => (Number.isNaN(r.values[j]) ? null : (r.values[j] ?? null)))];
    }),
  );
  withReference = {
    ...shipped,
    reference: buildReference({ inputs, scores: Array.from(model.predict(rows)) }, 'training', T),
  };
  model.dispose();
  const { reference: _dropped, ...rest } = shipped;
  withoutReference = rest;
}, 600_000);

afterAll(async () => {
  await reference?.close();
  await drifted?.close();
});

/** Registers `file` as champion in the world, scores its portfolio at T and runs the monitoring an hour later. */
async function scoreAndMonitor(w: TestWorld, file: RiskModelFile) {
  const registry = new ModelRegistry(w.state.models, join(w.dir, 'models'));
  const rec = await registry.register(file, { activate: true, now: T });
  const scoring = new ScoringService({
    state: w.state,
    telemetryStore: w.telemetry,
    registry,
    log: silentLogger,
    scoreIntervalMs: DAY_MS,
    eventDebounceMs: 60_000,
    pdChangeThreshold: 1,
    now: () => T,
  });
  await scoring.scorePortfolio('periodic');
  await scoring.close();
  const service = new AlertService(w.state);
  await service.load();
  const monitor = new ModelMonitor({
    state: w.state,
    registry,
    log: silentLogger,
    intervalMs: DAY_MS,
    minPopulation: 20,
    backtestWindowDays: 365,
    alerts: modelDriftAlerts(service),
    now: () => T + 3_600_000,
  });
  const run = await monitor.runOnce();
  return { version: rec.version, run, service };
}

let firstScoredVersion = '';

describe('model monitoring', () => {
  it('when the shipped model is read as it is, then it carries the training reference riskfuse evaluate wrote (every input it scores on), so a fresh install measures drift from its first day', () => {
    expect(shipped.reference?.source).toBe('training');
    expect(Object.keys(shipped.reference?.inputs ?? {}).sort()).toEqual([...shipped.imputer.features].sort());
  });

  it('when a model without a training reference scores its first population, then that population becomes its reference (said so) and the day is stable, without alert', async () => {
    const { version, run } = await scoreAndMonitor(reference, withoutReference);
    firstScoredVersion = version;
    const v = run.versions.find((x) => x.version === version);
    expect(v?.drift).toMatchObject({ band: 'stable', referenceSource: 'first-scored' });
    expect(v?.drift?.score.psi).toBe(0);
    expect((await reference.state.monitoring.getReference(version))?.source).toBe('first-scored');
    const scored = (await reference.state.scores.scoreObservations(version, T, T + 1)).length;
    expect(scored).toBeGreaterThan(30);
    const [stored] = await reference.state.monitoring.driftHistory(version, { limit: 5 });
    expect(stored).toMatchObject({ band: 'stable', referenceSource: 'first-scored', population: scored });
    expect(await reference.state.alerts.findActive(MODEL_DRIFT_RULE, 'model', version)).toBeUndefined();
    // Backtested: every score is within its 180-day horizon and no borrower defaulted yet, so all pending.
    expect(v?.backtest).toMatchObject({ labelled: 0, pending: scored, auc: null });
  }, 300_000);

  it('when the champion scores the world it was trained on, then its drift against the training reference is 0', async () => {
    const { version, run } = await scoreAndMonitor(reference, withReference);
    const v = run.versions.find((x) => x.version === version);
    expect(v?.status).toBe('champion');
    expect(v?.drift).toMatchObject({ band: 'stable', referenceSource: 'training', shifted: [] });
    expect(await reference.state.alerts.findActive(MODEL_DRIFT_RULE, 'model', version)).toBeUndefined();
    // The previous champion, now a challenger, is monitored beside it.
    expect(run.versions.map((x) => x.status).sort()).toEqual(['challenger', 'champion']);
  }, 300_000);

  it('when a drought moves the inputs, then the champion drifts from its training reference and a critical model-drift alert names the inputs that moved', async () => {
    const { version, run } = await scoreAndMonitor(drifted, withReference);
    const v = run.versions.find((x) => x.version === version);
    expect(v?.drift?.band).toBe('major');
    expect(v?.drift?.inputs.ndvi_anomaly_30d?.psi).toBeGreaterThan(0.25);
    const alert = await drifted.state.alerts.findActive(MODEL_DRIFT_RULE, 'model', version);
    expect(alert).toMatchObject({ severity: 'critical', status: 'open', subjectId: version });
    const shifted = (alert?.evidence.shifted as { name: string; psi: number }[]).map((s) => s.name);
    expect(shifted).toContain('ndvi_anomaly_30d');
    expect(alert?.evidence).toMatchObject({ referenceSource: 'training', band: 'major' });
    const [stored] = await drifted.state.monitoring.driftHistory(version, { limit: 1 });
    expect(stored).toMatchObject({ band: 'major', day: Math.floor(T / DAY_MS) * DAY_MS });
  }, 300_000);

  it('when drift moves between bands, then a warning escalates to a critical alert, a milder day keeps it, and a stable day resolves it', async () => {
    const service = new AlertService(drifted.state);
    await service.load();
    const hooks = modelDriftAlerts(service);
    const d = (band: 'stable' | 'moderate' | 'major', at: number) => ({
      modelVersion: 'v-test',
      modelName: 'fused-mlp',
      at,
      band,
      scorePsi: 0.05,
      worstInput: 'dpd_now',
      worstPsi: band === 'major' ? 0.4 : 0.15,
      shifted: band === 'stable' ? [] : [{ name: 'dpd_now', psi: band === 'major' ? 0.4 : 0.15 }],
      referenceSource: 'training' as const,
      population: 100,
    });
    const active = () => drifted.state.alerts.findActive(MODEL_DRIFT_RULE, 'model', 'v-test');
    await hooks.onDrift(d('moderate', T));
    const warning = await active();
    expect(warning?.severity).toBe('warning');
    await hooks.onDrift(d('major', T + DAY_MS));
    const critical = await active();
    expect(critical?.severity).toBe('critical');
    expect((await drifted.state.alerts.getAlert(warning?.id ?? ''))?.status).toBe('resolved');
    await hooks.onDrift(d('moderate', T + 2 * DAY_MS));
    expect((await active())?.id).toBe(critical?.id);
    await hooks.onStable(d('stable', T + 3 * DAY_MS));
    expect(await active()).toBeUndefined();
    expect((await drifted.state.alerts.getAlert(critical?.id ?? ''))?.resolvedBy).toBe('system');
  });

  it('when a first-scored reference is under a day old, then the next run takes it afresh (a start-up population is no reference); once a day old it stays', async () => {
    const version = firstScoredVersion;
    expect(version).not.toBe('');
    // A start-up population: every input missing and every PD high, nothing like the scored world.
    const startUp = buildReference(
      {
        scores: Array.from({ length: 40 }, () => 0.9),
        inputs: { [FEATURE_NAMES[0] ?? 'x']: Array(40).fill(null) },
      },
      'first-scored',
      T,
    );
    const monitorAt = (at: number) =>
      new ModelMonitor({
        state: reference.state,
        registry: new ModelRegistry(reference.state.models, join(reference.dir, 'models')),
        log: silentLogger,
        intervalMs: DAY_MS,
        minPopulation: 20,
        backtestWindowDays: 365,
        now: () => at,
      }).runOnce();
    const put = (at: number) =>
      reference.state.monitoring.putReference({
        version,
        source: 'first-scored',
        at,
        reference: { ...startUp, at },
      });
    expect(await put(T)).toBe(true);
    const young = (await monitorAt(T + 3_600_000)).versions.find((x) => x.version === version);
    expect(young?.drift).toMatchObject({ band: 'stable', referenceSource: 'first-scored' });
    expect(await put(T + 3_600_000 - 2 * DAY_MS)).toBe(true);
    const settled = (await monitorAt(T + 3_600_000)).versions.find((x) => x.version === version);
    expect(settled?.drift?.band).not.toBe('stable');
  }, 300_000);
});
