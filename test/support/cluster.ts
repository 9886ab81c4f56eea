import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import mqtt, { type MqttClient } from 'mqtt';
import { RedisOutgoing } from '../../broker/redis-outgoing.js';
import { parseConfig } from '../../core/config.js';
import { issueToken } from '../../core/credentials.js';
import { statusTopic, telemetryTopic } from '../../core/contracts/index.js';
import { silentLogger } from '../../core/logger.js';
import { openDatabase, stateConfigSpec, stateOn, type State } from '../../core/state/index.js';
import { openTelemetryStore } from '../../core/storage/open-telemetry-store.js';
import { telemetryConfigSpec } from '../../core/storage/telemetry-config.js';
import type { TelemetryStore } from '../../core/storage/telemetry-store.js';
import { freePort } from './child-process.js';
import { startHaproxy, type Haproxy } from './haproxy.js';
import { startInfluxd } from './influxd.js';
import { freshPostgresDatabase } from './postgres.js';
import { provisionStakes } from './provision.js';
import { startRedis, type RedisOptions, type RedisServer } from './redis.js';
import { spawnRiskfuse, type RiskfuseProcess } from './riskfuse-process.js';

/**
 * A broker cluster as a deployment runs it, every part its own process: Redis, two `riskfuse broker`s sharing
 * it, HAProxy (deploy/haproxy.cfg) in front, two `riskfuse ingest` workers splitting the stream into
 * partitions, PostgreSQL state and influxd telemetry. Devices are real MQTT clients publishing QoS 1 through
 * the balancer; what they were PUBACKed is recorded, to compare with what was stored.
 */
export interface Cluster {
  readonly redis: RedisServer;
  readonly haproxy: Haproxy;
  readonly brokers: RiskfuseProcess[];
  readonly workers: RiskfuseProcess[];
  readonly state: State;
  readonly store: TelemetryStore;
  readonly deviceIds: readonly string[];
  /** Starts broker i (0 or 1) again on its port, after a kill. */
  restartBroker(i: number): Promise<void>;
  /** Starts worker i again, after a kill. */
  restartWorker(i: number): Promise<void>;
  /** Devices publish QoS 1 every `intervalMs` until the returned stop(), which resolves with the acked keys. */
  publish(intervalMs: number): Run;
  /** The `device/seq` keys stored for the cluster's devices with device time from `fromMs` on. */
  stored(fromMs: number): Promise<string[]>;
  /**
   * The `device/seq` keys of readings still queued in Redis for a persistent session (the ingest partitions),
   * each with the session: what a reading PUBACKed to its device but not stored is waiting in, if anywhere.
   */
  queued(): Promise<Map<string, string>>;
  /** Polls until `expected` readings from `fromMs` on are stored or `timeoutMs` passes; the last count. */
  waitForStored(fromMs: number, expected: number, timeoutMs: number): Promise<number>;
  close(): Promise<void>;
}

/** One publishing run: its readings' device times start at `fromMs`, after every earlier run's. */
export interface Run {
  readonly fromMs: number;
  acked(): number;
  /** Stops publishing, waits for every publish in flight to be PUBACKed, disconnects; the acked keys. */
  stop(): Promise<Set<string>>;
}

export const PARTITIONS = 8;
/** Short, so that a dead broker's wills and a dead worker's partitions move within the test's seconds. */
export const HEARTBEAT_MS = 500;
export const LEASE_MS = 1_500;

