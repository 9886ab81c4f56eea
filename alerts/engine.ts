import { AsyncResource } from 'node:async_hooks';
import type { Reading } from '../core/contracts/index.js';
import { errorMessage, RiskfuseError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { Presence, State } from '../core/state/index.js';
import { AlertPlan } from './alert-plan.js';
import type { AlertService, OpenAlertInput } from './alert-service.js';
import { RegistryCache } from './registry-cache.js';
import { buildRuleSet, type RuleSet } from './rules.js';
import * as deviceOffline from './rules/device-offline.js';
import { READING_RULES } from './rules/index.js';
import type { DeviceMemory, ReadingRule, RuleContext } from './rules/rule.js';
import { onScoreChange } from './rules/score-rules.js';
import type { Hold, SuppressionGate } from './suppressions.js';

/**
 * The rule engine: dispatches what arrives to the built-in rules (each in its own file under rules/) — readings just stored by the ingest, presence
 * changes, score changes from the scoring service — never by polling a store. Per-device state (rolling
 * medians, hysteresis counters, detectors) lives in memory; alerts and the events announcing them go through
 * the AlertService. The one timer checks the in-memory "last reading" clock of each device seen, for the
 * silence part of device-offline.
 *
 * Each input (a batch of readings, of presence changes, a score change, a silence check) is one job, run one at
 * a time in arrival order: the registry rows it needs are read first (one round of reads, cached), the rules
 * then decide synchronously what to open and clear, and those changes are stored in one transaction. Deciding
 * outside the transaction keeps the in-memory state from advancing twice when PostgreSQL re-runs a
 * transaction; one job at a time keeps two batches from both opening the same alert (the store's unique index
 * stays the backstop against other processes).
 */

/** What the engine needs of a score change (structurally the scoring service's `ScoreChange`). */
export interface ScoreChangeInput {
  readonly borrowerId: string;
  readonly at: number;
  readonly modelVersion?: string;
  readonly previous: { readonly pd: number; readonly grade: string };
  readonly current: { readonly pd: number; readonly grade: string; readonly score?: number };
  readonly gradeSteps: number;
}

export interface EngineCounters {
  readingsEvaluated: number;
  /** Readings older than one already evaluated from the same device: stored, not stepped through the rules. */
  readingsLate: number;
  presenceChanges: number;
  scoreChanges: number;
  errors: number;
  /** Wall time spent evaluating, ms (for the per-reading cost). */
  evalMs: number;
  /** Openings held back because the rule resolved on that subject less than flapHoldMs before (recorded as suppressed alerts). */
  flapsHeld: number;
  /** Openings held back by a maintenance window or snooze (recorded as suppressed alerts). */
  suppressed: number;
}

interface DeviceState {
  lastSeenMs: number;
  /** Newest reading time evaluated for this device. */
  lastTs: number;
  silenceOpen: boolean;
  /** The rules' state for this device (hysteresis, baselines, detectors), by rule key. */
  readonly memory: DeviceMemory;
}

export interface AlertEngineOptions {
  readonly service: AlertService;
  readonly state: Pick<State, 'devices' | 'portfolio' | 'presence'>;
  readonly log: Logger;
  readonly rules?: RuleSet;
  /** How often silent devices are looked for (in memory); 0 = never. */
  readonly silenceCheckIntervalMs?: number;
  readonly now?: () => number;
  /**
   * Flapping hold: a rule that resolved on a subject does not open a new alert there for this long, ms; default
   * 6 h. A condition that comes and goes (a seal that opens every few hours, a fix at the fence edge) is one
   * alert in the officer's list, not one per swing; the first stays in the case's timeline. 0 = no hold.
   * Pinned by 'when a condition flaps' in alerts/test/engine.test.ts.
   */
  readonly flapHoldMs?: number;
  /** Maintenance windows and snoozes (alerts/suppressions.ts); none by default. */
  readonly gate?: SuppressionGate;
  /** How long registry rows (devices, lots, sites) are cached, ms; default 60,000 (an evaluation on simulated time raises it). */
  readonly registryCacheMs?: number;
}

export class AlertEngine {
  readonly counters: EngineCounters = {
    readingsEvaluated: 0,
    readingsLate: 0,
    presenceChanges: 0,
    scoreChanges: 0,
    errors: 0,
    evalMs: 0,
    flapsHeld: 0,
    suppressed: 0,
  };
  /** When each rule and subject last resolved automatically (reading time), for the flapping hold. */
  private readonly resolvedAt = new Map<string, number>();
  private rules: RuleSet;
  private readonly devices = new Map<string, DeviceState>();
  /** State a rule keeps across devices (alerts/rules/rule.ts RuleContext.shared). */
  private readonly shared: DeviceMemory = new Map();
  private readonly presence = new Map<string, Presence['status']>();
  private readonly registry: RegistryCache;
  private timer: NodeJS.Timeout | undefined;
  private readonly now: () => number;
  private readonly service: AlertService;
  /** The jobs: each starts when the one before has stored its changes (never rejects). */
  private queue: Promise<void> = Promise.resolve();
  /** The job deciding now (set only while its rules run, synchronously). */
  private ctx: RuleContext | undefined;
  /** The reading rules by device kind, in dispatch order. */
  private readonly byKind = new Map<string, ReadingRule[]>();
  /**
   * The engine's own async context: jobs run in it, not in their caller's, so a job queued from inside a
   * caller's transaction never joins (or mistakes itself for part of) a transaction that has long ended.
   */
  private readonly context = new AsyncResource('AlertEngine');

  constructor(private readonly opts: AlertEngineOptions) {
    this.service = opts.service;
    this.rules = opts.rules ?? buildRuleSet();
    this.now = opts.now ?? Date.now;
    this.registry = new RegistryCache(opts.state, this.now, opts.registryCacheMs);
  }

  /** Reads the stored presence, so that a repeat of a known status is no change (once, before inputs). */
  async load(): Promise<void> {
    for (const p of await this.opts.state.presence.listPresence()) this.presence.set(p.deviceId, p.status);
  }

  get ruleSet(): RuleSet {
    return this.rules;
  }

  /** New rules apply from the next reading; hysteresis and baselines restart with the new parameters. */
  setRules(rules: RuleSet): void {
    this.rules = rules;
    for (const d of this.devices.values()) d.memory.clear();
    this.shared.clear();
  }

  start(): void {
    const every = this.opts.silenceCheckIntervalMs ?? 60_000;
    if (every > 0 && this.timer === undefined) {
      this.timer = setInterval(() => void this.checkSilence(), every);
      this.timer.unref();
    }
  }

  /** Stops the silence timer; resolves once every input handed in so far is evaluated and stored. */
  async stop(): Promise<void> {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    await this.idle();
  }

  /** Resolves once every input handed in so far is evaluated and its alert changes stored (or logged). */
  idle(): Promise<void> {
    return this.queue;
  }

  // ---- inputs -------------------------------------------------------------------------------------------

  /**
   * Readings just stored (the ingest's `onStored`). Resolves once their alert changes are stored; never
   * rejects: a rule failure is logged and counted.
   */
  onReadings(readings: readonly Reading[]): Promise<void> {
    return this.serial({ readings: readings.length }, async () => {
      const t0 = performance.now();
      try {
        await this.registry.preload(
          readings.map((r) => r.deviceId),
          readings.map((r) => r.siteId),
        );
        const plan = this.decide(() => {
          for (const r of readings) {
            try {
              this.evaluate(r);
            } catch (err) {
              this.counters.errors += 1;
              this.opts.log.error(
                { err: errorMessage(err), deviceId: r.deviceId },
                'alert rule evaluation failed',
              );
            }
          }
        });
        await plan.store();
        this.noteResolved(plan);
      } finally {
        this.counters.readingsEvaluated += readings.length;
        this.counters.evalMs += performance.now() - t0;
      }
    });
  }

  /** Presence written by the ingest (`onPresence`): device.offline / device.online events and the offline alert. */
  onPresence(items: readonly Presence[]): Promise<void> {
    return this.serial({ presence: items.length }, async () => {
      await this.registry.preload(items.map((p) => p.deviceId));
      const plan = this.decide((plan) => {
        for (const p of items) {
          // A failure takes back what this item decided (the events and the alert go together).
          const mark = plan.changes.length;
          try {
            this.evaluatePresence(p);
          } catch (err) {
            plan.changes.length = mark;
            this.counters.errors += 1;
            this.opts.log.error(
              { err: errorMessage(err), deviceId: p.deviceId },
              'presence evaluation failed',
            );
          }
        }
      });
      await plan.store();
      this.noteResolved(plan);
    });
  }

  /** A score change (the scoring service's `score-changed`). */
  onScoreChange(c: ScoreChangeInput): Promise<void> {
    return this.serial({ borrowerId: c.borrowerId }, async () => {
      const plan = this.decide(() => {
        try {
          this.evaluateScoreChange(c);
        } catch (err) {
          this.counters.errors += 1;
          this.opts.log.error(
            { err: errorMessage(err), borrowerId: c.borrowerId },
            'score-change evaluation failed',
          );
        }
      });
      await plan.store();
      this.noteResolved(plan);
    });
  }

  /** Devices whose last reading is older than their kind's silence period (the clocks are in memory). */
  checkSilence(nowMs = this.now()): Promise<void> {
    return this.serial({ check: 'silence' }, async () => {
      await this.registry.preload(this.devices.keys());
      const plan = this.decide(() => this.evaluateSilence(nowMs));
      await plan.store();
      this.noteResolved(plan);
    });
  }

  // ---- jobs ---------------------------------------------------------------------------------------------

  /** Queues a job; a failure (a store that is down) is logged and counted, and the next job runs. */
  private serial(context: Record<string, unknown>, job: () => Promise<void>): Promise<void> {
    const run = this.queue.then(() =>
      this.context
        .runInAsyncScope(async () => {
          await this.opts.gate?.prepare();
          await job();
        })
        .catch((err: unknown) => {
          this.counters.errors += 1;
          this.opts.log.error(
            { err: errorMessage(err), ...context },
            'alert evaluation failed; its alert changes are not stored',
          );
        }),
    );
    this.queue = run;
    return run;
  }

  /** Runs the rules of one job (synchronously): the alert changes they decided, to be stored. */
  private decide(run: (plan: AlertPlan) => void): AlertPlan {
    const plan = new AlertPlan(this.service, (input) => this.admit(input));
    this.ctx = { rules: this.rules, registry: this.registry, plan, shared: this.shared };
    try {
      run(plan);
    } finally {
      this.ctx = undefined;
    }
    return plan;
  }

  /**
   * Why an opening is held back, if it is: the flapping hold, else a maintenance window or snooze in force at the
   * alert's time. The plan stores it as a suppressed alert (visible, never silently dropped).
   * Pinned by alerts/test/suppressions.test.ts and 'when a condition flaps' in alerts/test/engine.test.ts.
   */
  private admit(input: OpenAlertInput): Hold | undefined {
    const hold = this.opts.flapHoldMs ?? 6 * 3_600_000;
    const since = this.resolvedAt.get(`${input.ruleId}\u0000${input.subjectKind}\u0000${input.subjectId}`);
    if (hold > 0 && since !== undefined && input.at - since < hold) {
      this.counters.flapsHeld += 1;
      return { cause: 'flapping' };
    }
    const s = this.opts.gate?.holding(input, (deviceId) => this.registry.device(deviceId)?.lotId);
    if (s !== undefined) {
      this.counters.suppressed += 1;
      return { cause: s.kind, suppressionId: s.id };
    }
    return undefined;
  }

  /** Notes the automatic resolutions a stored plan made (for the flapping hold). */
  private noteResolved(plan: AlertPlan): void {
    for (const c of plan.changes) {
      if (c.kind === 'clear')
        this.resolvedAt.set(`${c.ruleId}\u0000${c.subjectKind}\u0000${c.subjectId}`, c.at);
    }
  }

  /** The context of the job deciding now. */
  private current(): RuleContext {
    if (this.ctx === undefined) throw new RiskfuseError('INTERNAL', 'an alert rule ran outside a job');
    return this.ctx;
  }

  // ---- dispatch -----------------------------------------------------------------------------------------

  private evaluatePresence(p: Presence): void {
    if (this.presence.get(p.deviceId) === p.status) return;
    this.presence.set(p.deviceId, p.status);
    this.counters.presenceChanges += 1;
    deviceOffline.onPresence(this.current(), p, this.registry.device(p.deviceId));
  }

  private evaluateScoreChange(c: ScoreChangeInput): void {
    this.counters.scoreChanges += 1;
    onScoreChange(this.current(), c);
  }

  private evaluateSilence(nowMs: number): void {
    const ctx = this.current();
    for (const [deviceId, st] of this.devices) {
      if (st.silenceOpen) continue;
      const device = this.registry.device(deviceId);
      if (device === undefined) continue;
      st.silenceOpen = deviceOffline.onSilence(ctx, device, st.lastSeenMs, nowMs);
    }
  }

  private stateOf(deviceId: string): DeviceState {
    let st = this.devices.get(deviceId);
    if (st === undefined) {
      st = { lastSeenMs: 0, lastTs: Number.NEGATIVE_INFINITY, silenceOpen: false, memory: new Map() };
      this.devices.set(deviceId, st);
    }
    return st;
  }

  private rulesFor(kind: string): readonly ReadingRule[] {
    let rules = this.byKind.get(kind);
    if (rules === undefined) {
      rules = READING_RULES.filter((r) => (r.kinds as readonly string[]).includes(kind));
      this.byKind.set(kind, rules);
    }
    return rules;
  }

  private evaluate(r: Reading): void {
    const st = this.stateOf(r.deviceId);
    st.lastSeenMs = this.now();
    // The rules' windows and hysteresis are steps in time: a reading older than one already evaluated (a
    // device's offline queue arriving after its live readings, a replay; the ingest hands batches over in
    // arrival order, ingest/pipeline.ts writeBatch) would step them backwards, e.g. put pre-removal weights back into
    // the weight-drop median and clear a removal. It is stored, counted and not evaluated.
    // Pinned by 'when a device's older reading arrives after a newer one' in alerts/test/engine.test.ts.
    if (r.ts < st.lastTs) {
      this.counters.readingsLate += 1;
      return;
    }
    st.lastTs = r.ts;
    const ctx = this.current();
    if (st.silenceOpen) {
      st.silenceOpen = false;
      deviceOffline.onSpokeAgain(ctx, r.deviceId, r.ts, this.presence.get(r.deviceId) === 'offline');
    }
    for (const rule of this.rulesFor(r.kind)) rule.evaluate(ctx, r, st.memory);
  }
}
