import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import mqttPacket, { type IPublishPacket, type Packet } from 'mqtt-packet';
import type { Logger } from '../core/logger.js';
import { errorMessage } from '../core/errors.js';

/**
 * A minimal MQTT 3.1.1 subscriber that acknowledges QoS 1 messages only when told to.
 *
 * Why not MQTT.js: its `handleMessage` hook sends PUBACK when the callback runs and does not read the next
 * packet until then, so "acknowledge only after the batch is durable" would mean a batch of one. Here the
 * socket keeps reading while earlier messages wait for their batch, and the caller acks each message id
 * once its readings are stored. Acks are sent in the order the PUBLISH packets arrived [MQTT-4.6.0-2]
 * (the caller's job; see `AckQueue`).
 *
 * A persistent session (clean = false) makes the broker keep and redeliver anything not acknowledged, so
 * a crash or reconnect loses nothing; redelivered messages are de-duplicated by the store.
 */
export interface InboundMessage {
  readonly topic: string;
  readonly payload: Buffer;
  readonly qos: 0 | 1 | 2;
  readonly messageId: number | undefined;
  readonly dup: boolean;
  /** The connection it arrived on; an ack is only meaningful on the same connection. */
  readonly connection: number;
}

export interface SubscriberOptions {
  readonly url: string;
  readonly clientId: string;
  readonly username?: string;
  readonly password?: string;
  readonly subscriptions: readonly { topic: string; qos: 0 | 1 }[];
  readonly keepaliveS: number;
  readonly connectTimeoutMs: number;
  readonly reconnectMinMs: number;
  readonly reconnectMaxMs: number;
  readonly log: Logger;
  readonly onMessage: (msg: InboundMessage) => void;
  /** Called when a connection ends; messages of that connection will be redelivered by the broker. */
  readonly onConnectionLost?: (connection: number) => void;
  readonly onConnected?: (info: { connection: number; sessionPresent: boolean }) => void;
}

/** CONNACK return codes of MQTT 3.1.1, section 3.2.2.3. */
const CONNACK_REASONS: Record<number, string> = {
  1: 'unacceptable protocol version',
  2: 'identifier rejected',
  3: 'server unavailable',
  4: 'bad user name or password',
  5: 'not authorized',
};

export class AckingSubscriber {
  private socket: Socket | undefined;
  private connection = 0;
  private connected = false;
  private closing = false;
  private paused = false;
  private attempt = 0;
  private pingTimer: NodeJS.Timeout | undefined;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private nextPacketId = 1;
  private firstConnect: { resolve: () => void; reject: (e: Error) => void } | undefined;
  private lastError: string | undefined;
  /** The socket corked until the next tick, so the acks of one released batch leave in one write. */
  private corked: Socket | undefined;

  constructor(private readonly opts: SubscriberOptions) {}

  get isConnected(): boolean {
    return this.connected;
  }

  get currentConnection(): number {
    return this.connection;
  }

