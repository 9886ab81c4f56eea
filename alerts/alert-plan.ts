import type { PlatformEvent } from '../core/contracts/events.js';
import type { SubjectKind } from '../core/state/index.js';
import type { AlertService, OpenAlertInput } from './alert-service.js';
import type { Hold } from './suppressions.js';

/** An alert change a rule decided. */
export type AlertChange =
  | { readonly kind: 'events'; readonly events: readonly PlatformEvent[] }
  | { readonly kind: 'open'; readonly input: OpenAlertInput }
  /** An opening held back (flapping hold, maintenance window, snooze): stored as a suppressed alert. */
  | { readonly kind: 'held'; readonly input: OpenAlertInput; readonly hold: Hold }
  | {
      readonly kind: 'clear';
      readonly ruleId: string;
      readonly subjectKind: SubjectKind;
      readonly subjectId: string;
      readonly at: number;
      readonly evidence: Record<string, unknown>;
    };

const keyOf = (ruleId: string, kind: string, id: string): string => `${ruleId}\u0000${kind}\u0000${id}`;

/**
 * The alert changes one engine job decided, in order, stored together in one transaction once the rules have
 * run. Until then the plan also answers "is it open?" as the job leaves it, so that a later reading of the same
 * batch sees the alert an earlier one opened or cleared (as it did when every change was stored at once).
 */
export class AlertPlan {
  readonly changes: AlertChange[] = [];
  /** Active alerts' evidence by rule and subject, as this plan changes them; `null`: cleared. */
  private readonly active = new Map<string, Readonly<Record<string, unknown>> | null>();

  /**
   * @param holdOf decides whether an opening is held back (flapping hold, maintenance windows, snoozes) and why;
   *   one that is becomes a suppressed alert instead of an alert.
   */
  constructor(
    private readonly service: AlertService,
    private readonly holdOf: (input: OpenAlertInput) => Hold | undefined = () => undefined,
  ) {}

  events(events: readonly PlatformEvent[]): void {
    this.changes.push({ kind: 'events', events });
  }

  open(input: OpenAlertInput): void {
    if (this.activeEvidence(input.ruleId, input.subjectKind, input.subjectId) === undefined) {
      const hold = this.holdOf(input);
      if (hold !== undefined) {
        this.changes.push({ kind: 'held', input, hold });
        return;
      }
      this.active.set(keyOf(input.ruleId, input.subjectKind, input.subjectId), input.evidence);
    }
    this.changes.push({ kind: 'open', input });
  }

  clear(
    ruleId: string,
    subjectKind: SubjectKind,
    subjectId: string,
    at: number,
    evidence: Record<string, unknown>,
  ): void {
    this.active.set(keyOf(ruleId, subjectKind, subjectId), null);
    this.changes.push({ kind: 'clear', ruleId, subjectKind, subjectId, at, evidence });
  }

  /** The evidence of the not-resolved alert of a rule and subject, as this plan leaves it. */
  activeEvidence(
    ruleId: string,
    kind: SubjectKind,
    id: string,
  ): Readonly<Record<string, unknown>> | undefined {
    const key = keyOf(ruleId, kind, id);
    if (this.active.has(key)) return this.active.get(key) ?? undefined;
    return this.service.activeAlert(ruleId, kind, id)?.evidence;
  }

  /** Stores the changes in one transaction, in the order decided (nothing when there are none). */
  async store(): Promise<void> {
    if (this.changes.length === 0) return;
    const service = this.service;
    await service.transaction(async () => {
      for (const c of this.changes) {
        if (c.kind === 'events') await service.appendEvents(c.events);
        else if (c.kind === 'open') await service.open(c.input);
        else if (c.kind === 'held') await service.hold(c.input, c.hold);
        else await service.clear(c.ruleId, c.subjectKind, c.subjectId, c.at, c.evidence);
      }
    });
  }
}
