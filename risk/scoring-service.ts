import { EventEmitter } from 'node:events';
import type { Reading } from '../core/contracts/index.js';
import { errorMessage } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { newEventId, type PlatformEvent } from '../core/contracts/events.js';
import type { ScoreRecord, State } from '../core/state/index.js';
import type { TelemetryStore } from '../core/storage/telemetry-store.js';
import { extractFeatures, loadPortfolio, type FeatureRow } from './features/extract.js';
import { FEATURE_NAMES } from './features/spec.js';
import type { RegionBaselines } from './features/offline.js';
import { gradeFor, gradeSteps, pointsFor } from './grades.js';
import type { ModelRegistry } from './registry.js';
import type { RiskModel } from './scorer.js';

/**
 * Scores the portfolio with the champion model: all of it every `scoreIntervalMs`, and single borrowers a
 * short debounce after a significant reading (tamper, a stake losing weight, an inspection, a satellite
 * scene) or a loan event. Every score is stored (PD, points, grade, model version, top reasons, contributions);
 * challengers score the same rows in shadow and their scores are stored apart. A grade change or a PD move
 * of at least `pdChangeThreshold` against the previous official score is a change: a `score.changed` event
 * goes to the outbox in the transaction that stores the score, and `score-changed` is emitted in-process.
 */
export interface ScoreChange {
  readonly borrowerId: string;
  readonly at: number;
  readonly modelVersion: string;
  readonly previous: {
    readonly pd: number;
    readonly grade: string;
    readonly at: number;
    readonly modelVersion: string;
  };
  readonly current: ScoreRecord;
  /** Positive = worse grade. */
  readonly gradeSteps: number;
}

export interface ScoringRun {
  readonly trigger: string;
  readonly at: number;
  readonly borrowers: number;
  readonly modelVersion?: string;
  readonly shadowModels: number;
  readonly changes: number;
  readonly featureMs: number;
  readonly scoreMs: number;
}

export interface ScoringServiceOptions {
  /** Where scores go (`scores`), with their `score.changed` events (`outbox`) in the same transaction. */
  readonly state: State;
  readonly telemetryStore: TelemetryStore;
  readonly registry: ModelRegistry;
  readonly log: Logger;
  readonly scoreIntervalMs: number;
  readonly eventDebounceMs: number;
  readonly pdChangeThreshold: number;
  readonly now?: () => number;
}

export interface ScoringCounters {
  runs: number;
  borrowersScored: number;
  shadowScored: number;
  changesPublished: number;
  failures: number;
  lastRunMs: number;
}

/** Delay of the second periodic run after start. */
const FIRST_RERUN_MS = 60_000;

/** A stake whose weight falls this much between two readings triggers a re-score. */
const WEIGHT_DROP_TRIGGER = 0.05;

export class ScoringService extends EventEmitter<{ 'score-changed': [ScoreChange]; run: [ScoringRun] }> {
  readonly counters: ScoringCounters = {
    runs: 0,
    borrowersScored: 0,
    shadowScored: 0,
    changesPublished: 0,
    failures: 0,
    lastRunMs: 0,
  };
  private timer: NodeJS.Timeout | undefined;
  /** The periodic loop now running (a new one on each `start`), undefined when stopped. */
  private loop: object | undefined;
  private debounce: NodeJS.Timeout | undefined;
  private readonly pending = new Map<string, string>();
  private readonly lastWeight = new Map<string, number>();
  private chain: Promise<unknown> = Promise.resolve();
  private closed = false;
  private changesHeld = false;
  private readonly now: () => number;
  /** Region NDVI baselines of the last whole-portfolio run, for single-borrower runs. */
  private baselines: RegionBaselines = { ndvi: new Map() };

  constructor(private readonly opts: ScoringServiceOptions) {
    super();
    this.now = opts.now ?? Date.now;
  }

  /**
   * While held, scores are stored but their changes are neither published nor written to the outbox: a demo
   * replaying past days scores a history that is still arriving, and would raise alarms the full days clear.
   */
  holdChanges(held: boolean): void {
    this.changesHeld = held;
  }

  /**
   * Scores the whole portfolio now, then every interval, until `stop`: the periodic job, which one process of a
   * deployment runs. Nothing happens when already started or closed.
   */
  start(): void {
    if (this.closed || this.loop !== undefined) return;
    const loop = {};
    this.loop = loop;
    // The second run comes a minute after the first (or sooner when the interval is shorter): on a fresh
    // install the first run sees an empty store, and single-borrower runs borrow its region baselines.
    let runs = 0;
    const tick = (): void => {
      // A failed run is logged and counted by `run`; the next tick retries.
      void this.scorePortfolio('periodic')
        .catch(() => undefined)
        .finally(() => {
          runs++;
          const next =
            runs === 1 ? Math.min(FIRST_RERUN_MS, this.opts.scoreIntervalMs) : this.opts.scoreIntervalMs;
          if (this.loop === loop) this.timer = setTimeout(tick, next).unref();
        });
    };
    tick();
  }