export async function startCluster(
  name: string,
  options: { readonly devices: number; readonly redis?: RedisOptions },
): Promise<Cluster> {
  const dir = mkdtempSync(join(tmpdir(), `rf-cluster-${name}-`));
  const url = await freshPostgresDatabase(`cluster_${name}`);
  if (url === undefined) throw new Error('PostgreSQL is not available (install Debian postgresql)');
  const [redis, influxd] = await Promise.all([startRedis(options.redis), startInfluxd()]);
  const db = await openDatabase(parseConfig(stateConfigSpec, { STATE_DB_URL: url }), silentLogger, 'test');
  const state = stateOn(db);
  const deviceIds = Array.from({ length: options.devices }, (_, i) => `stk-cl-${String(i).padStart(3, '0')}`);
  const tokens = await provisionStakes(state, deviceIds);
  const serviceToken = issueToken();
  const influxEnv = {
    INFLUX_URL: influxd.url,
    INFLUX_DATABASE: `cluster_${name}`,
    INFLUX_TIMEOUT_MS: '2000',
  };
  const store = await openTelemetryStore(parseConfig(telemetryConfigSpec, influxEnv), silentLogger);
  const common = {
    DATA_DIR: dir,
    STATE_DB_URL: url,
    MQTT_SERVICE_TOKEN: serviceToken,
    LOG_LEVEL: 'info',
  };
  const brokerPorts = [await freePort(), await freePort()];
  const brokerEnv = (i: number) => ({
    ...common,
    MQTT_HOST: '127.0.0.1',
    MQTT_PORT: String(brokerPorts[i]),
    MQTT_PERSISTENCE: 'redis',
    MQTT_REDIS_URL: redis.url,
    MQTT_HEARTBEAT_INTERVAL_MS: String(HEARTBEAT_MS),
  });
  const startBroker = async (i: number): Promise<RiskfuseProcess> => {
    const p = spawnRiskfuse(['broker'], brokerEnv(i));
    await p.waitFor(/MQTT broker listening/, 90_000);
    return p;
  };
  const brokers = await Promise.all([startBroker(0), startBroker(1)]);
  const haproxy = await startHaproxy([`127.0.0.1:${brokerPorts[0]}`, `127.0.0.1:${brokerPorts[1]}`]);
  const workerEnv = (i: number) => ({
    ...common,
    ...influxEnv,
    MQTT_URL: haproxy.url,
    INGEST_CLIENT_ID: 'ingest',
    INGEST_PARTITIONS: String(PARTITIONS),
    INGEST_REDIS_URL: redis.url,
    INGEST_WORKER_ID: `worker-${i}`,
    INGEST_LEASE_MS: String(LEASE_MS),
    INGEST_FLUSH_INTERVAL_MS: '200',
  });
  const startWorker = async (i: number): Promise<RiskfuseProcess> => {
    const p = spawnRiskfuse(['ingest'], workerEnv(i));
    await p.waitFor(/"msg":"subscribed"/, 90_000);
    return p;
  };
  const workers = await Promise.all([startWorker(0), startWorker(1)]);

  /** Device times of each run start past the last one's, so runs are told apart in the store. */
  let nextBase = Date.now() - 86_400_000;
  const publish = (intervalMs: number): Run => {
    const acked = new Set<string>();
    let running = true;
    const clients: MqttClient[] = [];
    const base = nextBase;
    nextBase += 1_000_000;
    const loops = [...tokens].map(async ([id, token]) => {
      const client = await mqtt.connectAsync(haproxy.url, {
        clientId: id,
        username: id,
        password: token,
        clean: true,
        reconnectPeriod: 200,
        connectTimeout: 5_000,
        will: { topic: statusTopic(id), payload: Buffer.from('offline'), qos: 1, retain: true },
      });
      clients.push(client);
      client.on('connect', () => {
        client.publish(statusTopic(id), 'online', { qos: 1, retain: true });
      });
      client.publish(statusTopic(id), 'online', { qos: 1, retain: true });
      for (let seq = 1; running; seq++) {
        const payload = {
          ts: base + seq,
          seq,
          weightKg: 5000 - (seq % 1000),
          itemCount: 100,
          lat: 1,
          lon: 2,
          tamper: false,
          temperatureC: 20,
          humidityPct: 50,
          batteryPct: 80,
        };
        // Not awaited one by one. mqtt.js fails a publish still waiting for its PUBACK when the connection
        // drops (its store is flushed with "Connection closed"), so, like a device, this sends the same
        // reading again until it is PUBACKed: what the broker stored before it died arrives twice, and the
        // store keeps one.
        const payloadText = JSON.stringify(payload);
        const sent = (async () => {
          for (;;) {
            try {
              await client.publishAsync(telemetryTopic(id), payloadText, { qos: 1 });
              acked.add(`${id}/${seq}`);
              return;
            } catch {
              await new Promise((r) => setTimeout(r, 100));
            }
          }
        })();
        pending.add(sent);
        void sent.then(() => pending.delete(sent));
        await new Promise((r) => setTimeout(r, intervalMs));
      }
    });
    const pending = new Set<Promise<unknown>>();
    let stopping: Promise<Set<string>> | undefined;
    return {
      fromMs: base,
      acked: () => acked.size,
      stop() {
        stopping ??= (async () => {
          running = false;
          await Promise.all(loops);
          await Promise.allSettled([...pending]);
          await Promise.all(clients.map((c) => c.endAsync()));
          return acked;
        })();
        return stopping;
      },
    };
  };

  const stored = async (fromMs: number): Promise<string[]> => {
    const keys: string[] = [];
    for (const id of deviceIds) {
      const rows = await store.range({ deviceIds: [id], fromMs, toMs: Date.now() + 1, limit: 10_000 });
      keys.push(...rows.map((r) => `${r.deviceId}/${r.seq}`));
    }
    return keys;
  };

  const queued = async (): Promise<Map<string, string>> => {
    const db = new Redis(redis.url, { lazyConnect: true, maxRetriesPerRequest: 1 });
    const found = new Map<string, string>();
    try {
      await db.connect();
      const outgoing = new RedisOutgoing(db);
      for (let cursor = '0'; ;) {
        const [next, keys] = await db.scan(cursor, 'MATCH', 'outgoing:*', 'COUNT', 1000, 'TYPE', 'list');
        for (const key of keys) {
          const session = decodeURIComponent(key.slice('outgoing:'.length));
          for await (const packet of outgoing.stream({ id: session }, 1_000_000)) {
            const topic = String(packet.topic);
            if (!topic.endsWith('/telemetry')) continue;
            const reading = JSON.parse(String(packet.payload)) as { seq?: number };
            const device = topic.split('/')[2];
            if (reading.seq !== undefined) found.set(`${device}/${reading.seq}`, session);
          }
        }
        if (next === '0') break;
        cursor = next;
      }
    } finally {
      db.disconnect();
    }
    return found;
  };

  return {
    redis,
    haproxy,
    brokers,
    workers,
    state,
    store,
    deviceIds,
    async restartBroker(i) {
      brokers[i] = await startBroker(i);
    },
    async restartWorker(i) {
      workers[i] = await startWorker(i);
    },
    publish,
    stored,
    queued,
    async waitForStored(fromMs, expected, timeoutMs) {
      const end = Date.now() + timeoutMs;
      let n = 0;
      while (Date.now() < end) {
        n = await store.count({ fromMs }).catch(() => -1);
        if (n >= expected) return n;
        await new Promise((r) => setTimeout(r, 250));
      }
      return n;
    },
    async close() {
      await Promise.all(workers.map((w) => w.kill('SIGTERM')));
      await Promise.all(brokers.map((b) => b.kill('SIGTERM')));
      await haproxy.stop();
      await store.close();
      await state.close();
      await Promise.all([redis.stop(), influxd.stop()]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
