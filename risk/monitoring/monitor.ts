import { errorMessage } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import type { ModelRecord, ScoreObservation, State, StoredReference } from '../../core/state/index.js';
import { loadPortfolio } from '../features/extract.js';
import { DAY_MS, firstDefaultAt } from '../features/online.js';
import type { ModelRegistry } from '../registry.js';
import { backtestFigures, labelObservations, type BacktestFigures } from './backtest.js';
import {
  buildReference,
  checkReference,
  driftAgainst,
  type DriftReport,
  type ModelReference,
  type Population,
} from './reference.js';

/**
 * Model monitoring, the daily job (one process of a deployment runs it: `runElected(…, 'model-monitoring', …)`
 * in `riskfuse risk` and `riskfuse start`). For every model version not retired — the champion beside its
 * challengers — it stores:
 * - **drift**: PSI of each model input and of the score over the population the version scored in the last
 *   `windowMs` (each borrower's latest score there) against the version's training reference; a version
 *   without one gets its reference from this first population (`first-scored`, said in the figures, the log
 *   and the API). The champion's drift opens a `model-drift` alert through the alert service (warning at
 *   PSI 0.1–0.25, critical above 0.25) and a stable day resolves it; challengers act on nothing, so their
 *   drift is shown, not alerted.
 * - **backtest**: every score the version made in the last `backtestWindowDays`, one per borrower and UTC day
 *   (the day's last), judged on the outcomes known by now (risk/monitoring/backtest.ts).
 * A version that scored fewer than `minPopulation` borrowers in the window is skipped for drift (PSI on a
 * handful of rows is noise); the job then looks again within the hour rather than the next day.
 * Pinned by risk/test/model-monitor.test.ts (drift alert end to end on the drought scenario).
 */
export interface DriftAlertHooks {
  onDrift(d: DriftAlertInput): Promise<void>;
  onStable(d: DriftAlertInput): Promise<void>;
}

/** What the alert side receives (alerts/rules/model-drift.ts `ModelDriftInput`, structurally). */
export interface DriftAlertInput {
  readonly modelVersion: string;
  readonly modelName: string;
  readonly at: number;
  readonly band: DriftReport['band'];
  readonly scorePsi: number;
  readonly worstInput?: string;
  readonly worstPsi?: number;
  readonly shifted: readonly { readonly name: string; readonly psi: number }[];
  readonly referenceSource: ModelReference['source'];
  readonly population: number;
}

export interface ModelMonitorOptions {
  readonly state: State;
  readonly registry: ModelRegistry;
  readonly log: Logger;
  /** How often the job runs (daily by default). */
  readonly intervalMs: number;
  readonly minPopulation: number;
  /** The population of a day: scores made in this window before the run; default one day. */
  readonly windowMs?: number;
  readonly backtestWindowDays: number;
  readonly alerts?: DriftAlertHooks;
  readonly now?: () => number;
}

export interface VersionRun {
  readonly version: string;
  readonly status: ModelRecord['status'];
  readonly drift?: DriftReport & { readonly referenceSource: ModelReference['source'] };
  /** Why there is no drift figure this time. */
  readonly skipped?: string;
  readonly backtest: BacktestFigures;
}

export interface MonitorRun {
  readonly at: number;
  readonly day: number;
  readonly versions: readonly VersionRun[];
}

/**
 * A version without a training reference takes its first scored population as one only when at most this share
 * of its input values is missing (a fresh install's first scores, before devices report, are mostly missing).
 */
const MAX_MISSING_FOR_REFERENCE = 0.5;

function missingShare(pop: Population): number {
  let missing = 0;
  let all = 0;
  for (const values of Object.values(pop.inputs)) {
    all += values.length;
    for (const v of values) if (v === null) missing++;
  }
  return all === 0 ? 0 : missing / all;
}

/** Retry delay after a run that found too small a population for some version. */
const RETRY_MS = 3_600_000;

export class ModelMonitor {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> = Promise.resolve();
  private started = false;
  private alerts: DriftAlertHooks | undefined;
  private readonly now: () => number;

  constructor(private readonly opts: ModelMonitorOptions) {
    this.now = opts.now ?? Date.now;
    this.alerts = opts.alerts;
  }

  /** Where drift alerts go (the alert service of this process); set before `start`. */
  alertTo(hooks: DriftAlertHooks): void {
    this.alerts = hooks;
  }

