import { parseTopic, STATUS_OFFLINE, STATUS_ONLINE, type Reading } from '../core/contracts/index.js';
import { errorMessage, RiskfuseError } from '../core/errors.js';
import { Fifo } from '../core/fifo.js';
import type { Logger } from '../core/logger.js';
import type { Device, NewDeadLetter, Presence, State } from '../core/state/index.js';
import type { TelemetryStore } from '../core/storage/telemetry-store.js';
import { RegistryCache } from './registry-cache.js';
import { classifyTelemetry, describePayload, REJECT_REASONS, type RejectReason } from './validate.js';

/**
 * The ingest pipeline, independent of MQTT: `accept` a message with the function that acknowledges it;
 * the ack runs only once the message's readings are in the telemetry store and its rejections are in the
 * dead-letter table. A telemetry message whose device is not in the registry cache waits for the registry
 * read (one per device at a time, retried like a store write) before it is classified. Acks run in arrival order [MQTT-4.6.0-2], so a batch that finishes early waits for
 * older ones. Nothing is ever dropped: a store outage is retried with back-off for as long as it lasts,
 * while `onPressure(true)` asks the transport to stop reading once `maxBufferedReadings` wait.
 *
 * No state here is needed to be correct across processes: de-duplication is the store's (reading identity
 * = device, ts, seq), unacknowledged messages live in the broker's persistent session.
 */
export interface PipelineOptions {
  readonly telemetry: TelemetryStore;
  readonly state: Pick<State, 'devices' | 'deadLetters' | 'presence' | 'transaction'>;
  readonly log: Logger;
  readonly batchMaxReadings: number;
  readonly flushIntervalMs: number;
  readonly maxBufferedReadings: number;
  readonly writeConcurrency: number;
  readonly maxFutureSkewMs: number;
  readonly maxPayloadBytes: number;
  readonly registryCacheMs: number;
  /** Devices the registry cache holds (default 100,000); past it the device read longest ago is dropped. */
  readonly registryCacheDevices?: number;
  readonly retryMinMs: number;
  readonly retryMaxMs: number;
  readonly now?: () => number;
  /** Called with true when the transport should stop reading, false when it may resume. */
  readonly onPressure?: (paused: boolean) => void;
  /**
   * Called after each stored batch (the alert engine, progress lines, latency measurement); a returned promise
   * is awaited before the batch's messages are acknowledged.
   */
  readonly onStored?: (readings: readonly Reading[]) => void | Promise<void>;
  /** Called after presence changes (retained status / last will) are written to the state store; awaited too. */
  readonly onPresence?: (presence: readonly Presence[]) => void | Promise<void>;
}

export interface IngestCounters {
  messagesReceived: number;
  readingsReceived: number;
  readingsStored: number;
  readingsRejected: number;
  rejectedByReason: Record<RejectReason, number>;
  statusUpdates: number;
  batchesWritten: number;
  storeRetries: number;
  storeErrors: number;
  messagesAcked: number;
  bufferedReadings: number;
  backPressureEvents: number;
  /** Now minus the device time of the oldest reading in the last stored batch. */
  lagMs: number;
  lastStoredAtMs: number;
}

interface Pending {
  readonly ack: () => void;
  /** Filled when the message is classified (at once, or once its device's registry read is back). */
  readings: Reading[];
  readonly deadLetters: NewDeadLetter[];
  readonly presence: Presence[];
  durable: boolean;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** The smallest ts (a loop: `Math.min(...spread)` throws RangeError past ~100k arguments). */
function oldestTs(readings: readonly Reading[]): number {
  let oldest = Infinity;
  for (const r of readings) if (r.ts < oldest) oldest = r.ts;
  return oldest;
}

export class IngestPipeline {
  readonly counters: IngestCounters = {
    messagesReceived: 0,
    readingsReceived: 0,
    readingsStored: 0,
    readingsRejected: 0,
    rejectedByReason: Object.fromEntries(REJECT_REASONS.map((r) => [r, 0])) as Record<RejectReason, number>,
    statusUpdates: 0,
    batchesWritten: 0,
    storeRetries: 0,
    storeErrors: 0,
    messagesAcked: 0,
    bufferedReadings: 0,
    backPressureEvents: 0,
    lagMs: 0,
    lastStoredAtMs: 0,
  };

