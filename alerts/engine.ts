import type { DeviceKind, Reading } from '../core/contracts/index.js';
import { newEventId } from '../core/contracts/events.js';
import { errorMessage } from '../core/errors.js';
import { distanceM, pointInPolygon } from '../core/geo.js';
import type { Logger } from '../core/logger.js';
import type { SubjectKind } from '../core/storage/alert-store.js';
import type { CollateralLot, Device, Presence, Site, StateStore } from '../core/storage/state-store.js';
import type { AlertService } from './alert-service.js';
import { Hysteresis, StreamingDetector } from './detector.js';
import { buildRuleSet, type EffectiveRule, type RuleId, type RuleSet } from './rules.js';

/**
 * The rule engine: evaluates the built-in rules as data arrives — readings just stored by the ingest, presence
 * changes, score changes from the scoring service — never by polling a store. Per-device state (rolling
 * medians, hysteresis counters, detectors) lives in memory; alerts and the events announcing them go through
 * the AlertService (one transaction each). The one timer checks the in-memory "last reading" clock of each
 * device seen, for the silence part of device-offline.
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

const CACHE_MS = 60_000;

export interface AlertEngineOptions {
  readonly service: AlertService;
  readonly state: Pick<StateStore, 'getDevice' | 'getSite' | 'getLot' | 'listPresence'>;
  readonly log: Logger;
  readonly rules?: RuleSet;
  /** How often silent devices are looked for (in memory); 0 = never. */
  readonly silenceCheckIntervalMs?: number;
  readonly now?: () => number;
}

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};

export class AlertEngine {
  readonly counters: EngineCounters = {
    readingsEvaluated: 0,
    presenceChanges: 0,
    scoreChanges: 0,
    errors: 0,
    evalMs: 0,
  };
  private rules: RuleSet;
  private readonly devices = new Map<string, DeviceState>();
  private readonly presence = new Map<string, Presence['status']>();
  private readonly cache = new Map<string, { value: unknown; expiresAtMs: number }>();
  private timer: NodeJS.Timeout | undefined;
  private readonly now: () => number;
  private readonly service: AlertService;

