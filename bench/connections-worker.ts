/**
 * One load process of bench/connections.ts: holds its share of the device connections on raw sockets (no MQTT
 * client library, so 20,000 connections fit in a process: one socket and a few bytes of state each), from its
 * own loopback source address. Packets are written with mqtt-packet; the broker's replies to a device are only
 * CONNACK and PUBACK (4 bytes each, MQTT 3.1.1 §3.2, §3.4), read by hand.
 *
 * Messages from the parent (IPC): `connect` with the devices, broker ports and source address → replies
 * `connected`; `publish` with a window → each device publishes one QoS 1 reading at its own offset in every
 * `periodMs`, then replies `published` with counts and PUBACK latencies (ms).
 */
import { connect as netConnect, type Socket } from 'node:net';
import mqttPacket from 'mqtt-packet';
import { telemetryTopic } from '../core/contracts/index.js';
import { stakePayload } from './stored-latency.js';

export interface ConnectOrder {
  readonly type: 'connect';
  /** [deviceId, token] */
  readonly devices: readonly (readonly [string, string])[];
  /** Broker ports on 127.0.0.1; device i connects to ports[i % ports.length]. */
  readonly ports: readonly number[];
  readonly sourceAddress: string;
  /** CONNECTs awaiting their CONNACK at once. */
  readonly concurrency: number;
}

export interface PublishOrder {
  readonly type: 'publish';
  readonly periodMs: number;
  readonly windowMs: number;
  /** Device time of seq 0. */
  readonly baseMs: number;
}

export interface Connected {
  readonly type: 'connected';
  readonly connected: number;
  readonly failed: number;
  readonly elapsedMs: number;
  readonly firstError?: string;
}

export interface Published {
  readonly type: 'published';
  readonly published: number;
  readonly acked: number;
  readonly closed: number;
  readonly pubackMs: number[];
}

interface Conn {
  readonly id: string;
  readonly socket: Socket;
  pending: Buffer;
  /** messageId → publish time */
  readonly inflight: Map<number, number>;
  nextMessageId: number;
  seq: number;
}

const conns: Conn[] = [];
let acked = 0;
let closed = 0;
const pubackMs: number[] = [];

function open(id: string, token: string, port: number, sourceAddress: string): Promise<Conn> {
  return new Promise((resolve, reject) => {
    const socket = netConnect({ host: '127.0.0.1', port, localAddress: sourceAddress });
    const conn: Conn = {
      id,
      socket,
      pending: Buffer.alloc(0),
      inflight: new Map(),
      nextMessageId: 1,
      seq: 0,
    };
    let connected = false;
    socket.setNoDelay(true);
    socket.on('connect', () =>
      socket.write(
        mqttPacket.generate({
          cmd: 'connect',
          protocolId: 'MQTT',
          protocolVersion: 4,
          clean: true,
          clientId: id,
          username: id,
          password: Buffer.from(token),
          // No keepalive: the bench's devices are idle for longer than any keepalive while the rest connect.
          keepalive: 0,
        }),
      ),
    );
    socket.on('data', (chunk: Buffer) => {
      let buf = conn.pending.length === 0 ? chunk : Buffer.concat([conn.pending, chunk]);
      while (buf.length >= 4) {
        const type = (buf[0] ?? 0) >> 4;
        if (type === 2) {
          if (buf[3] !== 0) reject(new Error(`CONNACK ${buf[3]} for ${id}`));
          connected = true;
          resolve(conn);
        } else if (type === 4) {
          const messageId = ((buf[2] ?? 0) << 8) | (buf[3] ?? 0);
          const t0 = conn.inflight.get(messageId);
          if (t0 !== undefined) {
            conn.inflight.delete(messageId);
            acked += 1;
            pubackMs.push(performance.now() - t0);
          }
        }
        buf = buf.subarray(4);
      }
      conn.pending = buf;
    });
    socket.on('error', (err) => {
      if (!connected) reject(err);
    });
    socket.on('close', () => {
      if (connected) closed += 1;
      else reject(new Error(`connection of ${id} closed before CONNACK`));
    });
  });
}

async function connectAll(order: ConnectOrder): Promise<Connected> {
  const t0 = performance.now();
  let next = 0;
  let failed = 0;
  let firstError: string | undefined;
  const lane = async (): Promise<void> => {
    while (next < order.devices.length) {
      const i = next++;
      const [id, token] = order.devices[i] as readonly [string, string];
      try {
        conns.push(await open(id, token, order.ports[i % order.ports.length] ?? 0, order.sourceAddress));
      } catch (err) {
        failed += 1;
        firstError ??= err instanceof Error ? err.message : String(err);
      }
    }
  };
  await Promise.all(Array.from({ length: order.concurrency }, lane));
  return {
    type: 'connected',
    connected: conns.length,
    failed,
    elapsedMs: Math.round(performance.now() - t0),
    ...(firstError === undefined ? {} : { firstError }),
  };
}

async function publishAll(order: PublishOrder): Promise<Published> {
  let published = 0;
  const start = performance.now();
  // Device i publishes at offset i/n of every period: an even load, as devices reporting once a minute give.
  const timers = conns.map((c, i) => {
    const fire = (): void => {
      if (c.socket.destroyed) return;
      c.seq += 1;
      const messageId = c.nextMessageId;
      c.nextMessageId = (c.nextMessageId % 65_535) + 1;
      c.inflight.set(messageId, performance.now());
      c.socket.write(
        mqttPacket.generate({
          cmd: 'publish',
          topic: telemetryTopic(c.id),
          payload: stakePayload(order.baseMs + c.seq, c.seq),
          qos: 1,
          messageId,
          retain: false,
          dup: false,
        }),
      );
      published += 1;
    };
    const offset = (order.periodMs * i) / conns.length;
    const first = setTimeout(() => {
      fire();
      const every = setInterval(fire, order.periodMs);
      timers[i] = every;
    }, offset);
    return first;
  });
  await new Promise((r) => setTimeout(r, order.windowMs));
  for (const t of timers) clearTimeout(t);
  // What is still in flight gets a few seconds for its PUBACK.
  const end = performance.now() + 10_000;
  while (conns.some((c) => c.inflight.size > 0) && performance.now() < end) {
    await new Promise((r) => setTimeout(r, 100));
  }
  void start;
  return { type: 'published', published, acked, closed, pubackMs };
}

process.on('message', (msg: ConnectOrder | PublishOrder) => {
  const reply = msg.type === 'connect' ? connectAll(msg) : publishAll(msg);
  void reply.then((r) => process.send?.(r));
});
