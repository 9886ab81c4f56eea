import { EventEmitter } from 'node:events';
import { randomBytes } from 'node:crypto';
import { newEventId, type PlatformEvent, type Reading } from '../../core/contracts/index.js';
import { errorMessage } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import type { CreditExposure, Presence, State } from '../../core/state/index.js';
import type { TelemetryStore } from '../../core/storage/telemetry-store.js';
import { checkBorrowerCap, checkCoverage, type PolicyViolation } from '../policy/checks.js';
import type { PolicyStore } from '../policy/policy-store.js';
import { borrowerCredit, type BorrowerCredit, type CreditParams } from './borrower-credit.js';
import { LotObservations, type PledgedLot } from './lot-observations.js';

/**
 * Live credit figures: each borrower's EAD, claimed and verified coverage, LGD and EL, recomputed when its
 * stakes' readings or presence move (debounced, from the in-memory lot observations), when its grade changes,
 * and for everyone every `refreshIntervalMs`. Each borrower's latest figures go to credit_exposures.
 *
 * The policy is checked on every recompute (minimum verified coverage of a secured line, the borrower cap);
 * a violation that was not there before commits, with the new figures, a `policy.breached` event and — through
 * `onBreach`, in the same transaction — the alert the alerts component opens; a coverage breach also opens a
 * limit review (`review.opened`). When the violations are gone, `onCleared` lets the alert resolve.
 * Pinned by risk/test/credit/credit-monitor.test.ts and api/test/credit-applications.test.ts.
 */
export interface BreachChange {
  readonly borrowerId: string;
  readonly at: number;
  readonly violations: readonly PolicyViolation[];
  readonly exposure: CreditExposure;
}

export interface CreditMonitorOptions {
  readonly state: State;
  readonly telemetry: TelemetryStore;
  readonly params: CreditParams;
  readonly policies: PolicyStore;
  readonly log: Logger;
  readonly debounceMs: number;
  readonly refreshIntervalMs: number;
  readonly tamperHoldMs: number;
  /**
   * Re-read every stake's latest state from the telemetry store at each periodic refresh. For a process that
   * is not handed the ingest's stored readings (`riskfuse risk` in a split deployment): its figures then
   * follow the readings within `refreshIntervalMs` instead of within `debounceMs`.
   */
  readonly reloadObservations?: boolean;
  readonly now?: () => number;
  /** Called inside the transaction that records a new breach (open the alert there). */
  readonly onBreach?: (change: BreachChange) => Promise<void>;
  /** Called inside the transaction that records that a borrower's breaches are gone. */
  readonly onCleared?: (change: BreachChange) => Promise<void>;
}

/** Borrowers recomputed per statement batch (JSON id lists stay small). */
const CHUNK = 1_000;

export function exposureOf(c: BorrowerCredit, breaches: readonly PolicyViolation[]): CreditExposure {
  return {
    borrowerId: c.borrowerId,
    currency: c.currency,
    outstanding: c.outstanding,
    undrawn: c.undrawn,
    ead: c.ead,
    claimedValue: c.claimedValue,
    verifiedValue: c.verifiedValue,
    ...(c.claimedCoverage === undefined ? {} : { claimedCoverage: c.claimedCoverage }),
    ...(c.verifiedCoverage === undefined ? {} : { verifiedCoverage: c.verifiedCoverage }),
    lgd: c.lgd,
    ...(c.pd === undefined ? {} : { pd: c.pd }),
    ...(c.el === undefined ? {} : { el: c.el }),
    breaches: breaches.map((b) => ({ ...b })),
    lots: c.lots.map((l) => ({ ...l })),
    computedAt: c.computedAt,
  };
}

export class CreditMonitor extends EventEmitter<{ refreshed: [CreditExposure[]] }> {
  readonly observations = new LotObservations();
  readonly counters = {
    refreshes: 0,
    borrowersRecomputed: 0,
    breachesOpened: 0,
    reviewsOpened: 0,
    failures: 0,
  };
  private lotsByBorrower = new Map<string, PledgedLot[]>();
  private readonly dirty = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private interval: NodeJS.Timeout | undefined;
  private pending: Promise<unknown> = Promise.resolve();
  private readonly now: () => number;
  private startedFlag = false;

