import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { ScopedStorage } from '../core/scoped-storage.js';
import { newEventId, type EventType, type PlatformEvent } from '../core/contracts/events.js';
import { RiskfuseError } from '../core/errors.js';
import type {
  Alert,
  AlertQuery,
  AlertRepository,
  EventOutbox,
  State,
  StoredEvent,
  SubjectKind,
} from '../core/state/index.js';
import { suppressedAlert, type Hold } from './suppressions.js';

/**
 * Alerts and their lifecycle: open → acknowledged → resolved, with who and a comment. At most one
 * not-resolved alert per rule and subject (the store's unique index; a repeat is a no-op). Every change and
 * the outbox event announcing it (`alert.opened`, `alert.acknowledged`, `alert.resolved`) are written in one
 * state transaction, so neither exists without the other. Acknowledge and resolve are compare-and-set: of two
 * people changing one alert at once, one wins and the other gets a CONFLICT and writes nothing.
 */
/** What a rule fires: the alert's identity and evidence, and when. */
export type OpenAlertInput = Pick<
  Alert,
  | 'ruleId'
  | 'severity'
  | 'subjectKind'
  | 'subjectId'
  | 'borrowerId'
  | 'deviceId'
  | 'lotId'
  | 'title'
  | 'evidence'
> & { readonly at: number };

export interface AlertCounters {
  opened: number;
  deduplicated: number;
  acknowledged: number;
  resolved: number;
  autoResolved: number;
  eventsWritten: number;
  openedByRule: Record<string, number>;
  /** Openings held back and recorded as suppressed alerts, by rule. */
  suppressedByRule: Record<string, number>;
}

/** The alert as events and the API show it. */
export function alertView(a: Alert): Record<string, unknown> {
  return { ...a, evidence: { ...a.evidence } };
}

const keyOf = (ruleId: string, kind: string, id: string): string => `${ruleId}\u0000${kind}\u0000${id}`;
export const SYSTEM_ACTOR = 'system';
/** Re-reads of an alert that another writer changed while the engine was resolving it. */
const CLEAR_ATTEMPTS = 3;

/**
 * What a transaction of this service changed in memory, applied only once it has committed: the active index
 * must never claim an alert that a rollback (or PostgreSQL's re-run of the transaction) took back, nor count
 * what was not stored.
 */
interface Pending {
  /** Active-index changes by key; `null`: no longer active. */
  readonly active: Map<string, Alert | null>;
  /** Events to append at the end of the transaction. */
  readonly events: PlatformEvent[];
  readonly afterCommit: (() => void)[];
}

const nothingPending = (): Pending => ({ active: new Map(), events: [], afterCommit: [] });

export class AlertService extends EventEmitter<{ appended: [] }> {
  readonly store: AlertRepository;
  readonly outbox: EventOutbox;
  readonly counters: AlertCounters = {
    opened: 0,
    deduplicated: 0,
    acknowledged: 0,
    resolved: 0,
    autoResolved: 0,
    eventsWritten: 0,
    openedByRule: {},
    suppressedByRule: {},
  };
  /** Not-resolved alerts by rule and subject: the engine's cheap "is it already open?" check. */
  private readonly active = new Map<string, Alert>();
  private readonly pending = new ScopedStorage<Pending>();
  private readonly now: () => number;
  /** Run inside the transaction that opens an alert (the case service files it into its borrower's case). */
  private readonly openedHooks: ((alert: Alert) => Promise<void>)[] = [];

  constructor(
    readonly state: State,
    options: { now?: () => number } = {},
  ) {
    super();
    this.setMaxListeners(0);
    this.now = options.now ?? Date.now;
    this.store = state.alerts;
    this.outbox = state.outbox;
  }

  /** `hook` runs inside the transaction of every alert this service opens: its writes commit with the alert. */
  onOpened(hook: (alert: Alert) => Promise<void>): void {
    this.openedHooks.push(hook);
  }

  /** Loads the not-resolved alerts into the active index (once, before the engine evaluates anything). */
  async load(): Promise<void> {
    for (const a of await this.store.listActive())
      this.active.set(keyOf(a.ruleId, a.subjectKind, a.subjectId), a);
  }

  /**
   * The not-resolved alert of a rule and subject (from memory; this process's writes keep it current). Inside a
   * transaction of this service it includes that transaction's own changes.
   */
  activeAlert(ruleId: string, kind: SubjectKind, id: string): Alert | undefined {
    const key = keyOf(ruleId, kind, id);
    const pending = this.pending.getStore();
    if (pending?.active.has(key) === true) return pending.active.get(key) ?? undefined;
    return this.active.get(key);
  }