  /**
   * Stops the periodic job and resolves once the runs already started (their scores and events) are stored;
   * event-triggered scoring goes on. `start` may be called again.
   */
  async stop(): Promise<void> {
    this.loop = undefined;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    await this.chain;
  }

  /** Readings just stored by the ingest: re-scores the borrowers whose devices saw something significant. */
  notifyReadings(readings: readonly Reading[]): void {
    for (const r of readings) {
      if (this.isSignificant(r)) this.schedule(r.borrowerId, 'readings');
    }
  }

  /** A loan or repayment changed (import, API). */
  notifyLoanEvent(borrowerId: string): void {
    this.schedule(borrowerId, 'loan-event');
  }

  private isSignificant(r: Reading): boolean {
    const f = r.fields;
    if (r.kind === 'stake') {
      if (f.tamper === 1) return true;
      const w = f.weightKg;
      if (typeof w !== 'number') return false;
      const prev = this.lastWeight.get(r.deviceId);
      this.lastWeight.set(r.deviceId, w);
      return prev !== undefined && prev > 0 && (prev - w) / prev >= WEIGHT_DROP_TRIGGER;
    }
    if (r.kind === 'helmet') return f.mode === 'inspection';
    return r.kind === 'satellite';
  }

  private schedule(borrowerId: string, trigger: string): void {
    if (this.closed) return;
    if (!this.pending.has(borrowerId)) this.pending.set(borrowerId, trigger);
    if (this.debounce !== undefined) return;
    this.debounce = setTimeout(() => {
      this.debounce = undefined;
      const batch = new Map(this.pending);
      this.pending.clear();
      const triggers = [...new Set(batch.values())].join('+');
      void this.scoreBorrowers([...batch.keys()], triggers).catch(() => undefined);
    }, this.opts.eventDebounceMs).unref();
  }

  scorePortfolio(trigger = 'periodic'): Promise<ScoringRun> {
    return this.serialise(() => this.run(undefined, trigger));
  }

  scoreBorrowers(ids: readonly string[], trigger = 'on-demand'): Promise<ScoringRun> {
    return this.serialise(() => this.run(ids, trigger));
  }

  /**
   * Scores the whole portfolio with the champion as of each past day boundary in `times` (00:00 UTC; point
   * in time: only what was known then) and stores the scores with trigger `backtest`, as history: PD, points
   * and grade without reasons, no events, no shadow scores, and a borrower's latest score stays the live one.
   * A demo that replays past days fills its score history so.
   */
  backtest(times: readonly number[]): Promise<ScoringRun> {
    return this.serialise(async () => {
      const at = this.now();
      const past = [...new Set(times)].filter((t) => t < at).sort((a, b) => a - b);
      const champion = await this.opts.registry.championRecord();
      const empty = {
        trigger: 'backtest',
        at,
        borrowers: 0,
        shadowModels: 0,
        changes: 0,
        featureMs: 0,
        scoreMs: 0,
      };
      if (champion === undefined || past.length === 0) return empty;
      const t0 = Date.now();
      const rows = (
        await extractFeatures({
          telemetryStore: this.opts.telemetryStore,
          portfolio: await loadPortfolio(this.opts.state),
          times: past,
        })
      ).filter((r) => r.status.defaultedBy === undefined && r.status.active);
      const featureMs = Date.now() - t0;
      const t1 = Date.now();
      const model = await this.opts.registry.load(champion.version);
      // PD and grade only: explaining every instant of a large book would hold the scoring queue for minutes.
      await this.opts.state.scores.addScores(
        scoreRecords(model, champion.version, rows, 'backtest', false, false),
        { history: true },
      );
      const result: ScoringRun = {
        ...empty,
        borrowers: new Set(rows.map((r) => r.borrowerId)).size,
        modelVersion: champion.version,
        featureMs,
        scoreMs: Date.now() - t1,
      };
      this.opts.log.info({ ...result, times: past.length, scores: rows.length }, 'backtest scored');
      return result;
    });
  }