  /**
   * Every accepted message not yet acknowledged, in arrival order. Fifos, not arrays: under back-pressure
   * they hold tens of thousands of messages, where `Array.prototype.shift` costs O(length).
   */
  private readonly awaitingAck = new Fifo<Pending>();
  /** Messages not yet handed to a store write. */
  private readonly unflushed = new Fifo<Pending>();
  private unflushedReadings = 0;
  private inFlight = 0;
  private readonly writes = new Set<Promise<void>>();
  /** Settles once the last batch taken has handed its readings over (or failed): the next one waits for it. */
  private handoverTail: Promise<void> = Promise.resolve();
  private paused = false;
  private stopping = false;
  private timer: NodeJS.Timeout | undefined;
  private readonly registry: RegistryCache;
  /** Messages waiting for a registry read: they count towards back-pressure like buffered readings. */
  private awaitingLookup = 0;
  private readonly now: () => number;

  constructor(private readonly opts: PipelineOptions) {
    this.now = opts.now ?? Date.now;
    this.registry = new RegistryCache({
      ttlMs: opts.registryCacheMs,
      maxDevices: opts.registryCacheDevices ?? 100_000,
      read: (deviceId) => this.retrying('device registry', () => this.opts.state.devices.getDevice(deviceId)),
    });
    this.timer = setInterval(() => this.pump(true), opts.flushIntervalMs);
    this.timer.unref();
  }

  /** Takes one MQTT message. `ack` is called once it is durable (or dead-lettered). */
  accept(topic: string, payload: Buffer, ack: () => void): void {
    const c = this.counters;
    c.messagesReceived += 1;
    const nowMs = this.now();
    const pending: Pending = { ack, readings: [], deadLetters: [], presence: [], durable: false };
    // Acks go out in arrival order [MQTT-4.6.0-2], also for a message still waiting for its registry read.
    this.awaitingAck.push(pending);
    const parsed = parseTopic(topic);

    if (!parsed || parsed.channel === 'cmd') {
      this.deadLetter(
        pending.deadLetters,
        nowMs,
        topic,
        'UNKNOWN_TOPIC',
        `ingest does not handle topic ${JSON.stringify(topic)}`,
        describePayload(payload),
      );
    } else if (parsed.channel === 'status') {
      const text = payload.toString('utf8');
      if (text === STATUS_ONLINE || text === STATUS_OFFLINE) {
        pending.presence.push({ deviceId: parsed.deviceId, status: text, changedAt: nowMs });
        c.statusUpdates += 1;
      } else {
        this.deadLetter(
          pending.deadLetters,
          nowMs,
          topic,
          'INVALID_STATUS',
          'status must be "online" or "offline"',
          describePayload(payload),
          parsed.deviceId,
        );
      }
    } else {
      const { deviceId } = parsed;
      const hit = this.registry.fresh(deviceId, nowMs);
      if (hit === undefined) {
        this.awaitingLookup += 1;
        this.updatePressure();
        void this.registry.read(deviceId, nowMs).then(
          (device) => {
            this.awaitingLookup -= 1;
            this.classify(pending, topic, deviceId, device, payload, nowMs);
            this.enqueue(pending);
          },
          (err: unknown) => {
            // Only when stopping past the deadline, or on an error retrying cannot fix: left unacknowledged,
            // the broker redelivers the message (and the ones after it) to the next session.
            this.awaitingLookup -= 1;
            this.opts.log.warn(
              { err: errorMessage(err), deviceId },
              'registry read failed; message left unacknowledged, the broker will redeliver it',
            );
          },
        );
        return;
      }
      this.classify(pending, topic, deviceId, hit.device, payload, nowMs);
    }
    this.enqueue(pending);
  }

  private classify(
    pending: Pending,
    topic: string,
    deviceId: string,
    device: Device | undefined,
    payload: Buffer,
    nowMs: number,
  ): void {
    const result = classifyTelemetry(deviceId, device, payload, nowMs, this.opts);
    pending.readings = result.readings;
    this.counters.readingsReceived += result.readings.length;
    for (const r of result.rejections) {
      this.deadLetter(pending.deadLetters, nowMs, topic, r.reason, r.detail, r.payload, deviceId);
    }
  }

