import { errorMessage, RiskfuseError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { State } from '../core/state/index.js';
import { sendWebhook, parseRetryAfter, type SendResult } from './sender.js';
import { signatureHeader } from './signing.js';
import { resolveTarget, type Lookup, type ResolvedTarget, type TargetPolicy } from './ssrf.js';
import type { DeliveryAttempt, DeliveryJob } from './types.js';

export interface DelivererOptions {
  /** The webhook repository, the outbox it dispatches, and transactions (claims and outcomes commit in groups). */
  readonly state: Pick<State, 'webhooks' | 'outbox' | 'transaction'>;
  readonly log: Logger;
  readonly policy: TargetPolicy;
  readonly timeoutMs: number;
  /** Waits before retry 1, 2, …; attempts = schedule length + 1. */
  readonly retryScheduleMs: readonly number[];
  readonly retryAfterMaxMs: number;
  readonly maxResponseBytes: number;
  readonly concurrencyPerSubscription: number;
  readonly maxConcurrency: number;
  readonly pollIntervalMs: number;
  readonly now?: () => number;
  readonly random?: () => number;
  readonly lookup?: Lookup;
  /** Called after every attempt (tests, bench). */
  readonly onAttempt?: (job: DeliveryJob, attempt: DeliveryAttempt) => void;
}

export const zeroCounters = (): DelivererCounters => ({
  eventsDispatched: 0,
  deliveriesCreated: 0,
  attempts: 0,
  delivered: 0,
  failedAttempts: 0,
  deadLettered: 0,
  subscriptionsDisabled: 0,
  blockedTargets: 0,
  inFlight: 0,
});

export interface DelivererCounters {
  eventsDispatched: number;
  deliveriesCreated: number;
  attempts: number;
  delivered: number;
  failedAttempts: number;
  deadLettered: number;
  subscriptionsDisabled: number;
  blockedTargets: number;
  inFlight: number;
}

/** Lease beyond the attempt's own timeout before a `sending` delivery counts as abandoned (process died). */
const LEASE_MARGIN_MS = 2000;
/** A subscription's queue holds up to this many rounds of its concurrency (claimed, leased, not yet sent). */
const PREFETCH_ROUNDS = 4;
const FLUSH_DELAY_MS = 10;

/**
 * The webhook dispatcher and workers. Each pass: read the outbox after the stored position and create the
 * deliveries (`WebhookRepository.dispatch`: one transaction with the position), then start due deliveries, per
 * subscription at most `concurrencyPerSubscription` at a time so one slow receiver only queues behind itself.
 * Every attempt, its outcome and the next due time are stored; a restart picks up where the store says.
 *
 * One pass runs at a time (a timer tick or a kick during a pass runs once it ends); attempts run beside it.
 * `start()` begins, `stop()` ends: it resolves once the pass, the attempts in flight and the writes of their
 * outcomes have finished, and the deliveries claimed but not started are handed back.
 */
export class WebhookDeliverer {
  readonly counters: DelivererCounters = zeroCounters();
  private readonly inFlightBySub = new Map<string, number>();
  private readonly inFlightIds = new Set<number>();
  private readonly running = new Set<Promise<void>>();
  private timer: NodeJS.Timeout | undefined;
  private kicked = false;
  private kickFull = false;
  /** The pass running now, and whether (and how) another is wanted once it ends. */
  private pass: Promise<void> | undefined;
  private passAgain: { full: boolean } | undefined;
  /** Claimed deliveries waiting for a slot of their subscription. */
  private readonly queues = new Map<string, DeliveryJob[]>();
  /** Subscriptions whose last claim was full: more may be due. */
  private readonly moreDue = new Set<string>();
  private flushTimer: NodeJS.Timeout | undefined;
  private readonly flushing = new Set<Promise<void>>();
  private readonly finished: { job: DeliveryJob; a: DeliveryAttempt }[] = [];
  /** Not delivering: before `start()` (a standby replica that is not the elected deliverer) and after `stop()`. */
  private stopped = true;
  private readonly now: () => number;
  private readonly random: () => number;

  constructor(private readonly o: DelivererOptions) {
    this.now = o.now ?? Date.now;
    this.random = o.random ?? Math.random;
  }

  /** Starts delivering; again after a `stop()` when leadership returns to this process. */
  start(): void {
    if (this.timer !== undefined) return;
    this.stopped = false;
    this.timer = setInterval(() => this.tick(), this.o.pollIntervalMs);
    this.timer.unref();
    this.tick();
  }

  private get store() {
    return this.o.state.webhooks;
  }

  /** Run a pass soon (new deliveries from the API, a finished attempt freeing a slot). */
  kick(fullScan = true): void {
    if (this.stopped) return;
    this.kickFull ||= fullScan;
    if (this.kicked) return;
    this.kicked = true;
    setImmediate(() => {
      const full = this.kickFull;
      this.kicked = false;
      this.kickFull = false;
      this.tick(full);
    });
  }

  /**
   * Stops taking work; resolves when the pass running now, the attempts in flight (finished or timed out) and
   * the writes of their outcomes are done, and the deliveries claimed but not started are handed back.
   */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    this.passAgain = undefined;
    await this.pass;
    await Promise.allSettled([...this.running]);
    if (this.flushTimer !== undefined) clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    await this.flush();
    await Promise.allSettled([...this.flushing]);
    // Claimed but never started: due again at once for the next process, not after their lease.
    const queued = [...this.queues.values()].flat().map((j) => j.id);
    this.queues.clear();
    if (queued.length === 0) return;
    try {
      await this.store.release(queued);
    } catch (err) {
      this.o.log.warn(
        { err: errorMessage(err) },
        'could not release queued webhook deliveries; their lease expires',
      );
    }
  }

  /** The same as `stop()` (for shutdown hooks that close what they opened). */
  close(): Promise<void> {
    return this.stop();
  }

  /** Runs a pass now, or once the one running ends (a full scan if any of the requests asked for one). */
  private tick(fullScan = true): void {
    if (this.stopped) return;
    if (this.pass !== undefined) {
      this.passAgain = { full: fullScan || (this.passAgain?.full ?? false) };
      return;
    }
    this.pass = this.runPass(fullScan).finally(() => {
      this.pass = undefined;
      const again = this.passAgain;
      this.passAgain = undefined;
      if (again !== undefined) this.tick(again.full);
    });
  }

  private async runPass(fullScan: boolean): Promise<void> {
    try {
      if (fullScan) await this.dispatch();
      await this.schedule(fullScan);
    } catch (err) {
      this.o.log.error({ err: errorMessage(err) }, 'webhook pass failed; retrying next tick');
    }
  }

  /** Moves outbox events into deliveries; resolves how many events it consumed. */
  async dispatch(): Promise<number> {
    let total = 0;
    for (;;) {
      const from = await this.store.dispatchPosition();
      const events = await this.o.state.outbox.after(from, { limit: 500 });
      if (events.length === 0) return total;
      const { created, advanced } = await this.store.dispatch(events, from);
      if (!advanced) continue; // another dispatcher moved the position: read again from there
      total += events.length;
      this.counters.eventsDispatched += events.length;
      this.counters.deliveriesCreated += created;
    }
  }

  /**
   * Claims due deliveries into per-subscription queues (a few rounds of its concurrency at once: one commit
   * claims many, instead of one fsync per attempt), then starts what the free slots allow.
   */
  private async schedule(fullScan: boolean): Promise<void> {
    const nowMs = this.now();
    const prefetch = this.o.concurrencyPerSubscription * PREFETCH_ROUNDS;
    // The full scan of due deliveries runs on the timer; between ticks only subscriptions known to have more
    // due than their last claim took are refilled (a pass per finished attempt must stay cheap).
    const low = (id: string) => (this.queues.get(id)?.length ?? 0) <= prefetch / 2;
    const refill = fullScan
      ? (await this.store.dueSubscriptions(nowMs)).filter(({ id }) => low(id))
      : [...this.moreDue].filter(low).map((id) => ({ id }));
    if (refill.length > 0) {
      const leaseUntil = nowMs + PREFETCH_ROUNDS * this.o.timeoutMs + LEASE_MARGIN_MS;
      // The claims commit together (one commit for many); the queues change only once they have (a re-run of
      // the transaction on PostgreSQL claims afresh).
      const claimed = await this.o.state.transaction(async () => {
        const out: { id: string; jobs: DeliveryJob[]; want: number }[] = [];
        for (const { id } of refill) {
          const want = prefetch - (this.queues.get(id)?.length ?? 0);
          out.push({ id, jobs: await this.store.claimDue(id, nowMs, want, leaseUntil), want });
        }
        return out;
      });
      for (const { id, jobs: claimedJobs, want } of claimed) {
        const queue = this.queues.get(id) ?? [];
        const queued = new Set(queue.map((j) => j.id));
        const jobs = claimedJobs.filter((j) => !this.inFlightIds.has(j.id) && !queued.has(j.id));
        if (jobs.length > 0) this.queues.set(id, [...queue, ...jobs]);
        if (claimedJobs.length >= want) this.moreDue.add(id);
        else this.moreDue.delete(id);
      }
    }
    for (const [id, queue] of this.queues) {
      while (
        !this.stopped &&
        queue.length > 0 &&
        (this.inFlightBySub.get(id) ?? 0) < this.o.concurrencyPerSubscription &&
        this.counters.inFlight < this.o.maxConcurrency
      ) {
        this.run(queue.shift() as DeliveryJob);
      }
      if (queue.length === 0) this.queues.delete(id);
    }
  }

  private run(job: DeliveryJob): void {
    this.counters.inFlight += 1;
    this.inFlightIds.add(job.id);
    this.inFlightBySub.set(job.subscriptionId, (this.inFlightBySub.get(job.subscriptionId) ?? 0) + 1);
    const p = this.attempt(job)
      .catch((err: unknown) =>
        this.o.log.error(
          { deliveryId: job.id, err: errorMessage(err) },
          'webhook attempt failed unexpectedly',
        ),
      )
      .finally(() => {
        this.counters.inFlight -= 1;
        this.inFlightIds.delete(job.id);
        const left = (this.inFlightBySub.get(job.subscriptionId) ?? 1) - 1;
        if (left <= 0) this.inFlightBySub.delete(job.subscriptionId);
        else this.inFlightBySub.set(job.subscriptionId, left);
        this.running.delete(p);
        this.kick(false);
      });
    this.running.add(p);
  }

  private async attempt(job: DeliveryJob): Promise<void> {
    const startedAt = this.now();
    const deadlineMs = Date.now() + this.o.timeoutMs;
    const attemptNo = job.attempts + 1;
    let result: SendResult;
    let blocked = false;
    const target = await this.resolve(job.url, deadlineMs);
    if ('error' in target) {
      blocked = !target.retryable;
      result = { error: target.error, bodyBytes: 0, truncated: false };
    } else {
      const timestampS = Math.floor(this.now() / 1000);
      const secrets = await this.store.signingSecrets(job.subscriptionId);
      if (secrets.length === 0) return; // deleted meanwhile
      result = await sendWebhook(
        target,
        {
          'user-agent': 'riskfuse-webhooks/1',
          'webhook-id': job.eventId,
          'webhook-timestamp': String(timestampS),
          'webhook-signature': signatureHeader(secrets, job.eventId, timestampS, job.payload),
        },
        job.payload,
        { deadlineMs, maxResponseBytes: this.o.maxResponseBytes },
      );
    }
    const durationMs = Math.max(0, this.now() - startedAt);
    const a = this.outcome(result, attemptNo, startedAt, durationMs, blocked);
    this.counters.attempts += 1;
    if (a.outcome === 'delivered') this.counters.delivered += 1;
    else this.counters.failedAttempts += 1;
    if (a.outcome === 'dead' || a.outcome === 'gone') this.counters.deadLettered += 1;
    if (blocked) this.counters.blockedTargets += 1;
    this.finished.push({ job, a });
    this.scheduleFlush();
  }

  private scheduleFlush(): void {
    if (this.flushTimer !== undefined) return;
    // Group commit: the attempts that finish within FLUSH_DELAY_MS share one transaction (one fsync). Slots are
    // already free meanwhile; only the stored outcome waits.
    this.flushTimer = setTimeout(() => {
      this.flushTimer = undefined;
      const p = this.flush().finally(() => this.flushing.delete(p));
      this.flushing.add(p);
    }, FLUSH_DELAY_MS);
  }

  /**
   * Stores the finished attempts in one transaction (one fsync for many deliveries). A crash before it commits
   * leaves those deliveries `sending`; their lease expires and they are sent again (at least once). Never
   * rejects: a failure is logged.
   */
  private async flush(): Promise<void> {
    const batch = this.finished.splice(0);
    if (batch.length === 0) return;
    let disabled = 0;
    try {
      await this.o.state.transaction(async () => {
        disabled = 0;
        for (const { job, a } of batch) {
          if (!(await this.store.finishAttempt(job.id, a))) continue;
          if (a.outcome === 'gone') {
            await this.store.disableSubscription(
              job.subscriptionId,
              `the receiver answered 410 Gone at ${new Date(a.startedAt).toISOString()}`,
            );
            disabled += 1;
          }
        }
      });
      this.counters.subscriptionsDisabled += disabled;
    } catch (err) {
      this.o.log.error(
        { err: errorMessage(err), attempts: batch.length },
        'could not store webhook attempts; they are retried when their lease expires',
      );
      return;
    }
    for (const { job, a } of batch) {
      if (a.outcome !== 'delivered') {
        this.o.log.warn(
          {
            subscriptionId: job.subscriptionId,
            deliveryId: job.id,
            attempt: a.attempt,
            status: a.statusCode,
            err: a.error,
            outcome: a.outcome,
          },
          'webhook attempt failed',
        );
      }
      this.o.onAttempt?.(job, a);
    }
  }

  private async resolve(
    url: string,
    deadlineMs: number,
  ): Promise<ResolvedTarget | { error: string; retryable: boolean }> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<{ error: string; retryable: boolean }>((resolve) => {
      timer = setTimeout(
        () => resolve({ error: 'timeout: DNS lookup did not finish within the deadline', retryable: true }),
        Math.max(0, deadlineMs - Date.now()),
      );
    });
    try {
      return await Promise.race([
        resolveTarget(url, this.o.policy, this.o.lookup).catch((err: unknown) => ({
          error: `${err instanceof RiskfuseError && !err.retryable ? 'BLOCKED_TARGET' : 'DNS'}: ${errorMessage(err)}`,
          retryable: err instanceof RiskfuseError ? err.retryable : true,
        })),
        timeout,
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * 2xx delivered; 410 Gone disables the subscription; a blocked target is dead at once (retrying cannot help);
   * anything else (3xx — redirects are not followed —, 4xx, 5xx, network errors, timeouts) retries after the
   * scheduled wait with full jitter, or the receiver's `Retry-After` (capped), until the schedule runs out.
   */
  private outcome(
    r: SendResult,
    attempt: number,
    startedAt: number,
    durationMs: number,
    blocked: boolean,
  ): DeliveryAttempt {
    const base = {
      attempt,
      startedAt,
      durationMs,
      ...(r.statusCode === undefined ? {} : { statusCode: r.statusCode }),
    };
    const code = r.statusCode;
    if (code !== undefined && code >= 200 && code < 300) return { ...base, outcome: 'delivered' };
    const error =
      r.error ??
      (code !== undefined && code >= 300 && code < 400
        ? `redirect not followed (${code}${r.location === undefined ? '' : ` to ${r.location.slice(0, 200)}`})`
        : `HTTP ${code ?? 0}`);
    if (code === 410) return { ...base, outcome: 'gone', error: 'HTTP 410 Gone: subscription disabled' };
    if (blocked) return { ...base, outcome: 'dead', error };
    const wait = this.o.retryScheduleMs[attempt - 1];
    if (wait === undefined) return { ...base, outcome: 'dead', error };
    const asked = parseRetryAfter(r.retryAfter, this.now());
    const delayMs =
      asked !== undefined ? Math.min(asked, this.o.retryAfterMaxMs) : Math.floor(this.random() * (wait + 1));
    return { ...base, outcome: 'retry', error, nextAttemptAt: this.now() + delayMs };
  }
}