  constructor(private readonly o: CreditMonitorOptions) {
    super();
    this.setMaxListeners(0);
    this.now = o.now ?? Date.now;
  }

  /**
   * Loads the registry and the lots' latest observations, recomputes everyone, then refreshes periodically.
   * After `stop()` it may start again (an elected job: core/state/leader.ts `runElected`).
   */
  async start(): Promise<void> {
    this.startedFlag = true;
    await this.loadRegistry(false);
    await this.observations.load(this.o.telemetry, this.o.state, this.now(), this.o.tamperHoldMs);
    await this.refresh();
    if (this.interval !== undefined) clearInterval(this.interval);
    this.interval = setInterval(() => {
      void this.serial(async () => {
        await this.loadRegistry();
        if (this.o.reloadObservations === true)
          await this.observations.load(this.o.telemetry, this.o.state, this.now(), this.o.tamperHoldMs);
        await this.refresh();
      });
    }, this.o.refreshIntervalMs);
    this.interval.unref();
  }

  /**
   * Whether start() was called and stop() not since — true from the first moment of start(), so that a process
   * feeding the monitor in-process readings only while it leads (`riskfuse start`) misses none applied during
   * its start-up.
   */
  get started(): boolean {
    return this.startedFlag;
  }

  /** Whether the periodic refresh runs (started and not stopped). */
  get running(): boolean {
    return this.interval !== undefined;
  }

  /**
   * Lots, sites or stakes registered since (a world provisioned after start, an import): loaded and everyone
   * recomputed now rather than at the next periodic refresh. Pinned by risk/test/credit/credit-monitor.test.ts.
   */
  async reload(): Promise<void> {
    await this.serial(async () => {
      await this.loadRegistry();
      await this.refresh();
    });
  }

  /**
   * Which lot each stake sits on, and the lot's site (its geofence). Stakes not seen before get their latest
   * state loaded from the store (`start()` loads everyone's itself and passes false) — also when none was
   * known before: a monitor started on an empty registry would otherwise never load its stakes' readings.
   */
  async loadRegistry(loadAdded = true): Promise<void> {
    const { portfolio, devices } = this.o.state;
    const [lots, sites, stakes] = await Promise.all([
      portfolio.listLots(),
      portfolio.listSites(),
      devices.listDevices({ kind: 'stake' }),
    ]);
    const siteById = new Map(sites.map((s) => [s.id, s]));
    const byBorrower = new Map<string, PledgedLot[]>();
    const pledgedById = new Map<string, PledgedLot>();
    for (const lot of lots) {
      const site = siteById.get(lot.siteId);
      if (site === undefined) continue;
      const pledged = { lot, site };
      pledgedById.set(lot.id, pledged);
      const list = byBorrower.get(lot.borrowerId) ?? [];
      list.push(pledged);
      byBorrower.set(lot.borrowerId, list);
    }
    const known = new Set(this.observations.stakeIds);
    const registered = stakes
      .filter((d) => d.lotId !== undefined && d.status !== 'revoked' && pledgedById.has(d.lotId))
      .map((d) => ({ deviceId: d.id, pledged: pledgedById.get(d.lotId as string) as PledgedLot }));
    this.observations.register(registered);
    const added = registered.map((r) => r.deviceId).filter((id) => !known.has(id));
    if (loadAdded && added.length > 0)
      await this.observations.load(this.o.telemetry, this.o.state, this.now(), this.o.tamperHoldMs, added);
    this.lotsByBorrower = byBorrower;
  }

  /** Stored readings (the ingest's onStored): the borrowers whose lots they move are recomputed shortly. */
  onReadings(readings: readonly Reading[]): void {
    this.markDirty(this.observations.applyReadings(readings));
  }

  onPresence(changes: readonly Presence[]): void {
    this.markDirty(this.observations.applyPresence(changes));
  }

