import { join } from 'node:path';
import { defineConfig, int, oneOf, str, url, type ConfigOf } from '../core/config.js';
import { RiskfuseError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { stateConfigSpec } from '../core/state/index.js';
import { BrokerPersistence } from './persistence.js';
import type { AedesPersistence } from './persistence-port.js';
import type { BrokerDeps } from './app.js';
import { openRedisBackend } from './redis-backend.js';
import { createSqlitePersistence } from './persistence-sqlite.js';

/** Where the broker keeps its sessions: queued QoS 1/2 messages, subscriptions, retained messages, wills. */
export const brokerPersistenceConfigSpec = defineConfig({
  dataDir: stateConfigSpec.dataDir,
  persistence: oneOf('MQTT_PERSISTENCE', ['sqlite', 'memory', 'redis'] as const, {
    doc: 'Broker sessions (queued messages, subscriptions, retained, wills): `sqlite` survives restarts and crashes; `redis` is shared by every broker on MQTT_REDIS_URL (a cluster behind a TCP balancer)',
    default: 'sqlite',
  }),
  redisUrl: url('MQTT_REDIS_URL', {
    doc: 'Redis of a broker cluster (MQTT_PERSISTENCE=redis): sessions, retained messages, wills and queued messages, and every message between brokers (redis://[:password@]host:port[/db])',
    secret: true,
  }),
  heartbeatIntervalMs: int('MQTT_HEARTBEAT_INTERVAL_MS', {
    doc: 'MQTT_PERSISTENCE=redis: how often a broker tells the others it is alive; a broker silent for 3 intervals is dead and its clients’ wills are published within 4 more',
    unit: 'ms',
    default: 5000,
    min: 100,
    max: 600_000,
  }),
  persistencePath: str('MQTT_PERSISTENCE_PATH', {
    doc: 'SQLite file of the broker session store (MQTT_PERSISTENCE=sqlite); default DATA_DIR/broker.db',
  }),
  handoffMs: int('MQTT_HANDOFF_MS', {
    doc: 'MQTT_PERSISTENCE=sqlite: a QoS 1 message queued for the connected ingest service’s session (svc:ingest) is written to the session store only if that session has not acknowledged it within this time (or disconnects first); the device’s PUBACK waits for one or the other. 0 = write every message before its PUBACK',
    unit: 'ms',
    default: 5000,
    min: 0,
    max: 60_000,
  }),
});

export type BrokerPersistenceConfig = ConfigOf<typeof brokerPersistenceConfigSpec>;

export function brokerPersistencePath(
  cfg: Pick<BrokerPersistenceConfig, 'dataDir' | 'persistencePath'>,
): string {
  return cfg.persistencePath ?? join(cfg.dataDir, 'broker.db');
}

/**
 * Opens the configured session store, to pass to `createBroker` as `persistence`. The caller destroys it
 * (`destroy()`) after the broker has closed.
 */
export function openBrokerPersistence(
  cfg: Pick<BrokerPersistenceConfig, 'dataDir' | 'persistence' | 'persistencePath'> &
    Partial<Pick<BrokerPersistenceConfig, 'handoffMs'>>,
  log: Logger,
): AedesPersistence {
  if (cfg.persistence === 'redis') {
    throw new RiskfuseError(
      'CONFIG_INVALID',
      'MQTT_PERSISTENCE=redis is for `riskfuse broker` processes sharing one Redis (a cluster); the all-in-one process keeps its sessions in sqlite or memory',
    );
  }
  if (cfg.persistence === 'memory') {
    log.warn(
      'MQTT_PERSISTENCE=memory: a broker restart loses queued messages, persistent sessions and retained presence',
    );
    // The stock in-memory store typed as the port it implements (its contract suite: test/persistence.test.ts).
    return new BrokerPersistence() as unknown as AedesPersistence;
  }
  return createSqlitePersistence({
    path: brokerPersistencePath(cfg),
    log,
    ...(cfg.handoffMs === undefined ? {} : { handoffMs: cfg.handoffMs }),
  });
}

/** The session store and, for `redis`, the cluster's shared emitter: `persistence` and `cluster` of `BrokerDeps`. */
export function openBrokerBackend(
  cfg: Pick<
    BrokerPersistenceConfig,
    'dataDir' | 'persistence' | 'persistencePath' | 'redisUrl' | 'heartbeatIntervalMs'
  > &
    Partial<Pick<BrokerPersistenceConfig, 'handoffMs'>>,
  concurrency: number,
  log: Logger,
): Required<Pick<BrokerDeps, 'persistence'>> & Pick<BrokerDeps, 'cluster'> {
  if (cfg.persistence !== 'redis') return { persistence: openBrokerPersistence(cfg, log) };
  if (cfg.redisUrl === undefined) {
    throw new RiskfuseError('CONFIG_INVALID', 'MQTT_PERSISTENCE=redis needs MQTT_REDIS_URL');
  }
  const { persistence, mq, onEmitterResumed } = openRedisBackend(cfg.redisUrl, concurrency, log);
  return { persistence, cluster: { mq, heartbeatIntervalMs: cfg.heartbeatIntervalMs, onEmitterResumed } };
}
