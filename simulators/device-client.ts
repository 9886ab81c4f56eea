import { connect, type IClientOptions, type MqttClient } from 'mqtt';
import { MAX_BATCH_READINGS } from '../core/contracts/payloads.js';
import { STATUS_OFFLINE, STATUS_ONLINE, statusTopic, telemetryTopic } from '../core/contracts/topics.js';
import { errorMessage } from '../core/errors.js';
import type { Logger } from '../core/logger.js';

/**
 * One simulated device as a real MQTT client (MQTT.js, protocol 3.1.1).
 *
 * - Identity: clientId = username = device id, password = the token issued at provisioning.
 * - Presence: the last will is a retained `offline` on `rf/v1/{id}/status` (the broker publishes it when the
 *   connection dies without DISCONNECT); on every connect the device publishes a retained `online`, and on a
 *   graceful stop a retained `offline` itself (a clean DISCONNECT discards the will [MQTT-3.1.2-10]).
 * - Delivery: QoS 1, one reading per message, or `{"batch":[…]}` when several are due at once (accelerated
 *   time, catching up after an outage), at most `maxBatchReadings` each.
 * - Offline queue: readings wait here (as JSON) while the device is disconnected or its in-flight window is
 *   full. It is bounded: beyond `maxQueuedReadings` the oldest are dropped and counted — a device with a ring
 *   buffer keeps the newest data. At most `maxInflightMessages` QoS 1 messages are handed to MQTT.js at a
 *   time, so MQTT.js's own (unbounded) store never holds more than that window.
 * - `clean: false`: with a persistent session the messages in flight when a connection drops are resent
 *   with their original packet ids [MQTT-4.4.0-1], and MQTT.js keeps their callbacks, so acks are counted
 *   exactly; with `clean: true` and MQTT.js's automatic reconnect off, a forced cleanup fails those callbacks
 *   although the messages are still resent. The broker-side cost is small: devices subscribe to nothing, so
 *   their sessions hold no subscriptions and no queued messages.
 * - Reconnect: MQTT.js's fixed-period reconnect is off (`reconnectPeriod: 0`); after a lost connection or a
 *   failed attempt the device waits `min(max, base · 2^attempt)` scaled by a random factor in [0.5, 1)
 *   ("equal jitter"), so a broker restart is not met by every device at the same instant.
 */
export interface DeviceClientOptions {
  readonly deviceId: string;
  readonly token: string;
  readonly mqttUrl: string;
  readonly stats: PublishStats;
  readonly log: Logger;
  /** Readings waiting to be published, at most; default 2,000 (about 20 days of a stake at 15 min). */
  readonly maxQueuedReadings?: number;
  /** QoS 1 messages awaiting PUBACK, at most; default 8. */
  readonly maxInflightMessages?: number;
  /** Readings per message; default 100, at most MAX_BATCH_READINGS. */
  readonly maxBatchReadings?: number;
  /** MQTT keep-alive, s; default 60. */
  readonly keepaliveS?: number;
  /** First reconnect delay, ms; default 1,000. */
  readonly reconnectBaseMs?: number;
  /** Longest reconnect delay, ms; default 60,000. */
  readonly reconnectMaxMs?: number;
  /** Give up a connection attempt after, ms; default 30,000. */
  readonly connectTimeoutMs?: number;
  /** Uniform [0, 1) source for the reconnect jitter; default Math.random. */
  readonly random?: () => number;
}

/** Counters shared by all devices of a run (plain numbers: one process, one thread). */
export interface PublishStats {
  /** Readings handed to a device for publishing. */
  readingsQueued: number;
  /** Readings sent in a PUBLISH (handed to MQTT.js). */
  readingsPublished: number;
  /** Readings whose message the broker acknowledged (PUBACK). */
  readingsAcked: number;
  /** Readings dropped because the device's offline queue was full. */
  readingsDropped: number;
  /** Readings never acknowledged: still queued or in flight when the device stopped, or a publish error. */
  readingsUnsent: number;
  messagesPublished: number;
  messagesAcked: number;
  /** Successful CONNACKs. */
  connects: number;
  /** Connection attempts after the first. */
  reconnectAttempts: number;
  /** Connection errors of any kind (refused, reset, timeout, CONNACK refusal). */
  connectErrors: number;
  /** CONNACK refusals for credentials (return codes 4 and 5). */
  authFailures: number;
  /** Devices connected right now. */
  connected: number;
}

