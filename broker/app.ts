import { readFile } from 'node:fs/promises';
import type { Server as HttpServer } from 'node:http';
import type { Server } from 'node:net';
import type { Duplex } from 'node:stream';
import { Aedes, type Client } from 'aedes';
import type { MQEmitter } from 'mqemitter';
import { BrokerLiveness } from './broker-liveness.js';
import { ClusterClients, installStaleWillGate } from './cluster-clients.js';
import { coalesceWrites } from './coalesce-writes.js';
import { createMq } from './mq.js';
import { BrokerPersistence } from './persistence.js';
import type { AedesPersistence } from './persistence-port.js';
import type { SqlitePersistence } from './persistence-sqlite.js';
import { installPartitionedSessions } from './partitioned-sessions.js';
import { installPublishBeforeAck } from './publish-before-ack.js';
import { installRegisteredClients } from './registered-clients.js';
import { installUnusedPacketIds, tracksPacketIds } from './unused-packet-ids.js';
import { installWillIdentity } from './will-identity.js';
import { RiskfuseError, errorMessage } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { createHooks, installDropGate, type Sessions } from './aedes-hooks.js';
import type { DeviceRegistry } from './authenticate.js';
import type { BrokerConfig } from './config.js';
import { CounterSet, type BrokerCounters } from './counters.js';
import { fileLimitedConnections, isFileLimitError, openFileLimit } from './file-limit.js';
import { guardPacketSize, maxRemainingLengthFor, type FrameProblem } from './limits.js';
import { attachPresence } from './presence.js';
import {
  closeServer,
  listenOn,
  tcpServer,
  tlsServer,
  wsServer,
  type Accept,
  type Transport,
  type WsListener,
} from './transports.js';

export interface BrokerDeps {
  readonly config: BrokerConfig;
  readonly registry: DeviceRegistry;
  readonly log: Logger;
  /** Aedes' session store; default the in-memory one. The caller destroys it after close(). */
  readonly persistence?: AedesPersistence;
  /**
   * Set when this broker is one of several sharing a session store and emitter (redis-backend.ts): the shared
   * emitter, and how often brokers announce they are alive (a dead broker's wills fire after three missed).
   */
  readonly cluster?: {
    readonly mq: MQEmitter;
    readonly heartbeatIntervalMs: number;
    /** Registers a call for when the shared emitter is back after losing its connection. */
    readonly onEmitterResumed?: (listener: () => void) => void;
  };
}

export interface ListeningPorts {
  readonly tcpPort: number;
  readonly wsPort?: number;
  readonly tlsPort?: number;
}

export interface RiskfuseBroker {
  /** Starts Aedes and the configured listeners; resolves with the ports actually bound. */
  listen(): Promise<ListeningPorts>;
  /** Stops accepting, closes every client (wills fire as for any server-side close), then Aedes. */
  close(): Promise<void>;
  /** A frozen snapshot, taken on each read. */
  readonly counters: BrokerCounters;
  readonly aedes: Aedes;
}

const DEV_MODE_WARNING =
  'MQTT_DEV_ANONYMOUS=true: clients without credentials are admitted WITHOUT TOPIC LIMITS — development only, never in production';

/** Aedes' default number of messages its emitter delivers at once. */
export const AEDES_CONCURRENCY = 100;

/** The part of an Aedes client closed when the emitter comes back. */
interface PersistentClient {
  readonly clean: boolean;
  close(): void;
}