  constructor(private readonly opts: AlertEngineOptions) {
    this.service = opts.service;
    this.rules = opts.rules ?? buildRuleSet();
    this.now = opts.now ?? Date.now;
    for (const p of opts.state.listPresence()) this.presence.set(p.deviceId, p.status);
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
      this.timer = setInterval(() => this.checkSilence(), every);
      this.timer.unref();
    }
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }

  // ---- inputs -------------------------------------------------------------------------------------------

  /** Readings just stored (the ingest's `onStored`). Never throws: a rule failure is logged and counted. */
  onReadings(readings: readonly Reading[]): void {
    const t0 = performance.now();
    for (const r of readings) {
      try {
        this.evaluate(r);
      } catch (err) {
        this.counters.errors += 1;
        this.opts.log.error({ err: errorMessage(err), deviceId: r.deviceId }, 'alert rule evaluation failed');
      }
    }
    this.counters.readingsEvaluated += readings.length;
    this.counters.evalMs += performance.now() - t0;
  }

  /** Presence written by the ingest (`onPresence`): device.offline / device.online events and the offline alert. */
  onPresence(items: readonly Presence[]): void {
    for (const p of items) {
      try {
        if (this.presence.get(p.deviceId) === p.status) continue;
        this.presence.set(p.deviceId, p.status);
        this.counters.presenceChanges += 1;
        const device = this.device(p.deviceId);
        const rule = this.rules['device-offline'];
        const r = rule.for(device?.borrowerId);
        const subject = {
          ...(device === undefined ? {} : { borrowerId: device.borrowerId }),
          deviceId: p.deviceId,
        };
        this.service.transaction(() => {
          this.service.appendEvents([
            {
              id: newEventId(),
              type: p.status === 'offline' ? 'device.offline' : 'device.online',
              occurredAt: p.changedAt,
              data: { ...subject, kind: device?.kind ?? null, status: p.status, changedAt: p.changedAt },
            },
          ]);
          if (!r.enabled) return;
          if (p.status === 'offline') {
            this.service.open({
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
            this.service.clear('device-offline', 'device', p.deviceId, p.changedAt, {
              status: p.status,
              changedAt: p.changedAt,
            });
          }
        });
      } catch (err) {
        this.counters.errors += 1;
        this.opts.log.error({ err: errorMessage(err), deviceId: p.deviceId }, 'presence evaluation failed');
      }
    }
  }

  /** A score change (the scoring service's `score-changed`). */
  onScoreChange(c: ScoreChangeInput): void {
    try {
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
          this.service.open({
            ruleId: 'pd-threshold',
            severity: pdr.severity,
            ...subject,
            title: `PD of ${c.borrowerId} rose to ${(c.current.pd * 100).toFixed(1)} % (threshold ${(pdr.params.pdAbove * 100).toFixed(1)} %)`,
            evidence,
            at: c.at,
          });
        } else if (c.current.pd < pdr.params.clearBelow && pd.autoResolve) {
          this.service.clear('pd-threshold', 'borrower', c.borrowerId, c.at, evidence);
        }
      }
      const gd = this.rules['grade-downgrade'];
      const gdr = gd.for(c.borrowerId);
      if (gdr.enabled) {
        if (c.gradeSteps >= gdr.params.minSteps) {
          this.service.open({
            ruleId: 'grade-downgrade',
            severity: gdr.severity,
            ...subject,
            title: `${c.borrowerId} downgraded ${c.previous.grade} → ${c.current.grade}`,
            evidence,
            at: c.at,
          });
        } else if (c.gradeSteps < 0 && gd.autoResolve) {
          const open = this.service.activeAlert('grade-downgrade', 'borrower', c.borrowerId);
          const from = (open?.evidence.previous as { grade?: string } | undefined)?.grade;
          // Grades are letters, A best: back at (or above) the grade before the downgrade clears it.
          if (from === undefined || c.current.grade <= from) {
            this.service.clear('grade-downgrade', 'borrower', c.borrowerId, c.at, evidence);
          }
        }
      }
    } catch (err) {
      this.counters.errors += 1;
      this.opts.log.error(
        { err: errorMessage(err), borrowerId: c.borrowerId },
        'score-change evaluation failed',
      );
    }
  }

  /** Devices whose last reading is older than their kind's silence period (in memory, no store reads). */
  checkSilence(nowMs = this.now()): void {
    const rule = this.rules['device-offline'];
    for (const [deviceId, st] of this.devices) {
      if (st.silenceOpen) continue;
      const device = this.device(deviceId);
      if (device === undefined) continue;
      const r = rule.for(device.borrowerId);
      const silenceMs = this.silenceOf(r.params, device.kind);
      if (!r.enabled || silenceMs <= 0 || nowMs - st.lastSeenMs < silenceMs) continue;
      st.silenceOpen = true;
      this.service.open({
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

  // ---- evaluation ---------------------------------------------------------------------------------------

  private stateOf(deviceId: string): DeviceState {
    let st = this.devices.get(deviceId);
    if (st === undefined) {
      st = { lastSeenMs: 0, silenceOpen: false, battery: false, detectors: new Map() };
      this.devices.set(deviceId, st);
    }
    return st;
  }

  private cached<T>(key: string, load: () => T): T {
    const nowMs = this.now();
    const hit = this.cache.get(key);
    if (hit !== undefined && hit.expiresAtMs > nowMs) return hit.value as T;
    const value = load();
    if (this.cache.size > 200_000) this.cache.clear();
    this.cache.set(key, { value, expiresAtMs: nowMs + CACHE_MS });
    return value;
  }

  private device(id: string): Device | undefined {
    return this.cached(`d:${id}`, () => this.opts.state.getDevice(id));
  }
  private site(id: string): Site | undefined {
    return this.cached(`s:${id}`, () => this.opts.state.getSite(id));
  }
  private lot(id: string): CollateralLot | undefined {
    return this.cached(`l:${id}`, () => this.opts.state.getLot(id));
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
      this.service.open({
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
      this.service.clear(ruleId, subject.kind, subject.id, r.ts, evidence);
    }
  }

  private evaluate(r: Reading): void {
    const st = this.stateOf(r.deviceId);
    st.lastSeenMs = this.now();
    const rules = this.rules;
    if (st.silenceOpen) {
      st.silenceOpen = false;
      if (rules['device-offline'].autoResolve && this.presence.get(r.deviceId) !== 'offline') {
        this.service.clear('device-offline', 'device', r.deviceId, r.ts, { reason: 'reading', ts: r.ts });
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
    const device = this.device(r.deviceId);
    const lot = device?.lotId === undefined ? undefined : this.lot(device.lotId);
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
    const site = this.site(r.siteId);
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
      const active =
        ws.referenceKg !== undefined ||
        this.service.activeAlert('weight-drop', subject.kind, subject.id) !== undefined;
      if (active) {
        const ref =
          ws.referenceKg ??
          Number(
            this.service.activeAlert('weight-drop', subject.kind, subject.id)?.evidence.baselineKg ??
              baseline,
          );
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
    const site = this.site(r.siteId);
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