  /** One run at a time: a periodic run and an event-triggered one never interleave their writes. */
  private serialise<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.chain.then(fn);
    this.chain = p.catch(() => undefined);
    return p;
  }

  private async run(ids: readonly string[] | undefined, trigger: string): Promise<ScoringRun> {
    const at = this.now();
    const { registry, log } = this.opts;
    try {
      const champion = await registry.championRecord();
      if (champion === undefined) {
        log.warn('no champion model: nothing scored (register one with `riskfuse evaluate --register`)');
        return { trigger, at, borrowers: 0, shadowModels: 0, changes: 0, featureMs: 0, scoreMs: 0 };
      }
      const t0 = Date.now();
      const portfolio = await loadPortfolio(this.opts.state, ids);
      const rows = (
        await extractFeatures({
          telemetryStore: this.opts.telemetryStore,
          portfolio,
          times: [at],
          // A few borrowers are not their region: reuse the last portfolio run's baselines (NDVI anomaly
          // is missing until there is one, never computed against the borrower's own parcels).
          ...(ids === undefined
            ? { onBaselines: (_t, b) => (this.baselines = b) }
            : { regionBaselines: this.baselines }),
        })
      ).filter((r) => r.status.defaultedBy === undefined && r.status.active);
      const featureMs = Date.now() - t0;
      const t1 = Date.now();
      const model = await registry.load(champion.version);
      const previous = new Map(
        (await this.opts.state.scores.latestScores({ borrowerIds: rows.map((r) => r.borrowerId) })).map(
          (s) => [s.borrowerId, s],
        ),
      );
      const records = scoreRecords(model, champion.version, rows, trigger, false);
      const shadow: ScoreRecord[] = [];
      const challengers = await registry.challengerRecords();
      for (const c of challengers) {
        try {
          shadow.push(...scoreRecords(await registry.load(c.version), c.version, rows, trigger, true));
        } catch (err) {
          log.warn({ model: c.version, err: errorMessage(err) }, 'challenger could not score; skipped');
        }
      }
      const changes: ScoreChange[] = [];
      for (const cur of this.changesHeld ? [] : records) {
        // A first score is not a change; after that, a grade move or a PD move beyond the threshold is —
        // whichever model produced the previous official score.
        const prev = previous.get(cur.borrowerId);
        if (prev === undefined) continue;
        const steps = gradeSteps(prev.grade, cur.grade);
        if (steps === 0 && Math.abs(cur.pd - prev.pd) < this.opts.pdChangeThreshold) continue;
        changes.push({
          borrowerId: cur.borrowerId,
          at,
          modelVersion: champion.version,
          previous: { pd: prev.pd, grade: prev.grade, at: prev.at, modelVersion: prev.modelVersion },
          current: cur,
          gradeSteps: steps,
        });
      }
      // The scores and the `score.changed` events that announce them commit together (outbox pattern).
      const { state } = this.opts;
      await state.transaction(async () => {
        await state.scores.addScores([...records, ...shadow]);
        await state.outbox.append(changes.map(scoreChangedEvent));
      });
      const scoreMs = Date.now() - t1;
      for (const change of changes) this.emit('score-changed', change);
      const c = this.counters;
      c.runs++;
      c.borrowersScored += records.length;
      c.shadowScored += shadow.length;
      c.changesPublished += changes.length;
      c.lastRunMs = Date.now() - t0;
      const result: ScoringRun = {
        trigger,
        at,
        borrowers: records.length,
        modelVersion: champion.version,
        shadowModels: challengers.length,
        changes: changes.length,
        featureMs,
        scoreMs,
      };
      log.info(result, 'scored');
      this.emit('run', result);
      return result;
    } catch (err) {
      this.counters.failures++;
      log.error({ err: errorMessage(err), trigger }, 'scoring run failed; the next one retries');
      throw err;
    }
  }

  /** Stops for good: the periodic job and event-triggered scoring; resolves once started runs are stored. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.debounce !== undefined) clearTimeout(this.debounce);
    await this.stop();
  }
}

export function scoreRecords(
  model: RiskModel,
  version: string,
  rows: readonly FeatureRow[],
  trigger: string,
  shadow: boolean,
  /** Reasons, contributions and inputs (the costly part: integrated gradients); champion scores by default. */
  explain = !shadow,
): ScoreRecord[] {
  if (!explain) {
    const pds = model.predict(rows);
    return rows.map((r, i) => {
      const pd = pds[i] as number;
      return {
        borrowerId: r.borrowerId,
        at: r.t,
        modelVersion: version,
        shadow,
        pd,
        score: pointsFor(pd),
        grade: gradeFor(pd),
        reasons: [],
        trigger,
      };
    });
  }
  return model.score(rows).map((s, i) => ({
    borrowerId: s.borrowerId,
    at: s.t,
    modelVersion: version,
    shadow,
    pd: s.pd,
    score: s.score,
    grade: s.grade,
    reasons: s.reasons,
    contributions: s.contributions,
    trigger,
    features: featureValues(rows[i] as FeatureRow),
  }));
}

/** A feature row's values by name, null where missing: what the model saw, stored with its score. */
export function featureValues(row: FeatureRow): Record<string, number | null> {
  const out: Record<string, number | null> = {};
  FEATURE_NAMES.forEach((name, j) => {
    const v = row.values[j];
    out[name] = v === undefined || Number.isNaN(v) ? null : v;
  });
  return out;
}

/** The outbox event for a score change: the new score (PD, grade, reasons) and the previous one. */
export function scoreChangedEvent(c: ScoreChange): PlatformEvent {
  return {
    id: newEventId(),
    type: 'score.changed',
    occurredAt: c.at,
    data: {
      borrowerId: c.borrowerId,
      modelVersion: c.modelVersion,
      pd: c.current.pd,
      score: c.current.score,
      grade: c.current.grade,
      reasons: c.current.reasons.map((r) => ({
        feature: r.feature,
        text: r.text,
        contribution: r.contribution,
      })),
      gradeSteps: c.gradeSteps,
      previous: c.previous,
    },
  };
}
