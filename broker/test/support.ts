import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect as netConnect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import mqttPacket, { type IPublishPacket, type Packet } from 'mqtt-packet';
import { pino, type Logger } from 'pino';
import { telemetryTopic } from '../../core/contracts/index.js';
import { issueToken, makeCredentials } from '../../core/credentials.js';
import type { State } from '../../core/state/index.js';
import { openSharedTestState } from '../../test/support/shared-state.js';
import type { DeviceRegistry } from '../authenticate.js';
import { AEDES_CONCURRENCY } from '../app.js';
import { createBroker, parseBrokerConfig, type ListeningPorts, type RiskfuseBroker } from '../index.js';
import { openRedisBackend, type RedisBackend } from '../redis-backend.js';
import type { AedesPersistence } from '../persistence-port.js';

/**
 * Real parts for the broker tests: the test run's state as the registry (SQLite in a temp dir, or PostgreSQL
 * under RISKFUSE_TEST_STATE=postgres), our broker on port 0, real clients.
 */

export const SERVICE_TOKEN = issueToken();

export interface Registry {
  readonly store: State;
  readonly dir: string;
  /** The env that points a broker process at the same state (STATE_DB_PATH or STATE_DB_URL). */
  readonly stateEnv: Readonly<Record<string, string>>;
  /** deviceId → token, for every provisioned device (revoked ones too). */
  readonly tokens: ReadonlyMap<string, string>;
  close(): Promise<void>;
}

export const DEVICE_A = 'stake-000001';
export const DEVICE_B = 'stake-000002';
export const DEVICE_REVOKED = 'helmet-000003';

export async function provisionRegistry(): Promise<Registry> {
  const dir = mkdtempSync(join(tmpdir(), 'riskfuse-broker-'));
  const { state: store, env: stateEnv } = await openSharedTestState(dir);
  const now = Date.now();
  await store.portfolio.upsertBorrowers([
    { id: 'b-1', name: 'Grain Trader Ltd', sector: 'trading', region: 'north', createdAt: now },
  ]);
  await store.portfolio.upsertSites([
    { id: 's-1', borrowerId: 'b-1', name: 'Warehouse 1', kind: 'warehouse', lat: 45, lon: 9, geofence: [] },
  ]);
  const tokens = new Map<string, string>();
  const devices = [
    { id: DEVICE_A, kind: 'stake' as const },
    { id: DEVICE_B, kind: 'stake' as const },
    { id: DEVICE_REVOKED, kind: 'helmet' as const },
  ].map(({ id, kind }) => {
    const token = issueToken();
    tokens.set(id, token);
    return {
      device: { id, kind, borrowerId: 'b-1', siteId: 's-1', status: 'active' as const, createdAt: now },
      credentials: makeCredentials(id, token),
    };
  });
  await store.devices.upsertDevices(devices);
  await store.devices.revokeDevice(DEVICE_REVOKED, now);
  return {
    store,
    dir,
    stateEnv,
    tokens,
    async close() {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export function token(registry: Registry, deviceId: string): string {
  const t = registry.tokens.get(deviceId);
  if (t === undefined) throw new Error(`no token for ${deviceId}`);
  return t;
}

/** A logger whose JSON lines are kept, to assert on what was (not) logged. */
export function captureLogger(): { log: Logger; lines: string[] } {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(chunk.toString('utf8'));
      done();
    },
  });
  return { log: pino({ level: 'debug' }, sink), lines };
}

export interface Running {
  readonly broker: RiskfuseBroker;
  readonly ports: ListeningPorts;
  readonly url: string;
}

export async function startBroker(
  registry: Registry,
  env: Record<string, string> = {},
  log: Logger = pino({ level: 'silent' }),
  devices: DeviceRegistry = registry.store.devices,
  persistence?: AedesPersistence,
): Promise<Running> {
  const config = parseBrokerConfig({
    MQTT_HOST: '127.0.0.1',
    MQTT_PORT: '0',
    MQTT_SERVICE_TOKEN: SERVICE_TOKEN,
    ...env,
  });
  const broker = createBroker({
    config,
    registry: devices,
    log,
    ...(persistence === undefined ? {} : { persistence }),
  });
  const ports = await broker.listen();
  return { broker, ports, url: `mqtt://127.0.0.1:${ports.tcpPort}` };
}

/** A broker of a cluster on a real Redis (redis-backend.ts), as `riskfuse broker` starts one with MQTT_PERSISTENCE=redis. */
export interface ClusterMember extends Running {
  readonly backend: RedisBackend;
  close(): Promise<void>;
}

