/**
 * One load process of bench/connections.ts: holds its share of the device connections on raw sockets (no MQTT
 * client library, so 20,000 connections fit in a process: one socket and a few bytes of state each), from its
 * own loopback source addresses. Packets are written with mqtt-packet; the broker's replies to a device are only
 * CONNACK and PUBACK (4 bytes each, MQTT 3.1.1 §3.2, §3.4), read by hand.
 *
 * Messages from the parent (IPC): `connect` with the devices, broker ports and source addresses → `progress`
 * every few seconds, then `connected`; `publish` with a window → each device publishes one QoS 1 reading at its
 * own offset in every `periodMs`, then replies `published` with counts and PUBACK latencies (ms).
 *
 * Connects are paced (`ratePerS`) and each waits at most `connackTimeoutMs` for its CONNACK: a CONNECT that a
 * broker never answers would otherwise hold its lane for good, and the fleet's connect rate would fall to
 * nothing one lane at a time without an error.
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
  /**
   * Loopback source addresses, used in turn. Each (source address, broker port) pair has its own ephemeral
   * ports (net.ipv4.ip_local_port_range, 28,232 by default); several per process leave room for the
   * TIME_WAIT ports of an earlier phase.
   */
  readonly sourceAddresses: readonly string[];
  /** CONNECTs awaiting their CONNACK at once. */
  readonly concurrency: number;
  /** New connections per second from this process. */
  readonly ratePerS: number;
  /** A CONNECT not answered in this time counts as failed and its socket is closed. */
  readonly connackTimeoutMs: number;
}

/** Sent every PROGRESS_MS while connecting. */
export interface ConnectProgress {
  readonly type: 'progress';
  readonly connected: number;
  readonly failed: number;
  /** Failure reason (error code or what happened) → count. */
  readonly failures: Record<string, number>;
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
  readonly failures: Record<string, number>;
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

const PROGRESS_MS = 5_000;

/** A failure's reason, short enough to count by: the system error code, else the message without the device. */
function reasonOf(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string') return code;
  return (err instanceof Error ? err.message : String(err)).replace(/ (of|for) \S+/, '');
}

function open(
  id: string,
  token: string,
  port: number,
  sourceAddress: string,
  connackTimeoutMs: number,
): Promise<Conn> {
  return new Promise((resolve, reject) => {
    const socket = netConnect({ host: '127.0.0.1', port, localAddress: sourceAddress });
    const timer = setTimeout(() => {
      if (connected) return;
      reject(new Error(`no CONNACK within ${connackTimeoutMs} ms for ${id}`));
      socket.destroy();
    }, connackTimeoutMs);
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
          clearTimeout(timer);
          if (buf[3] !== 0) {
            reject(new Error(`CONNACK ${buf[3]} for ${id}`));
            socket.destroy();
            return;
          }
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
      clearTimeout(timer);
      if (!connected) reject(err);
    });
    socket.on('close', () => {
      clearTimeout(timer);
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
  const failures: Record<string, number> = {};
  const intervalMs = 1000 / order.ratePerS;
  const progress = setInterval(
    () =>
      process.send?.({
        type: 'progress',
        connected: conns.length,
        failed,
        failures,
      } satisfies ConnectProgress),
    PROGRESS_MS,
  );
  const lane = async (): Promise<void> => {
    while (next < order.devices.length) {
      const i = next++;
      // Device i may start at t0 + i / rate: the pace holds whatever the lanes' round trips.
      const wait = t0 + i * intervalMs - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      const [id, token] = order.devices[i] as readonly [string, string];
      const port = order.ports[i % order.ports.length] ?? 0;
      // The next source address after every full round of ports, so each address meets every broker.
      const source = order.sourceAddresses[Math.floor(i / order.ports.length) % order.sourceAddresses.length];
      try {
        conns.push(await open(id, token, port, source ?? '127.0.0.1', order.connackTimeoutMs));
      } catch (err) {
        failed += 1;
        const reason = reasonOf(err);
        failures[reason] = (failures[reason] ?? 0) + 1;
        firstError ??= err instanceof Error ? err.message : String(err);
      }
    }
  };
  await Promise.all(Array.from({ length: order.concurrency }, lane));
  clearInterval(progress);
  return {
    type: 'connected',
    connected: conns.length,
    failed,
    failures,
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
// The bench gone (killed, or crashed before its cleanup): so are its devices.
process.on('disconnect', () => process.exit(0));
