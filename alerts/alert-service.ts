import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { newEventId, type EventType, type PlatformEvent } from '../core/contracts/events.js';
import { RiskfuseError } from '../core/errors.js';
import type { Alert, AlertQuery, AlertSeverity, SubjectKind } from '../core/storage/alert-store.js';
import type { StoredEvent } from '../core/storage/event-outbox.js';
import { SqliteAlertStore } from '../core/storage/sqlite-alert-store.js';
import { SqliteEventOutbox } from '../core/storage/sqlite-event-outbox.js';
import type { SqliteStateStore } from '../core/storage/sqlite-state-store.js';

/**
 * Alerts and their lifecycle: open → acknowledged → resolved, with who and a comment. At most one
 * not-resolved alert per rule and subject (the store's unique index; a repeat is a no-op). Every change and
 * the outbox event announcing it (`alert.opened`, `alert.acknowledged`, `alert.resolved`) are written in one
 * state-store transaction, so neither exists without the other.
 */
export interface OpenAlertInput {
  readonly ruleId: string;
  readonly severity: AlertSeverity;
  readonly subjectKind: SubjectKind;
  readonly subjectId: string;
  readonly borrowerId?: string;
  readonly deviceId?: string;
  readonly lotId?: string;
  readonly title: string;
  readonly evidence: Readonly<Record<string, unknown>>;
  readonly at: number;
}

export interface AlertCounters {
  opened: number;
  deduplicated: number;
  acknowledged: number;
  resolved: number;
  autoResolved: number;
  eventsWritten: number;
  openedByRule: Record<string, number>;
}

/** The alert as events and the API show it. */
export function alertView(a: Alert): Record<string, unknown> {
  return { ...a, evidence: { ...a.evidence } };
}

const keyOf = (ruleId: string, kind: string, id: string): string => `${ruleId}\u0000${kind}\u0000${id}`;
export const SYSTEM_ACTOR = 'system';

export class AlertService extends EventEmitter<{ appended: [] }> {
  readonly store: SqliteAlertStore;
  readonly outbox: SqliteEventOutbox;
  readonly counters: AlertCounters = {
    opened: 0,
    deduplicated: 0,
    acknowledged: 0,
    resolved: 0,
    autoResolved: 0,
    eventsWritten: 0,
    openedByRule: {},
  };
  /** Not-resolved alerts by rule and subject: the engine's cheap "is it already open?" check. */
  private readonly active = new Map<string, Alert>();
  private readonly now: () => number;

  constructor(
    readonly state: SqliteStateStore,
    options: { now?: () => number } = {},
  ) {
    super();
    this.setMaxListeners(0);
    this.now = options.now ?? Date.now;
    this.store = new SqliteAlertStore(state);
    this.outbox = new SqliteEventOutbox(state);
    for (const a of this.store.listActive()) this.active.set(keyOf(a.ruleId, a.subjectKind, a.subjectId), a);
  }

  /** The not-resolved alert of a rule and subject (from memory; this process's writes keep it current). */
  activeAlert(ruleId: string, kind: SubjectKind, id: string): Alert | undefined {
    return this.active.get(keyOf(ruleId, kind, id));
  }

  /** Runs `fn` in one state-store transaction; events appended inside commit with it. */
  transaction<T>(fn: () => T): T {
    const out = this.state.transaction(fn);
    return out;
  }

  /** Appends platform events (call inside `transaction` with the change they announce). */
  appendEvents(events: readonly PlatformEvent[]): void {
    this.outbox.append(events);
    this.counters.eventsWritten += events.length;
    if (events.length > 0) queueMicrotask(() => this.emit('appended'));
  }

  /** Opens an alert unless one is already open for its rule and subject; returns the new alert, if any. */
  open(input: OpenAlertInput): Alert | undefined {
    const key = keyOf(input.ruleId, input.subjectKind, input.subjectId);
    if (this.active.has(key)) {
      this.counters.deduplicated += 1;
      return undefined;
    }
    const alert: Alert = {
      id: `alt_${randomBytes(12).toString('hex')}`,
      ruleId: input.ruleId,
      severity: input.severity,
      status: 'open',
      subjectKind: input.subjectKind,
      subjectId: input.subjectId,
      ...(input.borrowerId === undefined ? {} : { borrowerId: input.borrowerId }),
      ...(input.deviceId === undefined ? {} : { deviceId: input.deviceId }),
      ...(input.lotId === undefined ? {} : { lotId: input.lotId }),
      title: input.title,
      evidence: input.evidence,
      openedAt: input.at,
      updatedAt: input.at,
    };
    // Inside a caller's transaction the write may still roll back: then memory must not claim it is open.
    const outer = this.state.db.inTransaction;
    const inserted = this.transaction(() => {
      if (!this.store.insertAlert(alert)) return false;
      this.appendEvents([this.event('alert.opened', alert, input.at)]);
      return true;
    });
    if (!inserted) {
      // Another process opened it: remember it so the next evaluation is a cheap no-op.
      const existing = this.store.findActive(input.ruleId, input.subjectKind, input.subjectId);
      if (existing !== undefined) this.active.set(key, existing);
      this.counters.deduplicated += 1;
      return undefined;
    }
    if (!outer) this.active.set(key, alert);
    this.counters.opened += 1;
    this.counters.openedByRule[alert.ruleId] = (this.counters.openedByRule[alert.ruleId] ?? 0) + 1;
    return alert;
  }