export function emptyPublishStats(): PublishStats {
  return {
    readingsQueued: 0,
    readingsPublished: 0,
    readingsAcked: 0,
    readingsDropped: 0,
    readingsUnsent: 0,
    messagesPublished: 0,
    messagesAcked: 0,
    connects: 0,
    reconnectAttempts: 0,
    connectErrors: 0,
    authFailures: 0,
    connected: 0,
  };
}

export class DeviceClient {
  readonly deviceId: string;
  private client: MqttClient | undefined;
  /** Queued readings as JSON, oldest first; `head` is the first live entry (compacted as it grows). */
  private queue: string[] = [];
  private head = 0;
  private inflightMessages = 0;
  private inflightReadings = 0;
  private attempt = 0;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private stopping = false;
  private isConnected = false;
  private readonly maxQueued: number;
  private readonly maxInflight: number;
  private readonly maxBatch: number;
  private readonly topic: string;
  private readonly drainWaiters: (() => void)[] = [];

  constructor(private readonly opts: DeviceClientOptions) {
    this.deviceId = opts.deviceId;
    this.maxQueued = opts.maxQueuedReadings ?? 2_000;
    this.maxInflight = opts.maxInflightMessages ?? 8;
    this.maxBatch = Math.min(opts.maxBatchReadings ?? 100, MAX_BATCH_READINGS);
    this.topic = telemetryTopic(opts.deviceId);
  }

  get connected(): boolean {
    return this.isConnected;
  }

  get started(): boolean {
    return this.client !== undefined;
  }

  /** Readings waiting in the offline queue. */
  get queued(): number {
    return this.queue.length - this.head;
  }

  /** Readings in messages awaiting PUBACK. */
  get inflight(): number {
    return this.inflightReadings;
  }

  /** Opens the connection (once); readings enqueued before are kept and sent on connect. */
  start(): void {
    if (this.client !== undefined || this.stopping) return;
    const { deviceId, token } = this.opts;
    const options: IClientOptions = {
      clientId: deviceId,
      username: deviceId,
      password: token,
      protocolVersion: 4,
      clean: false,
      keepalive: this.opts.keepaliveS ?? 60,
      reconnectPeriod: 0,
      connectTimeout: this.opts.connectTimeoutMs ?? 30_000,
      resubscribe: false,
      queueQoSZero: false,
      // Native timers: worker-thread timers would cost a thread hop per keep-alive for thousands of clients.
      timerVariant: 'native',
      will: { topic: statusTopic(deviceId), payload: Buffer.from(STATUS_OFFLINE), qos: 1, retain: true },
    };
    const client = connect(this.opts.mqttUrl, options);
    this.client = client;
    client.on('connect', () => {
      this.isConnected = true;
      this.attempt = 0;
      this.opts.stats.connects++;
      this.opts.stats.connected++;
      client.publish(statusTopic(deviceId), STATUS_ONLINE, { qos: 1, retain: true }, (err) => {
        if (err) this.opts.log.debug({ deviceId, err: errorMessage(err) }, 'online status not acknowledged');
      });
      this.pump();
    });
    client.on('close', () => {
      if (this.isConnected) {
        this.isConnected = false;
        this.opts.stats.connected--;
      }
      this.notifyDrain();
      if (!this.stopping) this.scheduleReconnect();
    });
    client.on('error', (err: Error & { code?: unknown }) => {
      this.opts.stats.connectErrors++;
      if (err.code === 4 || err.code === 5) this.opts.stats.authFailures++;
      this.opts.log.debug({ deviceId, err: errorMessage(err) }, 'device connection error');
    });
  }