export async function startClusterBroker(
  registry: Registry,
  redisUrl: string,
  heartbeatIntervalMs: number,
  log: Logger = pino({ level: 'silent' }),
): Promise<ClusterMember> {
  const backend = openRedisBackend(redisUrl, AEDES_CONCURRENCY, log);
  const config = parseBrokerConfig({
    MQTT_HOST: '127.0.0.1',
    MQTT_PORT: '0',
    MQTT_SERVICE_TOKEN: SERVICE_TOKEN,
  });
  const broker = createBroker({
    config,
    registry: registry.store.devices,
    log,
    persistence: backend.persistence,
    cluster: { mq: backend.mq, heartbeatIntervalMs, onEmitterResumed: backend.onEmitterResumed },
  });
  const ports = await broker.listen();
  return {
    broker,
    ports,
    url: `mqtt://127.0.0.1:${ports.tcpPort}`,
    backend,
    async close() {
      await broker.close();
      await backend.persistence.destroy();
    },
  };
}

const CLIENT_DEFAULTS: IClientOptions = { reconnectPeriod: 0, connectTimeout: 5_000, protocolVersion: 4 };

/** Connects and resolves on CONNACK 0; rejects with the client's error (its `code` is the return code). */
export function connectClient(url: string, options: IClientOptions): Promise<MqttClient> {
  return new Promise((resolve, reject) => {
    const client = mqtt.connect(url, { ...CLIENT_DEFAULTS, ...options });
    client.once('connect', () => resolve(client));
    client.once('error', (err) => {
      client.end(true);
      reject(err);
    });
    client.once('close', () => reject(new Error('closed before CONNACK')));
  });
}

export function deviceClient(run: Running, registry: Registry, deviceId: string, extra: IClientOptions = {}) {
  return connectClient(run.url, {
    clientId: deviceId,
    username: deviceId,
    password: token(registry, deviceId),
    ...extra,
  });
}

export function serviceClient(run: Running, name = 'ingest', extra: IClientOptions = {}) {
  return connectClient(run.url, {
    clientId: `riskfuse-${name}-${Math.random().toString(16).slice(2, 8)}`,
    username: `svc:${name}`,
    password: SERVICE_TOKEN,
    ...extra,
  });
}

/** The CONNACK return code a refused connect produced. */
export async function refusalCode(promise: Promise<MqttClient>): Promise<number | string | undefined> {
  try {
    const client = await promise;
    await client.endAsync();
    return 0;
  } catch (err) {
    return (err as { code?: number | string }).code;
  }
}

/**
 * The SUBACK return codes for `filters`, in order. MQTT.js rejects a SUBSCRIBE when any code is 0x80, but
 * hands over the SUBACK it got.
 */
export async function subscribeCodes(
  client: MqttClient,
  filters: string[],
  qos: 0 | 1 | 2 = 1,
): Promise<number[]> {
  try {
    const granted = await client.subscribeAsync(filters, { qos });
    return granted.map((g) => g.qos);
  } catch (err) {
    const codes = (err as { packet?: { granted?: number[] } }).packet?.granted;
    if (codes === undefined) throw err;
    return codes;
  }
}

/** Sends a CONNECT with a zero-byte ClientId and CleanSession 0, which mqtt-packet refuses to generate. */
export function zeroByteClientIdConnect(): Buffer {
  // MQTT 3.1.1: protocol name "MQTT", level 4, connect flags 0 (clean session 0), keep-alive 30, ClientId "".
  const variable = [0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, 0x04, 0x00, 0x00, 0x1e, 0x00, 0x00];
  return Buffer.from([0x10, variable.length, ...variable]);
}

export interface Message {
  readonly topic: string;
  readonly payload: string;
  readonly retain: boolean;
}