  /**
   * Runs `fn` in one state transaction; events appended inside commit with it. Called inside a caller's
   * transaction (the API's, with its audit entry) it joins it; then an alert opened inside is not put in the
   * active index (the caller may still roll back: the next firing finds it in the store instead).
   */
  async transaction<T>(fn: () => Promise<T>): Promise<T> {
    if (this.pending.getStore() !== undefined) return fn();
    const ours = !this.state.db.inTransaction();
    let pending = nothingPending();
    const out = await this.state.transaction(async () => {
      // PostgreSQL may run `fn` again after a serialization failure: only the last run's changes count.
      pending = nothingPending();
      const result = await this.pending.run(pending, fn);
      // Appended last: on PostgreSQL an append holds the outbox's lock until commit, so this transaction takes
      // it only once its alert rows are written, and never waits for a row lock while others wait for it.
      await this.outbox.append(pending.events);
      return result;
    });
    for (const [key, alert] of pending.active) {
      if (alert === null) this.active.delete(key);
      else if (ours) this.active.set(key, alert);
    }
    for (const f of pending.afterCommit) f();
    return out;
  }

  /** Appends platform events (inside `transaction`, with the change they announce: at its end). */
  async appendEvents(events: readonly PlatformEvent[]): Promise<void> {
    if (events.length === 0) return;
    const pending = this.pending.getStore();
    if (pending === undefined) await this.outbox.append(events);
    else pending.events.push(...events);
    this.afterCommit(() => {
      this.counters.eventsWritten += events.length;
      queueMicrotask(() => this.emit('appended'));
    });
  }

  /** Opens an alert unless one is already open for its rule and subject; resolves the new alert, if any. */
  async open(input: OpenAlertInput): Promise<Alert | undefined> {
    if (this.activeAlert(input.ruleId, input.subjectKind, input.subjectId) !== undefined) {
      this.afterCommit(() => (this.counters.deduplicated += 1));
      return undefined;
    }
    const key = keyOf(input.ruleId, input.subjectKind, input.subjectId);
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
    return this.transaction(async () => {
      if (!(await this.store.insertAlert(alert))) {
        // Another process opened it: remember it so the next evaluation is a cheap no-op.
        const existing = await this.store.findActive(input.ruleId, input.subjectKind, input.subjectId);
        if (existing !== undefined) this.stage(key, existing);
        this.afterCommit(() => (this.counters.deduplicated += 1));
        return undefined;
      }
      await this.appendEvents([this.event('alert.opened', alert, input.at)]);
      for (const hook of this.openedHooks) await hook(alert);
      this.stage(key, alert);
      this.afterCommit(() => {
        this.counters.opened += 1;
        this.counters.openedByRule[alert.ruleId] = (this.counters.openedByRule[alert.ruleId] ?? 0) + 1;
      });
      return alert;
    });
  }

  /**
   * Records an opening the engine held back (flapping hold, maintenance window, snooze) as a suppressed alert,
   * counted on its suppression: visible and audited, never silently dropped (alerts/suppressions.ts).
   */
  async hold(input: OpenAlertInput, hold: Hold): Promise<void> {
    await this.transaction(async () => {
      await this.state.suppressions.recordSuppressed(suppressedAlert(input, hold));
      this.afterCommit(() => {
        this.counters.suppressedByRule[input.ruleId] =
          (this.counters.suppressedByRule[input.ruleId] ?? 0) + 1;
      });
    });
  }

  /** The condition of an open alert cleared: resolves it as `system` (when the rule auto-resolves). */
  async clear(
    ruleId: string,
    kind: SubjectKind,
    id: string,
    at: number,
    evidence: Record<string, unknown>,
  ): Promise<Alert | undefined> {
    const key = keyOf(ruleId, kind, id);
    return this.transaction(async () => {
      const current = this.activeAlert(ruleId, kind, id) ?? (await this.store.findActive(ruleId, kind, id));
      if (current === undefined) return undefined;
      for (let attempt = 0; attempt < CLEAR_ATTEMPTS; attempt++) {
        const fresh = await this.store.getAlert(current.id);
        if (fresh === undefined || fresh.status === 'resolved') {
          this.stage(key, null);
          return undefined;
        }
        const resolved = await this.resolveAlert(fresh, SYSTEM_ACTOR, 'condition cleared', at, {
          ...fresh.evidence,
          cleared: evidence,
        });
        if (resolved !== undefined) {
          this.afterCommit(() => (this.counters.autoResolved += 1));
          return resolved;
        }
        // Acknowledged or resolved by someone meanwhile: look again.
      }
      throw new RiskfuseError('CONFLICT', `alert ${current.id} kept changing while it was being resolved`);
    });
  }