  private scheduleReconnect(): void {
    if (this.reconnectTimer !== undefined || this.client === undefined) return;
    const base = this.opts.reconnectBaseMs ?? 1_000;
    const max = this.opts.reconnectMaxMs ?? 60_000;
    const ceiling = Math.min(max, base * 2 ** Math.min(this.attempt, 30));
    const delayMs = Math.round(ceiling * (0.5 + 0.5 * (this.opts.random ?? Math.random)()));
    this.attempt++;
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      const client = this.client;
      if (client === undefined || this.stopping || client.connected) return;
      this.opts.stats.reconnectAttempts++;
      // Keep the stores: they hold the messages in flight when the connection dropped, resent on connect.
      client.reconnect({ incomingStore: client.incomingStore, outgoingStore: client.outgoingStore });
    }, delayMs);
    this.reconnectTimer.unref();
  }

  /** Queues readings (payload objects) for publishing, dropping the oldest beyond the bound. */
  enqueue(payloads: readonly object[]): void {
    if (payloads.length === 0) return;
    for (const p of payloads) this.queue.push(JSON.stringify(p));
    this.opts.stats.readingsQueued += payloads.length;
    const excess = this.queued - this.maxQueued;
    if (excess > 0) {
      this.head += excess;
      this.opts.stats.readingsDropped += excess;
    }
    if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
    this.pump();
  }

  /** Publishes queued readings while connected and the in-flight window has room. */
  private pump(): void {
    const client = this.client;
    while (
      client !== undefined &&
      this.isConnected &&
      this.inflightMessages < this.maxInflight &&
      this.queued > 0
    ) {
      const n = Math.min(this.maxBatch, this.queued);
      const items = this.queue.slice(this.head, this.head + n);
      this.head += n;
      const body = n === 1 ? (items[0] as string) : `{"batch":[${items.join(',')}]}`;
      this.inflightMessages++;
      this.inflightReadings += n;
      this.opts.stats.messagesPublished++;
      this.opts.stats.readingsPublished += n;
      client.publish(this.topic, body, { qos: 1 }, (err) => {
        // After stop() the remainder was counted as unsent; a late callback changes nothing.
        if (this.stopping) return;
        this.inflightMessages--;
        this.inflightReadings -= n;
        if (err) {
          this.opts.stats.readingsUnsent += n;
          this.opts.log.debug({ deviceId: this.deviceId, err: errorMessage(err) }, 'publish failed');
        } else {
          this.opts.stats.messagesAcked++;
          this.opts.stats.readingsAcked += n;
        }
        this.pump();
        this.notifyDrain();
      });
    }
    if (this.head > 0 && this.head === this.queue.length) {
      this.queue = [];
      this.head = 0;
    }
  }

  private notifyDrain(): void {
    if (this.isConnected && (this.queued > 0 || this.inflightMessages > 0)) return;
    for (const w of this.drainWaiters.splice(0)) w();
  }

  /** Resolves when nothing is queued or in flight, or the device cannot make progress (disconnected). */
  private drained(): Promise<void> {
    if ((this.queued === 0 && this.inflightMessages === 0) || !this.isConnected) return Promise.resolve();
    return new Promise((resolve) => this.drainWaiters.push(resolve));
  }

  /**
   * Graceful stop: sends what is queued and waits for the PUBACKs (bounded by `timeoutMs`), publishes a
   * retained `offline`, then disconnects. Whatever is still unacknowledged is counted as unsent.
   */
  async stop(timeoutMs: number): Promise<void> {
    if (this.stopping) return;
    const deadline = Date.now() + timeoutMs;
    const client = this.client;
    if (this.reconnectTimer !== undefined) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
    if (client !== undefined && this.isConnected) {
      while ((this.queued > 0 || this.inflightMessages > 0) && this.isConnected && Date.now() < deadline) {
        await withTimeout(this.drained(), deadline - Date.now());
      }
    }
    this.stopping = true;
    this.opts.stats.readingsUnsent += this.queued + this.inflightReadings;
    this.queue = [];
    this.head = 0;
    if (client === undefined) return;
    if (this.isConnected) {
      await withTimeout(
        client
          .publishAsync(statusTopic(this.deviceId), STATUS_OFFLINE, { qos: 1, retain: true })
          .then(() => undefined),
        Math.max(100, deadline - Date.now()),
      ).catch((err: unknown) =>
        this.opts.log.debug({ deviceId: this.deviceId, err: errorMessage(err) }, 'offline status failed'),
      );
    }
    // A clean DISCONNECT when everything was acknowledged; otherwise drop the connection (the will fires,
    // saying the same `offline`) rather than wait for acks that the deadline no longer allows.
    const force = this.inflightMessages > 0 || !this.isConnected;
    await withTimeout(client.endAsync(force), 2_000).catch((err: unknown) =>
      this.opts.log.debug({ deviceId: this.deviceId, err: errorMessage(err) }, 'disconnect failed'),
    );
    if (this.isConnected) {
      this.isConnected = false;
      this.opts.stats.connected--;
    }
  }

  /**
   * Drops the TCP connection without DISCONNECT, as a power cut would: the broker publishes the will. The
   * device reconnects with backoff like after any lost connection.
   */
  cutConnection(): void {
    const stream = this.client?.stream;
    stream?.destroy();
  }
}

/** Resolves with `p`, or after `ms` regardless (the caller checks state afterwards). */
function withTimeout<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => resolve(undefined), Math.max(0, ms));
    p.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (err: unknown) => {
        clearTimeout(timer);
        reject(err instanceof Error ? err : new Error(String(err)));
      },
    );
  });
}