  /** Hands a classified message to the next store write. */
  private enqueue(pending: Pending): void {
    this.unflushed.push(pending);
    this.unflushedReadings += pending.readings.length;
    this.counters.bufferedReadings += pending.readings.length;
    this.updatePressure();
    if (this.unflushedReadings >= this.opts.batchMaxReadings) this.pump(false);
  }

  /** Asks the transport to stop reading once enough readings (and messages awaiting the registry) wait. */
  private updatePressure(): void {
    const c = this.counters;
    if (!this.paused && c.bufferedReadings + this.awaitingLookup >= this.opts.maxBufferedReadings) {
      this.paused = true;
      c.backPressureEvents += 1;
      this.opts.onPressure?.(true);
    }
  }

  /** A method, not a closure made per message: accept runs for every message the platform receives. */
  private deadLetter(
    into: NewDeadLetter[],
    receivedAt: number,
    topic: string,
    reason: RejectReason,
    detail: string,
    payload: string,
    deviceId?: string,
  ): void {
    into.push({
      receivedAt,
      topic,
      reason,
      detail,
      payload,
      ...(deviceId === undefined ? {} : { deviceId }),
    });
    this.counters.rejectedByReason[reason] += 1;
    this.counters.readingsRejected += 1;
  }

  /** Starts store writes while there is work and write slots; `timed` also flushes partial batches. */
  private pump(timed: boolean): void {
    while (this.inFlight < this.opts.writeConcurrency && this.unflushed.length > 0) {
      if (!timed && this.unflushedReadings < this.opts.batchMaxReadings) return;
      const batch = this.takeBatch();
      this.inFlight += 1;
      const previous = this.handoverTail;
      let handedOver!: () => void;
      this.handoverTail = new Promise<void>((resolve) => (handedOver = resolve));
      const write = this.writeBatch(batch, previous)
        .catch((err: unknown) => {
          // writeBatch retries until it succeeds or the pipeline stops; reaching here means stopping.
          this.opts.log.warn(
            { err: errorMessage(err) },
            'batch left unacknowledged; the broker will redeliver it',
          );
        })
        .finally(() => {
          handedOver();
          this.inFlight -= 1;
          this.writes.delete(write);
          if (!this.stopping) this.pump(this.unflushedReadings === 0 ? false : true);
        });
      this.writes.add(write);
    }
  }

  private takeBatch(): Pending[] {
    const batch: Pending[] = [];
    let n = 0;
    while (this.unflushed.length > 0 && (n < this.opts.batchMaxReadings || batch.length === 0)) {
      const p = this.unflushed.shift() as Pending;
      batch.push(p);
      n += p.readings.length;
    }
    this.unflushedReadings -= n;
    return batch;
  }

  /**
   * Stores a batch, then hands it to the callbacks once `previous` (the batch taken before it) has been handed
   * over. Batches are written concurrently (writeConcurrency) and may commit out of order — one that also writes
   * presence to the state store commits after a later one without — but the callbacks see them in the order the
   * messages arrived, so each device's readings reach them in its own order. The alert engine does not evaluate a
   * reading older than one it has seen (alerts/engine.ts): handed over by commit order, a device's batch of the
   * days before a removal that committed after the batch of the days after it was skipped, and the weight drop
   * never opened. Acks are released in arrival order already (releaseAcks), so this adds no ack latency.
   * Pinned by 'when concurrent batches commit out of order' in ingest/test/pipeline.test.ts.
   */
  private async writeBatch(batch: Pending[], previous: Promise<void>): Promise<void> {
    const readings = batch.flatMap((p) => p.readings);
    const rejected = readings.length > 0 ? await this.writeIsolating(readings) : [];
    const deadLetters = batch.flatMap((p) => p.deadLetters);
    for (const { reading, error } of rejected) {
      deadLetters.push({
        receivedAt: this.now(),
        deviceId: reading.deviceId,
        topic: `rf/v1/${reading.deviceId}/telemetry`,
        reason: 'STORE_REJECTED',
        detail: error,
        payload: JSON.stringify({ ts: reading.ts, seq: reading.seq, ...reading.fields }),
      });
      this.counters.rejectedByReason.STORE_REJECTED += 1;
      this.counters.readingsRejected += 1;
    }
    const presence = batch.flatMap((p) => p.presence);
    if (deadLetters.length > 0 || presence.length > 0) {
      await this.retrying('state store', () => this.writeState(deadLetters, presence));
    }

    const stored = readings.length - rejected.length;
    const c = this.counters;
    c.readingsStored += stored;
    c.batchesWritten += 1;
    c.bufferedReadings -= readings.length;
    c.lastStoredAtMs = this.now();
    if (readings.length > 0) c.lagMs = c.lastStoredAtMs - oldestTs(readings);
    // Awaited before the acks, so what the callbacks store (the alert engine's alerts) is durable first too.
    await previous;
    try {
      if (readings.length > 0) await this.opts.onStored?.(readings);
      if (presence.length > 0) await this.opts.onPresence?.(presence);
    } catch (err) {
      // The batch is stored: a failing callback must not hold its acks back forever.
      this.opts.log.error({ err: errorMessage(err) }, 'onStored/onPresence callback failed');
    }
    for (const p of batch) p.durable = true;
    this.releaseAcks();
  }

