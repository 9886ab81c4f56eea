import { AsyncResource } from 'node:async_hooks';
import type { DeviceKind, Reading } from '../core/contracts/index.js';
import { newEventId } from '../core/contracts/events.js';
import { errorMessage, RiskfuseError } from '../core/errors.js';
import { distanceM, pointInPolygon } from '../core/geo.js';
import type { Logger } from '../core/logger.js';
import type { Presence, State, SubjectKind } from '../core/state/index.js';
import { AlertPlan } from './alert-plan.js';
import type { AlertService } from './alert-service.js';
import { Hysteresis, StreamingDetector } from './detector.js';
import { RegistryCache } from './registry-cache.js';
import { buildRuleSet, type EffectiveRule, type RuleId, type RuleSet } from './rules.js';

/**
 * The rule engine: evaluates the built-in rules as data arrives — readings just stored by the ingest, presence
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
}

interface WeightState {
  readonly recent: number[];
  /** Monotonic deque (decreasing medians) for the window max. */
  readonly dq: { ts: number; kg: number }[];
  referenceKg?: number;
}

interface DeviceState {
  lastSeenMs: number;
  /** Newest reading time evaluated for this device. */
  lastTs: number;
  silenceOpen: boolean;
  geofence?: Hysteresis;
  tamper?: Hysteresis;
  battery: boolean;
  inspection?: Hysteresis;
  weight?: WeightState;
  readonly detectors: Map<string, { det: StreamingDetector; hyst: Hysteresis }>;
}

/** The device's streaming detector and its hysteresis for one series, created on first use. */
function detectorOf(
  st: DeviceState,
  key: string,
  params: ConstructorParameters<typeof StreamingDetector>[0] & {
    persistReadings: number;
    clearReadings: number;
  },
): { det: StreamingDetector; hyst: Hysteresis } {
  let d = st.detectors.get(key);
  if (d === undefined) {
    d = {
      det: new StreamingDetector(params),
      hyst: new Hysteresis(params.persistReadings, params.clearReadings),
    };
    st.detectors.set(key, d);
  }
  return d;
}

export interface AlertEngineOptions {
  readonly service: AlertService;
  readonly state: Pick<State, 'devices' | 'portfolio' | 'presence'>;
  readonly log: Logger;
  readonly rules?: RuleSet;
  /** How often silent devices are looked for (in memory); 0 = never. */
  readonly silenceCheckIntervalMs?: number;
  readonly now?: () => number;
  /** How long registry rows (devices, lots, sites) are cached, ms; default 60,000 (an evaluation on simulated time raises it). */
  readonly registryCacheMs?: number;
}

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};

