import { join } from 'node:path';
import { defineConfig, oneOf, str, type ConfigOf } from '../core/config.js';
import type { Logger } from '../core/logger.js';
import { stateConfigSpec } from '../core/state/index.js';
import { BrokerPersistence } from './persistence.js';
import type { AedesPersistence } from './persistence-port.js';
import { createSqlitePersistence } from './persistence-sqlite.js';

/** Where the broker keeps its sessions: queued QoS 1/2 messages, subscriptions, retained messages, wills. */
export const brokerPersistenceConfigSpec = defineConfig({
  dataDir: stateConfigSpec.dataDir,
  persistence: oneOf('MQTT_PERSISTENCE', ['sqlite', 'memory'] as const, {
    doc: 'Broker sessions (queued messages, subscriptions, retained, wills): `sqlite` survives restarts and crashes',
    default: 'sqlite',
  }),
  persistencePath: str('MQTT_PERSISTENCE_PATH', {
    doc: 'SQLite file of the broker session store (MQTT_PERSISTENCE=sqlite); default DATA_DIR/broker.db',
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
  cfg: Pick<BrokerPersistenceConfig, 'dataDir' | 'persistence' | 'persistencePath'>,
  log: Logger,
): AedesPersistence {
  if (cfg.persistence === 'memory') {
    log.warn(
      'MQTT_PERSISTENCE=memory: a broker restart loses queued messages, persistent sessions and retained presence',
    );
    // The stock in-memory store typed as the port it implements (its contract suite: test/persistence.test.ts).
    return new BrokerPersistence() as unknown as AedesPersistence;
  }
  return createSqlitePersistence({ path: brokerPersistencePath(cfg), log });
}