  /** The batch's dead letters and presence in one transaction, so a retry never writes a dead letter twice. */
  private async writeState(
    deadLetters: readonly NewDeadLetter[],
    presence: readonly Presence[],
  ): Promise<void> {
    const { state } = this.opts;
    await state.transaction(async () => {
      if (deadLetters.length > 0) await state.deadLetters.addDeadLetters(deadLetters);
      if (presence.length > 0) await state.presence.setPresence(presence);
    });
  }

  /** Writes readings; when the store refuses a batch, bisects to find and return the refused readings. */
  private async writeIsolating(readings: Reading[]): Promise<{ reading: Reading; error: string }[]> {
    try {
      await this.retrying('telemetry store', () => this.opts.telemetry.writeReadings(readings));
      return [];
    } catch (err) {
      if (!(err instanceof RiskfuseError) || err.code !== 'STORE_REJECTED') throw err;
      if (readings.length === 1) return [{ reading: readings[0] as Reading, error: err.message }];
      const mid = Math.ceil(readings.length / 2);
      return [
        ...(await this.writeIsolating(readings.slice(0, mid))),
        ...(await this.writeIsolating(readings.slice(mid))),
      ];
    }
  }

  /** Runs `op` until it succeeds; retryable failures back off exponentially with jitter, forever. */
  private async retrying<T>(what: string, op: () => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await op();
      } catch (err) {
        const retryable = !(err instanceof RiskfuseError) || err.retryable;
        if (!retryable) throw err;
        this.counters.storeErrors += 1;
        if (this.stopping && this.stopDeadlineMs !== undefined && this.now() > this.stopDeadlineMs) throw err;
        this.counters.storeRetries += 1;
        const base = Math.min(this.opts.retryMaxMs, this.opts.retryMinMs * 2 ** Math.min(attempt, 16));
        const delayMs = Math.round(base / 2 + Math.random() * (base / 2));
        if (attempt === 0 || attempt % 10 === 0) {
          this.opts.log.warn(
            { err: errorMessage(err), attempt, retryInMs: delayMs },
            `${what} write failed; retrying`,
          );
        }
        await sleep(delayMs);
      }
    }
  }

  private releaseAcks(): void {
    while (this.awaitingAck.peek()?.durable) {
      const p = this.awaitingAck.shift() as Pending;
      p.ack();
      this.counters.messagesAcked += 1;
    }
    if (
      this.paused &&
      this.counters.bufferedReadings + this.awaitingLookup <= this.opts.maxBufferedReadings / 2
    ) {
      this.paused = false;
      this.opts.onPressure?.(false);
    }
  }

  private stopDeadlineMs: number | undefined;

  /** Number of messages accepted and not yet acknowledged. */
  get pendingMessages(): number {
    return this.awaitingAck.length;
  }

  /** Writes everything buffered (retrying until `timeoutMs`), then stops the timer. */
  async stop(timeoutMs: number): Promise<void> {
    this.stopDeadlineMs = this.now() + timeoutMs;
    this.pump(true);
    this.stopping = true;
    for (;;) {
      const lookups = this.registry.inFlight();
      if (this.unflushed.length === 0 && this.writes.size === 0 && lookups.length === 0) break;
      if (this.writes.size === 0 && this.unflushed.length > 0) {
        this.stopping = false;
        this.pump(true);
        this.stopping = true;
      }
      await Promise.race([...this.writes, ...lookups]);
    }
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}