  async acknowledge(id: string, by: string, comment: string | undefined, at = this.now()): Promise<Alert> {
    return this.transaction(async () => {
      const a = await this.mustGet(id);
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
      if (!(await this.store.updateAlert(next, a.status))) throw await this.lostRace(id);
      await this.appendEvents([this.event('alert.acknowledged', next, at)]);
      this.stage(keyOf(a.ruleId, a.subjectKind, a.subjectId), null);
      this.afterCommit(() => (this.counters.acknowledged += 1));
      return next;
    });
  }

  async resolve(id: string, by: string, comment: string | undefined, at = this.now()): Promise<Alert> {
    return this.transaction(async () => {
      const a = await this.mustGet(id);
      if (a.status === 'resolved') throw new RiskfuseError('CONFLICT', `alert ${id} is already resolved`);
      const next = await this.resolveAlert(a, by, comment, at);
      if (next === undefined) throw await this.lostRace(id);
      return next;
    });
  }

  /** Resolves `a` if it is still in the status it was read in (inside a transaction); undefined when not. */
  private async resolveAlert(
    a: Alert,
    by: string,
    comment: string | undefined,
    at: number,
    evidence = a.evidence,
  ): Promise<Alert | undefined> {
    const next: Alert = {
      ...a,
      status: 'resolved',
      evidence,
      updatedAt: at,
      resolvedAt: at,
      resolvedBy: by,
      ...(comment === undefined ? {} : { resolveComment: comment }),
    };
    if (!(await this.store.updateAlert(next, a.status))) return undefined;
    await this.appendEvents([this.event('alert.resolved', next, at)]);
    this.stage(keyOf(a.ruleId, a.subjectKind, a.subjectId), null);
    this.afterCommit(() => (this.counters.resolved += 1));
    return next;
  }

  /** The CONFLICT for the loser of a compare-and-set: the alert changed after this request read it. */
  private async lostRace(id: string): Promise<RiskfuseError> {
    const latest = await this.store.getAlert(id);
    if (latest === undefined) return new RiskfuseError('NOT_FOUND', `no alert ${id}`);
    return new RiskfuseError('CONFLICT', `alert ${id} was ${latest.status} by another request; reload it`, {
      details: { id, status: latest.status, updatedAt: latest.updatedAt },
    });
  }

  private async mustGet(id: string): Promise<Alert> {
    const a = await this.store.getAlert(id);
    if (a === undefined) throw new RiskfuseError('NOT_FOUND', `no alert ${id}`);
    return a;
  }

  /** Records an active-index change of the running transaction (applied at commit), or applies it now. */
  private stage(key: string, alert: Alert | null): void {
    const pending = this.pending.getStore();
    if (pending !== undefined) pending.active.set(key, alert);
    else if (alert === null) this.active.delete(key);
    else this.active.set(key, alert);
  }

  /** Runs `f` once the running transaction of this service has committed (now, outside one). */
  private afterCommit(f: () => void): void {
    const pending = this.pending.getStore();
    if (pending !== undefined) pending.afterCommit.push(f);
    else f();
  }

  get(id: string): Promise<Alert | undefined> {
    return this.store.getAlert(id);
  }

  list(q: AlertQuery): Promise<Alert[]> {
    return this.store.queryAlerts(q);
  }

  /** Alerts not yet resolved (open or acknowledged). */
  countActive(): Promise<number> {
    return this.store.countAlerts();
  }

  /** Alerts not yet resolved per borrower (borrowers with none are absent). */
  countActiveByBorrower(): Promise<Map<string, number>> {
    return this.store.countActiveByBorrower();
  }

  eventsAfter(
    seq: number,
    options: { limit?: number; types?: readonly EventType[] } = {},
  ): Promise<StoredEvent[]> {
    return this.outbox.after(seq, options);
  }

  private event(type: EventType, a: Alert, at: number): PlatformEvent {
    return { id: newEventId(), type, occurredAt: at, data: { alert: alertView(a) } };
  }
}