  /** Runs now, then every interval (sooner after a run that lacked a population), until `stop`. */
  start(): void {
    if (this.started) return;
    this.started = true;
    const tick = (): void => {
      const run = this.runOnce().then(
        (r) => r.versions.some((v) => v.skipped !== undefined),
        (err: unknown) => {
          this.opts.log.error({ err: errorMessage(err) }, 'model monitoring failed; the next run retries');
          return true;
        },
      );
      this.running = run.then((retrySoon) => {
        if (!this.started) return;
        const next = retrySoon ? Math.min(RETRY_MS, this.opts.intervalMs) : this.opts.intervalMs;
        this.timer = setTimeout(tick, next).unref();
      });
    };
    tick();
  }

  async stop(): Promise<void> {
    this.started = false;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
  }

  /** One monitoring pass over every version not retired (what the job runs daily). */
  async runOnce(): Promise<MonitorRun> {
    const at = this.now();
    const day = Math.floor(at / DAY_MS) * DAY_MS;
    const models = (await this.opts.registry.list()).filter((m) => m.status !== 'retired');
    const versions: VersionRun[] = [];
    if (models.length === 0) return { at, day, versions };
    const heads = await this.opts.state.scores.latestScores();
    const inputsOf = new Map(heads.map((h) => [h.borrowerId, h.features ?? {}]));
    const defaults = await this.defaults();
    for (const m of models) {
      try {
        versions.push(await this.monitorVersion(m, at, day, inputsOf, defaults));
      } catch (err) {
        this.opts.log.error(
          { model: m.version, err: errorMessage(err) },
          'model monitoring of a version failed',
        );
      }
    }
    this.opts.log.info(
      {
        day: new Date(day).toISOString().slice(0, 10),
        versions: versions.map((v) => ({
          version: v.version,
          drift: v.drift?.band ?? v.skipped,
          worst: v.drift?.worstInput,
          labelled: v.backtest.labelled,
          auc: v.backtest.auc,
        })),
      },
      'model monitoring',
    );
    return { at, day, versions };
  }

  private async defaults(): Promise<Map<string, number>> {
    const portfolio = await loadPortfolio(this.opts.state);
    const out = new Map<string, number>();
    for (const [id, book] of portfolio.books) {
      const d = firstDefaultAt(book);
      if (d !== undefined) out.set(id, d);
    }
    return out;
  }

  /** The reference the model file carries (written by `riskfuse evaluate`), stored once it is first read. */
  private async trainingReference(m: ModelRecord): Promise<StoredReference | undefined> {
    const body = await this.opts.state.models.getArtifact(m.version);
    if (body === undefined) return undefined;
    const file = JSON.parse(body) as { reference?: unknown; createdAt?: number };
    if (file.reference === undefined) return undefined;
    const ref = checkReference(file.reference, `model ${m.version}`);
    const record: StoredReference = {
      version: m.version,
      source: ref.source,
      at: ref.at,
      reference: ref as unknown as Record<string, unknown>,
    };
    await this.opts.state.monitoring.putReference(record);
    return record;
  }