  /** The condition of an open alert cleared: resolves it as `system` (when the rule auto-resolves). */
  clear(
    ruleId: string,
    kind: SubjectKind,
    id: string,
    at: number,
    evidence: Record<string, unknown>,
  ): Alert | undefined {
    const key = keyOf(ruleId, kind, id);
    const current = this.active.get(key) ?? this.store.findActive(ruleId, kind, id);
    if (current === undefined) return undefined;
    const fresh = this.store.getAlert(current.id);
    if (fresh === undefined || fresh.status === 'resolved') {
      this.active.delete(key);
      return undefined;
    }
    const resolved = this.resolveAlert(fresh, SYSTEM_ACTOR, 'condition cleared', at, {
      ...fresh.evidence,
      cleared: evidence,
    });
    this.counters.autoResolved += 1;
    return resolved;
  }

  acknowledge(id: string, by: string, comment: string | undefined, at = this.now()): Alert {
    return this.transaction(() => {
      const a = this.mustGet(id);
      if (a.status !== 'open') {
        throw new RiskfuseError(
          'CONFLICT',
          `alert ${id} is ${a.status}; only an open alert can be acknowledged`,
        );
      }
      const next: Alert = {
        ...a,
        status: 'acknowledged',
        updatedAt: at,
        acknowledgedAt: at,
        acknowledgedBy: by,
        ...(comment === undefined ? {} : { acknowledgeComment: comment }),
      };
      this.store.updateAlert(next);
      this.appendEvents([this.event('alert.acknowledged', next, at)]);
      this.active.delete(keyOf(a.ruleId, a.subjectKind, a.subjectId));
      this.counters.acknowledged += 1;
      return next;
    });
  }

  resolve(id: string, by: string, comment: string | undefined, at = this.now()): Alert {
    return this.transaction(() => {
      const a = this.mustGet(id);
      if (a.status === 'resolved') throw new RiskfuseError('CONFLICT', `alert ${id} is already resolved`);
      return this.resolveAlert(a, by, comment, at);
    });
  }

  private resolveAlert(
    a: Alert,
    by: string,
    comment: string | undefined,
    at: number,
    evidence = a.evidence,
  ): Alert {
    const next: Alert = {
      ...a,
      status: 'resolved',
      evidence,
      updatedAt: at,
      resolvedAt: at,
      resolvedBy: by,
      ...(comment === undefined ? {} : { resolveComment: comment }),
    };
    this.transaction(() => {
      this.store.updateAlert(next);
      this.appendEvents([this.event('alert.resolved', next, at)]);
    });
    this.active.delete(keyOf(a.ruleId, a.subjectKind, a.subjectId));
    this.counters.resolved += 1;
    return next;
  }

  private mustGet(id: string): Alert {
    const a = this.store.getAlert(id);
    if (a === undefined) throw new RiskfuseError('NOT_FOUND', `no alert ${id}`);
    return a;
  }

  get(id: string): Alert | undefined {
    return this.store.getAlert(id);
  }

  list(q: AlertQuery): Alert[] {
    return this.store.queryAlerts(q);
  }

  /** Alerts not yet resolved (open or acknowledged). */
  countActive(): number {
    return this.store.countAlerts();
  }

  /** Alerts not yet resolved per borrower (borrowers with none are absent). */
  countActiveByBorrower(): Map<string, number> {
    return this.store.countActiveByBorrower();
  }

  eventsAfter(seq: number, options: { limit?: number; types?: readonly EventType[] } = {}): StoredEvent[] {
    return this.outbox.after(seq, options);
  }

  private event(type: EventType, a: Alert, at: number): PlatformEvent {
    return { id: newEventId(), type, occurredAt: at, data: { alert: alertView(a) } };
  }
}