  /** A PD moved: the borrower's EL moves with it; a worse grade opens a limit review (`GRADE_DOWN`). */
  onScoreChange(change: {
    borrowerId: string;
    at: number;
    gradeSteps: number;
    previous: { grade: string; pd: number };
    current: { grade: string; pd: number };
  }): void {
    this.markDirty([change.borrowerId]);
    if (change.gradeSteps <= 0) return;
    void this.serial(() =>
      this.openReview(change.borrowerId, 'GRADE_DOWN', change.at, {
        previousGrade: change.previous.grade,
        grade: change.current.grade,
        previousPd: change.previous.pd,
        pd: change.current.pd,
      }),
    );
  }

  /** Opens a limit review with its `review.opened` event, unless the borrower has one open. */
  async openReview(
    borrowerId: string,
    reason: string,
    at: number,
    evidence: Record<string, unknown>,
  ): Promise<boolean> {
    const review = {
      id: `rev_${randomBytes(12).toString('hex')}`,
      borrowerId,
      reason,
      evidence,
      status: 'open' as const,
      openedAt: at,
    };
    const opened = await this.o.state.transaction(async () => {
      if (!(await this.o.state.credit.openReview(review))) return false;
      await this.o.state.outbox.append([
        { id: newEventId(), type: 'review.opened', occurredAt: at, data: { ...review } },
      ]);
      return true;
    });
    if (opened) this.counters.reviewsOpened += 1;
    return opened;
  }