  private async monitorVersion(
    m: ModelRecord,
    at: number,
    day: number,
    inputsOf: ReadonlyMap<string, Readonly<Record<string, number | null>>>,
    defaults: ReadonlyMap<string, number>,
  ): Promise<VersionRun> {
    const { state, log } = this.opts;
    const windowMs = this.opts.windowMs ?? DAY_MS;
    const features = Array.isArray(m.meta.features) ? (m.meta.features as string[]) : [];
    // Drift: each borrower's latest score of this version in the window, with the inputs it saw.
    const recent = lastPerBorrower(await state.scores.scoreObservations(m.version, at - windowMs, at + 1));
    const pop: Population = {
      scores: recent.map((o) => o.pd),
      inputs: Object.fromEntries(
        features.map((f) => [f, recent.map((o) => inputsOf.get(o.borrowerId)?.[f] ?? null)]),
      ),
    };
    let drift: VersionRun['drift'];
    let skipped: string | undefined;
    if (recent.length < this.opts.minPopulation) {
      skipped = `${recent.length} borrowers scored in the window (at least ${this.opts.minPopulation} needed)`;
    } else {
      let stored = (await state.monitoring.getReference(m.version)) ?? (await this.trainingReference(m));
      // A first-scored reference settles over its first day: a run within a day of it takes it afresh. On a
      // fresh start the first scores come from devices' windows still filling (the demo scores while its replay
      // runs), and a later run the same day would otherwise report that filling-up as drift and alert on it.
      if (stored?.source === 'first-scored' && at - stored.at < DAY_MS) stored = undefined;
      const missing = missingShare(pop);
      if (stored === undefined && missing > MAX_MISSING_FOR_REFERENCE) {
        // A fresh install scores before its devices have reported: that population is no reference.
        skipped = `no training reference, and ${(missing * 100).toFixed(0)} % of today's inputs are missing`;
      } else if (stored === undefined) {
        const reference = buildReference(pop, 'first-scored', at);
        const record: StoredReference = {
          version: m.version,
          source: 'first-scored',
          at,
          reference: reference as unknown as Record<string, unknown>,
        };
        await state.monitoring.putReference(record);
        log.warn(
          { model: m.version, population: recent.length },
          'model has no training reference: drift is measured against its first scored population',
        );
      }
    }
    if (skipped === undefined && recent.length >= this.opts.minPopulation) {
      const stored = await state.monitoring.getReference(m.version);
      if (stored === undefined) throw new Error(`model ${m.version}: reference not stored`);
      const ref = checkReference(stored.reference, `model ${m.version}`);
      const report = driftAgainst(ref, pop);
      drift = { ...report, referenceSource: ref.source };
      await state.monitoring.putDrift({
        modelVersion: m.version,
        day,
        computedAt: at,
        population: report.population,
        scorePsi: report.score.psi,
        ...(report.worstInput === undefined
          ? {}
          : { worstInput: report.worstInput.name, worstPsi: report.worstInput.psi }),
        band: report.band,
        referenceSource: ref.source,
        detail: {
          score: report.score,
          inputs: report.inputs,
          shifted: report.shifted,
          referenceAt: ref.at,
          referenceCount: ref.count,
        },
      });
      if (m.status === 'champion' && this.alerts !== undefined) {
        const input: DriftAlertInput = {
          modelVersion: m.version,
          modelName: m.name,
          at,
          band: report.band,
          scorePsi: report.score.psi,
          ...(report.worstInput === undefined
            ? {}
            : { worstInput: report.worstInput.name, worstPsi: report.worstInput.psi }),
          shifted: report.shifted.map((name) => ({
            name,
            psi: name === 'score' ? report.score.psi : (report.inputs[name]?.psi ?? 0),
          })),
          referenceSource: ref.source,
          population: report.population,
        };
        if (report.band === 'stable') await this.alerts.onStable(input);
        else await this.alerts.onDrift(input);
      }
    }
    // Backtest: one observation per borrower and UTC day (the day's last score), outcomes as of now.
    const horizonDays = typeof m.meta.horizonDays === 'number' ? m.meta.horizonDays : 180;
    const obs = lastPerBorrowerDay(
      await state.scores.scoreObservations(m.version, at - this.opts.backtestWindowDays * DAY_MS, at + 1),
    );
    const { labelled, pending } = labelObservations(obs, defaults, horizonDays * DAY_MS, at);
    const backtest = backtestFigures(labelled, pending);
    await state.monitoring.putBacktest({
      modelVersion: m.version,
      day,
      computedAt: at,
      labelled: backtest.labelled,
      defaults: backtest.defaults,
      auc: backtest.auc,
      ks: backtest.ks,
      detail: { ...backtest, horizonDays, status: m.status },
    });
    return {
      version: m.version,
      status: m.status,
      ...(drift === undefined ? {} : { drift }),
      ...(skipped === undefined ? {} : { skipped }),
      backtest,
    };
  }
}

/** Observations are by borrower then time: keep each borrower's last. */
function lastPerBorrower(obs: readonly ScoreObservation[]): ScoreObservation[] {
  const out: ScoreObservation[] = [];
  obs.forEach((o, i) => {
    if (obs[i + 1]?.borrowerId !== o.borrowerId) out.push(o);
  });
  return out;
}

function lastPerBorrowerDay(obs: readonly ScoreObservation[]): ScoreObservation[] {
  const out: ScoreObservation[] = [];
  obs.forEach((o, i) => {
    const next = obs[i + 1];
    if (
      next === undefined ||
      next.borrowerId !== o.borrowerId ||
      Math.floor(next.at / DAY_MS) !== Math.floor(o.at / DAY_MS)
    )
      out.push(o);
  });
  return out;
}