export class AlertEngine {
  readonly counters: EngineCounters = {
    readingsEvaluated: 0,
    readingsLate: 0,
    presenceChanges: 0,
    scoreChanges: 0,
    errors: 0,
    evalMs: 0,
  };
  private rules: RuleSet;
  private readonly devices = new Map<string, DeviceState>();
  private readonly presence = new Map<string, Presence['status']>();
  private readonly registry: RegistryCache;
  private timer: NodeJS.Timeout | undefined;
  private readonly now: () => number;
  private readonly service: AlertService;
  /** The jobs: each starts when the one before has stored its changes (never rejects). */
  private queue: Promise<void> = Promise.resolve();
  /** The job deciding now (set only while its rules run, synchronously). */
  private plan: AlertPlan | undefined;
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
    for (const d of this.devices.values()) {
      delete d.geofence;
      delete d.tamper;
      delete d.inspection;
      delete d.weight;
      d.detectors.clear();
    }
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
    });
  }

  /** Devices whose last reading is older than their kind's silence period (the clocks are in memory). */
  checkSilence(nowMs = this.now()): Promise<void> {
    return this.serial({ check: 'silence' }, async () => {
      await this.registry.preload(this.devices.keys());
      await this.decide(() => this.evaluateSilence(nowMs)).store();
    });
  }

  // ---- jobs ---------------------------------------------------------------------------------------------

  /** Queues a job; a failure (a store that is down) is logged and counted, and the next job runs. */
  private serial(context: Record<string, unknown>, job: () => Promise<void>): Promise<void> {
    const run = this.queue.then(() =>
      this.context.runInAsyncScope(job).catch((err: unknown) => {
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
    const plan = new AlertPlan(this.service);
    this.plan = plan;
    try {
      run(plan);
    } finally {
      this.plan = undefined;
    }
    return plan;
  }

  /** The plan of the job deciding now. */
  private planned(): AlertPlan {
    if (this.plan === undefined) throw new RiskfuseError('INTERNAL', 'an alert rule ran outside a job');
    return this.plan;
  }

  // ---- evaluation ---------------------------------------------------------------------------------------

  private evaluatePresence(p: Presence): void {
    if (this.presence.get(p.deviceId) === p.status) return;
    this.presence.set(p.deviceId, p.status);
    this.counters.presenceChanges += 1;
    const device = this.registry.device(p.deviceId);
    const rule = this.rules['device-offline'];
    const r = rule.for(device?.borrowerId);
    const subject = {
      ...(device === undefined ? {} : { borrowerId: device.borrowerId }),
      deviceId: p.deviceId,
    };
    this.planned().events([
      {
        id: newEventId(),
        type: p.status === 'offline' ? 'device.offline' : 'device.online',
        occurredAt: p.changedAt,
        data: { ...subject, kind: device?.kind ?? null, status: p.status, changedAt: p.changedAt },
      },
    ]);
    if (!r.enabled) return;
    if (p.status === 'offline') {
      this.planned().open({
        ruleId: 'device-offline',
        severity: r.severity,
        subjectKind: 'device',
        subjectId: p.deviceId,
        ...subject,
        title: `device ${p.deviceId} went offline`,
        evidence: { reason: 'presence', status: p.status, changedAt: p.changedAt },
        at: p.changedAt,
      });
    } else if (rule.autoResolve) {
      this.planned().clear('device-offline', 'device', p.deviceId, p.changedAt, {
        status: p.status,
        changedAt: p.changedAt,
      });
    }
  }

  private evaluateScoreChange(c: ScoreChangeInput): void {
    this.counters.scoreChanges += 1;
    const evidence = {
      borrowerId: c.borrowerId,
      at: c.at,
      ...(c.modelVersion === undefined ? {} : { modelVersion: c.modelVersion }),
      pd: c.current.pd,
      grade: c.current.grade,
      previous: { pd: c.previous.pd, grade: c.previous.grade },
      gradeSteps: c.gradeSteps,
    };
    const subject = { subjectKind: 'borrower' as const, subjectId: c.borrowerId, borrowerId: c.borrowerId };
    const pd = this.rules['pd-threshold'];
    const pdr = pd.for(c.borrowerId);
    if (pdr.enabled) {
      if (c.current.pd >= pdr.params.pdAbove && c.previous.pd < pdr.params.pdAbove) {
        this.planned().open({
          ruleId: 'pd-threshold',
          severity: pdr.severity,
          ...subject,
          title: `PD of ${c.borrowerId} rose to ${(c.current.pd * 100).toFixed(1)} % (threshold ${(pdr.params.pdAbove * 100).toFixed(1)} %)`,
          evidence,
          at: c.at,
        });
      } else if (c.current.pd < pdr.params.clearBelow && pd.autoResolve) {
        this.planned().clear('pd-threshold', 'borrower', c.borrowerId, c.at, evidence);
      }
    }
    const gd = this.rules['grade-downgrade'];
    const gdr = gd.for(c.borrowerId);
    if (gdr.enabled) {
      if (c.gradeSteps >= gdr.params.minSteps) {
        this.planned().open({
          ruleId: 'grade-downgrade',
          severity: gdr.severity,
          ...subject,
          title: `${c.borrowerId} downgraded ${c.previous.grade} → ${c.current.grade}`,
          evidence,
          at: c.at,
        });
      } else if (c.gradeSteps < 0 && gd.autoResolve) {
        const active = this.planned().activeEvidence('grade-downgrade', 'borrower', c.borrowerId);
        const from = (active?.previous as { grade?: string } | undefined)?.grade;
        // Grades are letters, A best: back at (or above) the grade before the downgrade clears it.
        if (from === undefined || c.current.grade <= from) {
          this.planned().clear('grade-downgrade', 'borrower', c.borrowerId, c.at, evidence);
        }
      }
    }
  }

  private evaluateSilence(nowMs: number): void {
    const rule = this.rules['device-offline'];
    for (const [deviceId, st] of this.devices) {
      if (st.silenceOpen) continue;
      const device = this.registry.device(deviceId);
      if (device === undefined) continue;
      const r = rule.for(device.borrowerId);
      const silenceMs = this.silenceOf(r.params, device.kind);
      if (!r.enabled || silenceMs <= 0 || nowMs - st.lastSeenMs < silenceMs) continue;
      st.silenceOpen = true;
      this.planned().open({
        ruleId: 'device-offline',
        severity: r.severity,
        subjectKind: 'device',
        subjectId: deviceId,
        borrowerId: device.borrowerId,
        deviceId,
        title: `device ${deviceId} sent nothing for ${Math.round((nowMs - st.lastSeenMs) / 60_000)} min`,
        evidence: { reason: 'silence', lastReadingAt: st.lastSeenMs, silenceMs },
        at: nowMs,
      });
    }
  }

  private silenceOf(p: EffectiveRule<'device-offline'>['params'], kind: DeviceKind): number {
    return kind === 'stake' ? p.silenceStakeMs : kind === 'helmet' ? p.silenceHelmetMs : p.silenceSatelliteMs;
  }

  private stateOf(deviceId: string): DeviceState {
    let st = this.devices.get(deviceId);
    if (st === undefined) {
      st = {
        lastSeenMs: 0,
        lastTs: Number.NEGATIVE_INFINITY,
        silenceOpen: false,
        battery: false,
        detectors: new Map(),
      };
      this.devices.set(deviceId, st);
    }
    return st;
  }

  /** Opens or clears (when the rule auto-resolves) an alert of `ruleId` on a subject. */
  private transition(
    decision: 'open' | 'clear' | undefined,
    ruleId: RuleId,
    severity: EffectiveRule['severity'],
    r: Reading,
    subject: { kind: SubjectKind; id: string; lotId?: string },
    title: string,
    evidence: Record<string, unknown>,
  ): void {
    if (decision === undefined) return;
    if (decision === 'open') {
      this.planned().open({
        ruleId,
        severity,
        subjectKind: subject.kind,
        subjectId: subject.id,
        borrowerId: r.borrowerId,
        deviceId: r.deviceId,
        ...(subject.lotId === undefined ? {} : { lotId: subject.lotId }),
        title,
        evidence,
        at: r.ts,
      });
    } else if (this.rules[ruleId].autoResolve) {
      this.planned().clear(ruleId, subject.kind, subject.id, r.ts, evidence);
    }
  }

  private evaluate(r: Reading): void {
    const st = this.stateOf(r.deviceId);
    st.lastSeenMs = this.now();
    // The rules' windows and hysteresis are steps in time: a reading older than one already evaluated (the
    // ingest writes batches concurrently and hands them over as each commits; a device's offline queue
    // arrives after its live readings) would step them backwards, e.g. put pre-removal weights back into
    // the weight-drop median and clear a removal. It is stored, counted and not evaluated.
    // Pinned by 'when a device's older reading arrives after a newer one' in alerts/test/engine.test.ts.
    if (r.ts < st.lastTs) {
      this.counters.readingsLate += 1;
      return;
    }
    st.lastTs = r.ts;
    const rules = this.rules;
    if (st.silenceOpen) {
      st.silenceOpen = false;
      if (rules['device-offline'].autoResolve && this.presence.get(r.deviceId) !== 'offline') {
        this.planned().clear('device-offline', 'device', r.deviceId, r.ts, { reason: 'reading', ts: r.ts });
      }
    }
    const f = r.fields;
    const reading = { ts: r.ts, seq: r.seq, ...f };
    const deviceSubject = { kind: 'device' as const, id: r.deviceId };

    const battery = f.batteryPct;
    if (typeof battery === 'number') {
      const b = rules['battery-low'].for(r.borrowerId);
      if (b.enabled) {
        const decision =
          !st.battery && battery < b.params.belowPct
            ? 'open'
            : st.battery && battery > b.params.clearAbovePct
              ? 'clear'
              : undefined;
        if (decision !== undefined) st.battery = decision === 'open';
        this.transition(
          decision,
          'battery-low',
          b.severity,
          r,
          deviceSubject,
          `battery of ${r.deviceId} at ${battery.toFixed(0)} %`,
          { reading },
        );
      }
    }

    if (r.kind === 'stake') this.evaluateStake(r, st, reading);
    else if (r.kind === 'helmet') this.evaluateHelmet(r, st, reading);
    else this.evaluateSatellite(r, st, reading);
    this.evaluateAnomaly(r, st, reading);
  }

  private evaluateStake(r: Reading, st: DeviceState, reading: Record<string, unknown>): void {
    const f = r.fields;
    const rules = this.rules;
    const device = this.registry.device(r.deviceId);
    const lot = device?.lotId === undefined ? undefined : this.registry.lot(device.lotId);
    const subject =
      lot === undefined
        ? { kind: 'device' as const, id: r.deviceId }
        : { kind: 'lot' as const, id: lot.id, lotId: lot.id };

    const t = rules.tamper.for(r.borrowerId);
    if (t.enabled && typeof f.tamper === 'number') {
      st.tamper ??= new Hysteresis(1, t.params.closedToClear);
      this.transition(
        st.tamper.step(f.tamper === 1),
        'tamper',
        t.severity,
        r,
        { kind: 'device', id: r.deviceId },
        `tamper switch open on ${r.deviceId}`,
        {
          reading,
        },
      );
    }

    const g = rules.geofence.for(r.borrowerId);
    const site = this.registry.site(r.siteId);
    const acc = f.gpsAccuracyM;
    if (
      g.enabled &&
      site !== undefined &&
      site.geofence.length >= 3 &&
      typeof f.lat === 'number' &&
      typeof f.lon === 'number' &&
      (typeof acc !== 'number' || acc <= g.params.maxAccuracyM)
    ) {
      st.geofence ??= new Hysteresis(g.params.outsideToOpen, g.params.insideToClear);
      const outside = !pointInPolygon([f.lat, f.lon], site.geofence);
      const d = st.geofence.step(outside);
      this.transition(
        d,
        'geofence',
        g.severity,
        r,
        subject,
        `${subject.kind} ${subject.id} outside site ${site.id}`,
        {
          reading,
          siteId: site.id,
          distanceFromSiteM: Math.round(distanceM([f.lat, f.lon], [site.lat, site.lon])),
        },
      );
    }

    const w = rules['weight-drop'].for(r.borrowerId);
    if (w.enabled && typeof f.weightKg === 'number') {
      const p = w.params;
      const ws = (st.weight ??= { recent: [], dq: [] });
      ws.recent.push(f.weightKg);
      if (ws.recent.length > p.medianOfReadings) ws.recent.shift();
      if (ws.recent.length < p.medianOfReadings) return;
      const m = median(ws.recent);
      while (ws.dq.length > 0 && (ws.dq.at(-1)?.kg ?? Infinity) <= m) ws.dq.pop();
      ws.dq.push({ ts: r.ts, kg: m });
      while (ws.dq.length > 1 && (ws.dq[0]?.ts ?? 0) < r.ts - p.windowMs) ws.dq.shift();
      const baseline = ws.dq[0]?.kg ?? m;
      const denom = Math.max(lot?.pledgedWeightKg ?? 0, baseline, 1e-9);
      const active = this.planned().activeEvidence('weight-drop', subject.kind, subject.id);
      if (ws.referenceKg !== undefined || active !== undefined) {
        const ref = ws.referenceKg ?? Number(active?.baselineKg ?? baseline);
        ws.referenceKg = ref;
        if (m >= ref - (p.restorePct / 100) * Math.max(lot?.pledgedWeightKg ?? 0, ref)) {
          delete ws.referenceKg;
          this.transition('clear', 'weight-drop', w.severity, r, subject, '', { reading, medianKg: m });
        }
      } else if (((baseline - m) / denom) * 100 >= p.dropPct) {
        ws.referenceKg = baseline;
        this.transition(
          'open',
          'weight-drop',
          w.severity,
          r,
          subject,
          `${subject.kind} ${subject.id} weight down ${(((baseline - m) / baseline) * 100).toFixed(0)} % (${Math.round(baseline)} → ${Math.round(m)} kg)`,
          {
            baselineKg: baseline,
            medianKg: m,
            dropPctOfBasis: ((baseline - m) / denom) * 100,
            ...(lot === undefined ? {} : { pledgedWeightKg: lot.pledgedWeightKg }),
            windowMs: p.windowMs,
            recentWeightsKg: [...ws.recent],
            reading,
          },
        );
      }
    }
  }

  private evaluateHelmet(r: Reading, st: DeviceState, reading: Record<string, unknown>): void {
    const f = r.fields;
    if (!r.deviceId.endsWith('-insp') || f.mode !== 'inspection') return;
    if (typeof f.lat !== 'number' || typeof f.lon !== 'number') return;
    const i = this.rules['inspection-offsite'].for(r.borrowerId);
    const site = this.registry.site(r.siteId);
    if (!i.enabled || site === undefined) return;
    const onSite =
      (site.geofence.length >= 3 && pointInPolygon([f.lat, f.lon], site.geofence)) ||
      distanceM([f.lat, f.lon], [site.lat, site.lon]) <= i.params.toleranceM;
    st.inspection ??= new Hysteresis(i.params.outsideToOpen, i.params.insideToClear);
    const distance = Math.round(distanceM([f.lat, f.lon], [site.lat, site.lon]));
    this.transition(
      st.inspection.step(!onSite),
      'inspection-offsite',
      i.severity,
      r,
      { kind: 'device', id: r.deviceId },
      `inspection ${String(f.inspectionId ?? '')} by ${r.deviceId} ${(distance / 1000).toFixed(1)} km from site ${site.id}`,
      { reading, siteId: site.id, distanceFromSiteM: distance, inspectionId: f.inspectionId ?? null },
    );
  }

  private evaluateSatellite(r: Reading, st: DeviceState, reading: Record<string, unknown>): void {
    const s = this.rules['satellite-anomaly'].for(r.borrowerId);
    if (!s.enabled) return;
    const cloud = r.fields.cloudPct;
    if (typeof cloud === 'number' && cloud > s.params.maxCloudPct) return;
    for (const field of ['ndvi', 'activityIndex'] as const) {
      const x = r.fields[field];
      if (typeof x !== 'number') continue;
      const key = `sat:${field}`;
      const d = detectorOf(st, key, s.params);
      const step = d.det.step(r.ts, x);
      this.transition(
        d.hyst.step(step.flagged),
        'satellite-anomaly',
        s.severity,
        r,
        { kind: 'device', id: r.deviceId },
        `${field} of ${r.deviceId} at ${x.toFixed(2)}, expected ${step.expected.toFixed(2)}`,
        { reading, field, value: x, expected: step.expected, z: step.z },
      );
    }
  }

  private evaluateAnomaly(r: Reading, st: DeviceState, reading: Record<string, unknown>): void {
    const a = this.rules.anomaly.for(r.borrowerId);
    if (!a.enabled) return;
    for (const s of a.params.series) {
      if (s.kind !== r.kind) continue;
      const x = r.fields[s.field];
      if (typeof x !== 'number') continue;
      const key = `any:${s.field}`;
      const d = detectorOf(st, key, a.params);
      const step = d.det.step(r.ts, x);
      this.transition(
        d.hyst.step(step.flagged),
        'anomaly',
        a.severity,
        r,
        { kind: 'device', id: r.deviceId },
        `${s.field} of ${r.deviceId} anomalous: ${x.toFixed(2)}, expected ${step.expected.toFixed(2)}`,
        { reading, field: s.field, value: x, expected: step.expected, z: step.z },
      );
    }
  }
}