/** Builds the broker; nothing listens until `listen()`. */
export function createBroker({
  config,
  registry,
  log: parentLog,
  persistence: givenPersistence,
  cluster,
}: BrokerDeps): RiskfuseBroker {
  const log = parentLog.child({ component: 'broker' });
  const counters = new CounterSet();
  const sessions: Sessions = new WeakMap();
  const dropped = new WeakSet<object>();
  const maxRemainingLength = maxRemainingLengthFor(config.maxPayloadBytes);
  const persistence = givenPersistence ?? (new BrokerPersistence() as unknown as AedesPersistence);

  const aedes = new Aedes({
    ...createHooks(sessions, dropped, {
      auth: { registry, serviceToken: config.serviceToken, devAnonymous: config.devAnonymous },
      maxPayloadBytes: config.maxPayloadBytes,
      counters,
      log,
    }),
    // Aedes' default emitter overflows the stack under a flood (see mq.ts); same concurrency as its default.
    // In a cluster, the Redis emitter with the same fix (redis-backend.ts).
    mq: cluster?.mq ?? createMq(AEDES_CONCURRENCY),
    ...(cluster === undefined ? {} : { heartbeatInterval: cluster.heartbeatIntervalMs }),
    // Sessions, retained messages and queued QoS 1 messages: the caller's store (SQLite or Redis in every process
    // the CLI starts, see persistence-config.ts), else the in-memory one with O(1) outgoing queues (persistence.ts).
    persistence,
    concurrency: AEDES_CONCURRENCY,
    connectTimeout: config.connectTimeoutMs,
    // Only MQTT 3.1 clients are held to it (3.1.1 has no limit); device ids may be 64 characters.
    maxClientsIdLength: 128,
  });
  // A will published by another broker goes out under this one's id and count, not the stored id with this
  // count (will-identity.ts). Installed first, so the gates below see the will itself.
  installWillIdentity(aedes);
  // A connection that ends before it was registered leaves the one registered under its client id alone
  // (registered-clients.ts).
  installRegisteredClients(aedes);
  installDropGate(aedes, dropped);
  // A packet id given to a persistent session is not one a message queued for it still carries (unused-packet-ids.ts).
  if (tracksPacketIds(persistence)) installUnusedPacketIds(aedes, persistence);
  // The hand-off (handoff.ts) lets a subscriber's PUBACK stand for storage: only the ingest's, which follows
  // its durable commit. Pinned by broker/test/handoff.test.ts and test/paho-interop.e2e.test.ts (s4_4).
  const handOff = (persistence as Partial<SqlitePersistence>).handOffOnlyTo;
  if (typeof handOff === 'function') {
    handOff.call(persistence, (client) => {
      const principal = sessions.get(client as Client)?.principal;
      return principal?.kind === 'service' && principal.name === 'ingest';
    });
  }
  // Ingest partition sessions get only their devices' messages (core/contracts/ingest-partitions.ts).
  installPartitionedSessions(aedes, persistence);
  const clusterClients = cluster === undefined ? undefined : new ClusterClients(aedes, cluster.mq);
  if (clusterClients !== undefined) installStaleWillGate(aedes, clusterClients, dropped, log);
  // Silence is taken for death only while this broker hears its own heartbeats (broker-liveness.ts).
  const liveness =
    cluster === undefined ? undefined : new BrokerLiveness(aedes, cluster.mq, cluster.heartbeatIntervalMs);
  liveness?.install(persistence);
  // Aedes 1.2 PUBACKs a QoS 1 message before storing it; store first, so an acknowledged reading survives a crash.
  installPublishBeforeAck(aedes, log);

  let closing = false;
  attachPresence(aedes, sessions, {
    log,
    isClosing: () => closing,
    connectedElsewhere: (clientId) => clusterClients?.connectedElsewhere(clientId) ?? false,
  });
  // Aedes emits 'error' when its session store fails under a publish or a will pass (Redis away); unhandled,
  // that would end the process, while the publish itself already failed and the device will send it again.
  (aedes as NodeJS.EventEmitter).on('error', (err: Error) =>
    log.error({ err: errorMessage(err) }, 'broker session store error'),
  );
  const forgetTimer =
    cluster === undefined
      ? undefined
      : setInterval(() => {
          if (liveness?.canJudge() === true) clusterClients?.forgetDeadBrokers();
        }, cluster.heartbeatIntervalMs * 4);
  forgetTimer?.unref();
  // Redis pub/sub keeps nothing: what was published while this broker's subscription connection was down was
  // queued for the persistent sessions (the ingest) but never delivered live, and Aedes replays a session's
  // queue only on CONNECT. So those sessions are closed and reconnect to get it; devices (clean) are left alone.
  // test/cluster.e2e.test.ts, "Redis is SIGKILLed and restarted", lost ~2 % of readings until their next
  // reconnect without this.
  cluster?.onEmitterResumed?.(() => {
    const clients = Object.values(
      (aedes as unknown as { clients: Record<string, PersistentClient> }).clients,
    );
    const persistent = clients.filter((c) => !c.clean);
    log.warn(
      { sessions: persistent.length },
      'message emitter back: reconnecting persistent sessions to replay their queues',
    );
    for (const c of persistent) c.close();
  });

  aedes.on('connackSent', (packet, client) => {
    if (packet.returnCode === 0) {
      counters.connectionsAccepted += 1;
      log.info({ clientId: client.id }, 'client connected');
    } else {
      counters.refused(packet.returnCode ?? -1);
    }
  });
  aedes.on('clientDisconnect', (client) => log.info({ clientId: client.id }, 'client disconnected'));
  aedes.on('clientError', (client, err) =>
    log.debug({ clientId: client.id, err: err.message }, 'client error'),
  );
  aedes.on('connectionError', (_client, err) => log.debug({ err: err.message }, 'connection error'));

  const connections = new Set<Duplex>();
  /** Connections the open-file limit leaves room for, set when the listeners are bound (broker/file-limit.ts). */
  let fileCeiling = Infinity;
  let lastFileLimitWarningMs = -Infinity;
  const overFileLimit = (transport: Transport): void => {
    counters.connectionsOverFileLimit += 1;
    // One warning a minute: at the limit every reconnecting device would otherwise log one.
    const now = Date.now();
    if (now - lastFileLimitWarningMs < 60_000) return;
    lastFileLimitWarningMs = now;
    log.error(
      {
        transport,
        openFileLimit: openFileLimit(),
        connections: connections.size,
        connectionsOverFileLimit: counters.connectionsOverFileLimit,
      },
      'open-file limit reached (EMFILE): closing new connections — raise the limit (ulimit -n, LimitNOFILE, ulimits in compose) or add brokers',
    );
  };

  const accept: Accept = (stream, transport, socket) => {
    if (closing) {
      stream.destroy();
      return;
    }
    if (connections.size >= fileCeiling) {
      overFileLimit(transport);
      stream.destroy();
      return;
    }
    if (config.maxConnections !== undefined && connections.size >= config.maxConnections) {
      counters.connectionsOverLimit += 1;
      log.warn(
        { transport, maxConnections: config.maxConnections },
        'connection limit reached, closing new connection',
      );
      stream.destroy();
      return;
    }
    // Nagle's algorithm holds small MQTT packets back by up to one round trip (~20 ms at p99 locally).
    socket.setNoDelay(true);
    // With Nagle off, each write would be its own segment and system call: batch them per loop turn instead.
    coalesceWrites(socket);
    connections.add(stream);
    stream.once('close', () => connections.delete(stream));
    const client = aedes.handle(stream);
    guardPacketSize(stream, maxRemainingLength, (problem) => {
      oversized(problem, transport, client.id);
      stream.destroy();
    });
  };

  const oversized = (problem: FrameProblem, transport: Transport, clientId: string | null): void => {
    if (problem.kind === 'oversized') {
      counters.oversizedPackets += 1;
      log.warn(
        {
          clientId,
          transport,
          packetBytes: problem.remainingLengthBytes,
          maxPayloadBytes: config.maxPayloadBytes,
        },
        'packet over the size limit, disconnecting',
      );
    } else {
      log.warn({ clientId, transport }, 'malformed packet length, disconnecting');
    }
  };

  const servers: (Server | HttpServer)[] = [];
  let ws: WsListener | undefined;
  let listening: Promise<ListeningPorts> | undefined;
  let closed: Promise<void> | undefined;

  async function start(): Promise<ListeningPorts> {
    await aedes.listen();
    const tcp = tcpServer(accept);
    servers.push(tcp);
    let ports: ListeningPorts = { tcpPort: await bind(tcp, config.port, 'MQTT_PORT') };
    if (config.wsPort !== undefined) {
      ws = wsServer({ maxFrameBytes: maxRemainingLength + 5 }, accept, () => {
        counters.oversizedPackets += 1;
        log.warn({ transport: 'ws' }, 'WebSocket frame over the size limit, disconnecting');
      });
      servers.push(ws.http);
      ports = { ...ports, wsPort: await bind(ws.http, config.wsPort, 'MQTT_WS_PORT') };
    }
    if (config.tlsPort !== undefined && config.tlsCertFile !== undefined && config.tlsKeyFile !== undefined) {
      const [cert, key] = await Promise.all([
        readFile(config.tlsCertFile),
        readFile(config.tlsKeyFile),
      ]).catch((err: unknown) => {
        throw new RiskfuseError(
          'CONFIG_INVALID',
          `cannot read the TLS certificate or key: ${errorMessage(err)}`,
          { cause: err },
        );
      });
      const tls = tlsServer({ cert, key, handshakeTimeoutMs: config.connectTimeoutMs }, accept);
      tls.on('tlsClientError', (err: Error) => log.debug({ err: err.message }, 'TLS handshake failed'));
      servers.push(tls);
      ports = { ...ports, tlsPort: await bind(tls, config.tlsPort, 'MQTT_TLS_PORT') };
    }

    watchFileLimit();
    if (config.serviceToken === undefined) {
      log.warn('MQTT_SERVICE_TOKEN is not set: no platform service (svc:<name>) can log in');
    }
    if (config.devAnonymous) {
      log.warn(DEV_MODE_WARNING);
      log.warn(
        { host: config.host, ...ports, devAnonymous: true },
        `MQTT broker listening — ${DEV_MODE_WARNING}`,
      );
    } else {
      log.info(
        { host: config.host, ...ports, maxPayloadBytes: config.maxPayloadBytes },
        'MQTT broker listening',
      );
    }
    return ports;
  }

  /** Sets the connection ceiling the open-file limit allows and keeps listener errors from ending the process. */
  function watchFileLimit(): void {
    const allowed = fileLimitedConnections();
    if (allowed !== undefined) fileCeiling = allowed;
    const configured = config.maxConnections;
    if (configured !== undefined && allowed !== undefined && configured > allowed) {
      log.warn(
        { maxConnections: configured, openFileLimit: openFileLimit(), connectionsAllowed: allowed },
        'MQTT_MAX_CONNECTIONS is above what the open-file limit allows; connections stop at the file limit',
      );
    } else {
      log.info(
        { maxConnections: configured ?? allowed ?? 'unlimited', openFileLimit: openFileLimit() ?? 'unknown' },
        'connection limit',
      );
    }
    for (const server of servers) {
      server.on('error', (err: Error) => {
        if (isFileLimitError(err)) overFileLimit('tcp');
        else log.error({ err: errorMessage(err) }, 'listener error');
      });
    }
  }

  async function bind(server: Server | HttpServer, port: number, variable: string): Promise<number> {
    try {
      return await listenOn(server, port, config.host);
    } catch (err) {
      throw new RiskfuseError(
        'CONFIG_INVALID',
        `cannot listen on ${config.host}:${port} (${variable}): ${errorMessage(err)}`,
        { cause: err },
      );
    }
  }

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => (stopping ??= shutDown());

  async function shutDown(): Promise<void> {
    closing = true;
    if (forgetTimer !== undefined) clearInterval(forgetTimer);
    const stopped = servers.map(closeServer);
    ws?.wss.close();
    await new Promise<void>((resolve) => aedes.close(() => resolve()));
    // Aedes only knows connections that have sent CONNECT; the rest would keep the servers open.
    for (const connection of connections) connection.destroy();
    await Promise.all(stopped);
    log.info('MQTT broker closed');
  }

  return {
    listen() {
      if (closed) return Promise.reject(new RiskfuseError('SHUTTING_DOWN', 'the broker is closed'));
      listening ??= start().catch(async (err: unknown) => {
        await stop();
        throw err;
      });
      return listening;
    },
    close() {
      closed ??= (listening ?? Promise.resolve()).then(stop, stop);
      return closed;
    },
    get counters() {
      return counters.snapshot({
        currentClients: aedes.connectedClients ?? 0,
        currentConnections: connections.size,
      });
    },
    aedes,
  };
}