  /** Resolves on the first accepted CONNACK + SUBACK; keeps retrying with backoff until then. */
  start(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.firstConnect = { resolve, reject };
      this.open();
    });
  }

  private open(): void {
    if (this.closing) return;
    const url = new URL(this.opts.url);
    const port = Number(url.port || (url.protocol === 'mqtts:' ? 8883 : 1883));
    const host = url.hostname.replace(/^\[|\]$/g, '');
    const socket =
      url.protocol === 'mqtts:' ? tlsConnect({ host, port, servername: host }) : netConnect({ host, port });
    socket.setNoDelay(true);
    this.connection += 1;
    const connection = this.connection;
    this.socket = socket;
    const parser = mqttPacket.parser({ protocolVersion: 4 });
    const connectTimer = setTimeout(
      () => socket.destroy(new Error('connect timed out')),
      this.opts.connectTimeoutMs,
    );

    socket.on('connect', () => {
      this.write({
        cmd: 'connect',
        protocolId: 'MQTT',
        protocolVersion: 4,
        clientId: this.opts.clientId,
        clean: false,
        keepalive: this.opts.keepaliveS,
        ...(this.opts.username === undefined ? {} : { username: this.opts.username }),
        ...(this.opts.password === undefined ? {} : { password: Buffer.from(this.opts.password) }),
      });
    });
    socket.on('data', (chunk: Buffer) => parser.parse(chunk));
    parser.on('error', (err: Error) => socket.destroy(err));
    parser.on('packet', (packet: Packet) => {
      switch (packet.cmd) {
        case 'connack': {
          clearTimeout(connectTimer);
          if (packet.returnCode !== 0) {
            const reason = CONNACK_REASONS[packet.returnCode ?? 3] ?? `code ${packet.returnCode}`;
            this.lastError = `broker refused the connection: ${reason}`;
            // Credentials do not fix themselves: fail the first start loudly instead of retrying forever.
            if (this.firstConnect && (packet.returnCode === 4 || packet.returnCode === 5)) {
              this.firstConnect.reject(new Error(this.lastError));
              this.firstConnect = undefined;
              this.closing = true;
            }
            socket.destroy();
            return;
          }
          this.write({
            cmd: 'subscribe',
            messageId: this.packetId(),
            subscriptions: this.opts.subscriptions.map((s) => ({ topic: s.topic, qos: s.qos })),
          });
          this.opts.onConnected?.({ connection, sessionPresent: packet.sessionPresent });
          return;
        }
        case 'suback': {
          const refused = packet.granted.findIndex((g) => g === 128);
          if (refused >= 0) {
            this.lastError = `broker refused subscription to ${this.opts.subscriptions[refused]?.topic}`;
            this.opts.log.error({ granted: packet.granted }, this.lastError);
            if (this.firstConnect) {
              this.firstConnect.reject(new Error(this.lastError));
              this.firstConnect = undefined;
              this.closing = true;
            }
            socket.destroy();
            return;
          }
          this.connected = true;
          this.attempt = 0;
          this.schedulePing();
          if (this.paused) socket.pause();
          this.firstConnect?.resolve();
          this.firstConnect = undefined;
          this.opts.log.info({ url: this.opts.url, clientId: this.opts.clientId }, 'subscribed');
          return;
        }
        case 'publish':
          this.onPublish(packet, connection);
          return;
        case 'pubrel':
          // QoS 2 is never granted (we subscribe at QoS 1); complete the flow anyway so the broker is not stuck.
          if (packet.messageId !== undefined) this.write({ cmd: 'pubcomp', messageId: packet.messageId });
          return;
        case 'pingresp':
          return;
        default:
          return;
      }
    });
    socket.on('error', (err) => {
      this.lastError = errorMessage(err);
    });
    socket.on('close', () => {
      clearTimeout(connectTimer);
      if (this.pingTimer) clearInterval(this.pingTimer);
      const wasConnected = this.connected;
      this.connected = false;
      if (this.socket === socket) this.socket = undefined;
      this.opts.onConnectionLost?.(connection);
      if (this.closing) {
        this.firstConnect?.reject(new Error(this.lastError ?? 'closed before connecting'));
        this.firstConnect = undefined;
        return;
      }
      this.attempt += 1;
      const base = Math.min(
        this.opts.reconnectMaxMs,
        this.opts.reconnectMinMs * 2 ** Math.min(this.attempt - 1, 16),
      );
      const delayMs = Math.round(base / 2 + Math.random() * (base / 2));
      this.opts.log.warn(
        { error: this.lastError, wasConnected, retryInMs: delayMs, attempt: this.attempt },
        'MQTT connection lost; reconnecting',
      );
      this.reconnectTimer = setTimeout(() => this.open(), delayMs);
    });
  }

  private onPublish(packet: IPublishPacket, connection: number): void {
    const payload = typeof packet.payload === 'string' ? Buffer.from(packet.payload) : packet.payload;
    this.opts.onMessage({
      topic: packet.topic,
      payload,
      qos: packet.qos,
      messageId: packet.messageId,
      dup: packet.dup,
      connection,
    });
  }

  /** Sends PUBACK for a QoS 1 message, if its connection is still the current one. */
  ack(messageId: number, connection: number): boolean {
    if (connection !== this.connection || !this.connected) return false;
    // PUBACK: fixed header 0x40, Remaining Length 2, the Packet Identifier [MQTT-3.4.1] — built here
    // because acks come by the thousand per second.
    this.send(Buffer.from([0x40, 0x02, (messageId >> 8) & 0xff, messageId & 0xff]));
    return true;
  }

  /** Stops reading from the socket (TCP back-pressure reaches the broker); `resume` undoes it. */
  pause(): void {
    this.paused = true;
    this.socket?.pause();
  }

  resume(): void {
    this.paused = false;
    this.socket?.resume();
  }

  get lastErrorMessage(): string | undefined {
    return this.lastError;
  }

  private packetId(): number {
    const id = this.nextPacketId;
    this.nextPacketId = (this.nextPacketId % 65535) + 1;
    return id;
  }

  private schedulePing(): void {
    if (this.pingTimer) clearInterval(this.pingTimer);
    if (this.opts.keepaliveS <= 0) return;
    this.pingTimer = setInterval(() => this.write({ cmd: 'pingreq' }), (this.opts.keepaliveS * 1000) / 2);
    this.pingTimer.unref();
  }

  private write(packet: Packet): void {
    this.send(mqttPacket.generate(packet));
  }

  /**
   * Writes within one tick go out together: the pipeline releases the acks of a stored batch in one loop,
   * and one system call for all of them instead of one each saved ~5 % of the broker + ingest thread in
   * the ingest bench.
   */
  private send(bytes: Buffer): void {
    const socket = this.socket;
    if (!socket || socket.destroyed) return;
    if (this.corked !== socket) {
      this.corked = socket;
      socket.cork();
      process.nextTick(() => {
        if (this.corked === socket) this.corked = undefined;
        socket.uncork();
      });
    }
    socket.write(bytes);
  }

  /** Sends DISCONNECT (the session stays on the broker) and closes the socket. */
  async close(): Promise<void> {
    this.closing = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    if (this.pingTimer) clearInterval(this.pingTimer);
    const socket = this.socket;
    if (!socket || socket.destroyed) return;
    await new Promise<void>((resolve) => {
      socket.once('close', () => resolve());
      if (this.connected) this.write({ cmd: 'disconnect' });
      socket.end();
      setTimeout(() => socket.destroy(), 2000).unref();
    });
  }
}