/** Collects messages; `next(match)` resolves with the first (past or future) that matches. */
export function collect(client: MqttClient): {
  messages: Message[];
  next(match?: (m: Message) => boolean, ms?: number): Promise<Message>;
} {
  const messages: Message[] = [];
  const waiters: { match: (m: Message) => boolean; resolve: (m: Message) => void }[] = [];
  client.on('message', (topic, payload, packet) => {
    const m = { topic, payload: payload.toString('utf8'), retain: packet.retain };
    messages.push(m);
    for (const w of [...waiters]) {
      if (w.match(m)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(m);
      }
    }
  });
  return {
    messages,
    next(match = () => true, ms = 5_000) {
      const seen = messages.find(match);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no matching message within ${ms} ms`)), ms);
        waiters.push({
          match,
          resolve: (m) => {
            clearTimeout(timer);
            resolve(m);
          },
        });
      });
    },
  };
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls until `check` holds (the broker works asynchronously), or fails with the last value seen. */
export async function eventually<T>(read: () => T, check: (v: T) => boolean, ms = 5_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = read();
    if (check(value)) return value;
    if (Date.now() > deadline)
      throw new Error(`condition not met within ${ms} ms; last value ${JSON.stringify(value)}`);
    await sleep(20);
  }
}

export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs one of the Mosquitto command-line clients (an MQTT implementation independent of ours). */
export function mosquitto(
  tool: 'mosquitto_pub' | 'mosquitto_sub',
  args: string[],
  timeoutMs = 10_000,
): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(`/usr/bin/${tool}`, args, { timeout: timeoutMs }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === 'number' ? err.code : -1;
      resolve({ code, stdout, stderr });
    });
  });
}

/** A raw TCP connection speaking mqtt-packet, for packets a well-behaved client library will not send. */
export interface RawConnection {
  readonly socket: Socket;
  send(packet: Packet): void;
  /**
   * Resolves with the next packet from the broker, or undefined if the connection closes first; rejects after
   * `ms` (5 s) naming `awaited`, the packet the caller waits for.
   */
  next(ms?: number, awaited?: string): Promise<Packet | undefined>;
  /** Resolves when the broker has closed the connection. */
  readonly closed: Promise<void>;
}

/**
 * The ingest's kind of session over a raw socket (persistent, the service login), connected: the CONNACK is
 * read. It acknowledges only what the test sends.
 */
export async function rawIngestSession(
  port: number,
  clientId: string,
  keepalive = 0,
): Promise<RawConnection> {
  const c = await rawConnect(port);
  c.send({
    cmd: 'connect',
    protocolId: 'MQTT',
    protocolVersion: 4,
    clientId,
    clean: false,
    keepalive,
    username: 'svc:ingest',
    password: Buffer.from(SERVICE_TOKEN),
  });
  // 20 s: a session on the Redis store reads its subscriptions and queue before the CONNACK, and CI runs
  // other suites beside this one.
  const connack = await c.next(20_000, `CONNACK of ${clientId}`);
  if (connack?.cmd !== 'connack' || connack.returnCode !== 0) {
    throw new Error(`session ${clientId} not accepted: ${JSON.stringify(connack)}`);
  }
  return c;
}

/** The PUBLISH packets a raw connection receives until `done` says enough, or `ms` pass in silence; others skipped. */
export async function rawPublishes(
  c: RawConnection,
  done: (got: IPublishPacket[]) => boolean,
  ms = 10_000,
): Promise<IPublishPacket[]> {
  const got: IPublishPacket[] = [];
  while (!done(got)) {
    let p: Packet | undefined;
    try {
      p = await c.next(ms);
    } catch {
      break;
    }
    if (p === undefined) break;
    if (p.cmd === 'publish') got.push(p);
  }
  return got;
}

export function rawConnect(port: number): Promise<RawConnection> {
  return new Promise((resolve, reject) => {
    const socket = netConnect(port, '127.0.0.1');
    const parser = mqttPacket.parser({ protocolVersion: 4 });
    const inbox: Packet[] = [];
    let waiter: ((p: Packet | undefined) => void) | undefined;
    parser.on('packet', (p) => {
      if (waiter) {
        const w = waiter;
        waiter = undefined;
        w(p);
      } else inbox.push(p);
    });
    socket.on('data', (chunk) => parser.parse(chunk));
    socket.on('error', () => undefined);
    const closed = new Promise<void>((r) => socket.once('close', () => r()));
    void closed.then(() => waiter?.(undefined));
    socket.once('connect', () =>
      resolve({
        socket,
        send: (packet) => socket.write(mqttPacket.generate(packet)),
        next(ms = 5_000, awaited = 'packet') {
          const ready = inbox.shift();
          if (ready) return Promise.resolve(ready);
          if (socket.destroyed) return Promise.resolve(undefined);
          return new Promise((res, rej) => {
            const timer = setTimeout(() => rej(new Error(`no ${awaited} within ${ms} ms`)), ms);
            waiter = (p) => {
              clearTimeout(timer);
              res(p);
            };
          });
        },
        closed,
      }),
    );
    socket.once('error', reject);
  });
}

/**
 * A connected session's Aedes client and two of DEVICE_A's readings numbered by the broker's counter, queued for
 * the session earlier first. Delivered late-first (`deliverLateFirst`), the later count reaches the session first,
 * as when its enqueue finished first, and Aedes' `dedupe` (lib/client.js) drops the earlier
 * (broker/deliver-past-dedupe.ts).
 */
export async function queuedOutOfOrder(
  broker: Running['broker'],
  sessionId: string,
): Promise<{ deliverLateFirst(): void }> {
  const aedes = broker.aedes as unknown as {
    id: string;
    counter: number;
    persistence: { outgoingEnqueueCombi(subs: { clientId: string }[], packet: object): Promise<void> };
    clients: Record<string, { deliverQoS(packet: object, done: () => void): void }>;
  };
  const live = aedes.clients[sessionId];
  if (live === undefined) throw new Error(`the session ${sessionId} is not registered`);
  const counted = (payload: string) => {
    aedes.counter += 1;
    return {
      cmd: 'publish',
      topic: telemetryTopic(DEVICE_A),
      payload: Buffer.from(payload),
      qos: 1,
      retain: false,
      brokerId: aedes.id,
      brokerCounter: aedes.counter,
    };
  };
  const early = counted('early');
  const late = counted('late');
  for (const p of [early, late]) await aedes.persistence.outgoingEnqueueCombi([{ clientId: sessionId }], p);
  return {
    deliverLateFirst() {
      live.deliverQoS(late, () => undefined);
      live.deliverQoS(early, () => undefined);
    },
  };
}
