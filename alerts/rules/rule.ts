import type { DeviceKind, Reading } from '../../core/contracts/index.js';
import type { SubjectKind } from '../../core/state/index.js';
import type { AlertPlan } from '../alert-plan.js';
import type { RegistryCache } from '../registry-cache.js';
import type { EffectiveRule, RuleId, RuleSet } from '../rules.js';

/**
 * What a built-in rule over readings is: the device kinds it reads and one `evaluate` per reading. The engine
 * (alerts/engine.ts) only dispatches: it runs each reading through the rules of its kind, in one job, with the
 * registry rows preloaded and the job's alert plan. A rule keeps its per-device state (hysteresis, baselines,
 * detectors) in the device's memory under its own key; the engine drops it when the rules are reconfigured.
 */
export interface RuleContext {
  readonly rules: RuleSet;
  readonly registry: RegistryCache;
  /** The alert changes this job decides (open, clear; "is it open?" as the job leaves it). */
  readonly plan: AlertPlan;
  /**
   * State a rule keeps across devices, under its own key (ndvi-drought's reference of far-away parcels), dropped
   * with the devices' memory when the rules are reconfigured.
   */
  readonly shared: DeviceMemory;
}

/** One device's rule state, by key (a rule's id, or `id:series`). */
export type DeviceMemory = Map<string, unknown>;

export function remember<T>(mem: DeviceMemory, key: string, init: () => T): T {
  let v = mem.get(key) as T | undefined;
  if (v === undefined) {
    v = init();
    mem.set(key, v);
  }
  return v;
}

export interface ReadingRule {
  readonly id: RuleId;
  readonly kinds: readonly DeviceKind[];
  evaluate(ctx: RuleContext, r: Reading, mem: DeviceMemory): void;
}

export interface Subject {
  readonly kind: SubjectKind;
  readonly id: string;
  readonly lotId?: string;
}

/** The reading as evidence: its time, sequence number and fields. */
export const readingEvidence = (r: Reading): Record<string, unknown> => ({
  ts: r.ts,
  seq: r.seq,
  ...r.fields,
});

/** Opens, or clears when the rule auto-resolves, an alert of `rule` on a subject of reading `r`. */
export function transition(
  ctx: RuleContext,
  decision: 'open' | 'clear' | undefined,
  rule: EffectiveRule,
  severity: EffectiveRule['severity'],
  r: Reading,
  subject: Subject,
  title: string,
  evidence: Record<string, unknown>,
): void {
  if (decision === undefined) return;
  if (decision === 'open') {
    ctx.plan.open({
      ruleId: rule.id,
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
  } else if (rule.autoResolve) {
    ctx.plan.clear(rule.id, subject.kind, subject.id, r.ts, evidence);
  }
}

/** The lot a stake sits on as the subject (its alerts are about the collateral), else the device. */
export function stakeSubject(ctx: RuleContext, r: Reading): Subject {
  const device = ctx.registry.device(r.deviceId);
  const lot = device?.lotId === undefined ? undefined : ctx.registry.lot(device.lotId);
  return lot === undefined ? { kind: 'device', id: r.deviceId } : { kind: 'lot', id: lot.id, lotId: lot.id };
}