  private markDirty(ids: Iterable<string>): void {
    for (const id of ids) this.dirty.add(id);
    if (this.dirty.size === 0 || this.timer !== undefined) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      const batch = [...this.dirty];
      this.dirty.clear();
      void this.serial(() => this.refresh(batch));
    }, this.o.debounceMs);
    this.timer.unref();
  }

  /** Runs refreshes one at a time; a failure is logged and counted, never thrown at the caller. */
  private serial(fn: () => Promise<unknown>): Promise<unknown> {
    this.pending = this.pending.then(fn).catch((err: unknown) => {
      this.counters.failures += 1;
      this.o.log.error({ err: errorMessage(err) }, 'credit exposure refresh failed');
    });
    return this.pending;
  }

  /** Resolves once the pending debounced refresh (if any) and the running one are done. */
  async settled(): Promise<void> {
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
      const batch = [...this.dirty];
      this.dirty.clear();
      void this.serial(() => this.refresh(batch));
    }
    await this.pending;
  }

  /** The figures of these borrowers (all with loans or lots when omitted), computed now, not stored. */
  async compute(
    borrowerIds?: readonly string[],
  ): Promise<{ credit: BorrowerCredit; breaches: PolicyViolation[] }[]> {
    const { state } = this.o;
    const nowMs = this.now();
    const policy = (await this.o.policies.current()).policy;
    const exposures = await state.loans.borrowerExposures(borrowerIds);
    const ids = borrowerIds ?? [...new Set([...exposures.keys(), ...this.lotsByBorrower.keys()])].sort();
    const [limits, scores, borrowers] = await Promise.all([
      state.lending.listLimits(borrowerIds),
      borrowerIds === undefined ? state.scores.latestHeads() : state.scores.latestScores({ borrowerIds }),
      state.portfolio.getBorrowers(ids),
    ]);
    const pdOf = new Map(scores.map((s) => [s.borrowerId, s.pd]));
    return ids.map((id) => {
      const limit = limits.get(id);
      const exp = exposures.get(id) ?? [];
      const lots = (this.lotsByBorrower.get(id) ?? []).map((p) => ({
        lot: p.lot,
        observation: this.observations.observation(p.lot.id),
      }));
      const owed =
        limit === undefined ? 0 : (exp.find((e) => e.currency === limit.currency)?.outstanding ?? 0);
      const pd = pdOf.get(id);
      const credit = borrowerCredit(
        {
          borrowerId: id,
          ...(pd === undefined ? {} : { pd }),
          exposures: exp,
          ...(limit === undefined
            ? {}
            : { undrawn: new Map([[limit.currency, Math.max(0, limit.amount - owed)]]) }),
          lots,
        },
        this.o.params,
        nowMs,
      );
      const breaches = [
        ...checkCoverage(credit.verifiedCoverage, lots.length > 0, policy),
        ...checkBorrowerCap(credit.outstanding, borrowers.get(id)?.sector, credit.currency, policy),
      ];
      return { credit, breaches };
    });
  }

  /** Recomputes and stores these borrowers' figures (everyone when omitted); announces new breaches. */
  async refresh(borrowerIds?: readonly string[]): Promise<CreditExposure[]> {
    const all: CreditExposure[] = [];
    const chunks: (readonly string[] | undefined)[] = [];
    if (borrowerIds === undefined) chunks.push(undefined);
    else for (let i = 0; i < borrowerIds.length; i += CHUNK) chunks.push(borrowerIds.slice(i, i + CHUNK));
    for (const chunk of chunks) {
      const computed = await this.compute(chunk);
      for (let i = 0; i < computed.length; i += CHUNK)
        all.push(...(await this.store(computed.slice(i, i + CHUNK))));
    }
    this.counters.refreshes += 1;
    this.counters.borrowersRecomputed += all.length;
    this.emit('refreshed', all);
    return all;
  }

  private async store(
    computed: { credit: BorrowerCredit; breaches: PolicyViolation[] }[],
  ): Promise<CreditExposure[]> {
    const { state } = this.o;
    const exposures = computed.map((c) => exposureOf(c.credit, c.breaches));
    const opened = { breaches: 0, reviews: 0 };
    await state.transaction(async () => {
      opened.breaches = 0;
      opened.reviews = 0;
      const before = await state.credit.getExposures(exposures.map((e) => e.borrowerId));
      await state.credit.upsertExposures(exposures);
      const events: PlatformEvent[] = [];
      for (const e of exposures) {
        const had = new Set((before.get(e.borrowerId)?.breaches ?? []).map((b) => b.code));
        const fresh = e.breaches.filter((b) => !had.has(b.code)) as PolicyViolation[];
        if (fresh.length > 0) {
          const change: BreachChange = {
            borrowerId: e.borrowerId,
            at: e.computedAt,
            violations: e.breaches as PolicyViolation[],
            exposure: e,
          };
          events.push({
            id: newEventId(),
            type: 'policy.breached',
            occurredAt: e.computedAt,
            data: breachData(change, fresh),
          });
          opened.breaches += 1;
          await this.o.onBreach?.(change);
          if (fresh.some((b) => b.code === 'POLICY_MIN_COVERAGE')) {
            const review = {
              id: `rev_${randomBytes(12).toString('hex')}`,
              borrowerId: e.borrowerId,
              reason: 'POLICY_MIN_COVERAGE',
              evidence: {
                verifiedCoverage: e.verifiedCoverage ?? null,
                claimedCoverage: e.claimedCoverage ?? null,
              },
              status: 'open' as const,
              openedAt: e.computedAt,
            };
            if (await state.credit.openReview(review)) {
              events.push({
                id: newEventId(),
                type: 'review.opened',
                occurredAt: e.computedAt,
                data: { ...review },
              });
              opened.reviews += 1;
            }
          }
        } else if (had.size > 0 && e.breaches.length === 0) {
          await this.o.onCleared?.({
            borrowerId: e.borrowerId,
            at: e.computedAt,
            violations: [],
            exposure: e,
          });
        }
      }
      if (events.length > 0) await state.outbox.append(events);
    });
    this.counters.breachesOpened += opened.breaches;
    this.counters.reviewsOpened += opened.reviews;
    return exposures;
  }

  /** Stops the periodic and debounced refreshes; resolves once the one under way is stored. */
  async stop(): Promise<void> {
    this.startedFlag = false;
    if (this.interval !== undefined) clearInterval(this.interval);
    this.interval = undefined;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.dirty.clear();
    await this.pending;
  }

  async close(): Promise<void> {
    await this.stop();
  }
}

/** The `policy.breached` event body: the borrower, what is newly broken, and the figures. */
export function breachData(change: BreachChange, fresh: readonly PolicyViolation[]): Record<string, unknown> {
  const e = change.exposure;
  return {
    borrowerId: change.borrowerId,
    codes: fresh.map((b) => b.code),
    violations: change.violations.map((v) => ({ ...v })),
    currency: e.currency,
    ead: e.ead,
    claimedCoverage: e.claimedCoverage ?? null,
    verifiedCoverage: e.verifiedCoverage ?? null,
    lgd: e.lgd,
    pd: e.pd ?? null,
    el: e.el ?? null,
  };
}
