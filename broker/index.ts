/** The broker's public surface: build it (`createBroker`) or run it as a process (`brokerMain`). */
export { createBroker, type BrokerDeps, type ListeningPorts, type RiskfuseBroker } from './app.js';
export { brokerConfigSpec, parseBrokerConfig, type BrokerConfig } from './config.js';
export type { BrokerCounters, RefusalReason } from './counters.js';
export { SERVICE_USERNAME_PREFIX, type DeviceRegistry } from './authenticate.js';
export type { Principal } from './authorize.js';
export { brokerEnvSpecs, brokerMain, type BrokerProcess } from './main.js';
export {
  brokerPersistenceConfigSpec,
  brokerPersistencePath,
  openBrokerPersistence,
  type BrokerPersistenceConfig,
} from './persistence-config.js';
export type { AedesPersistence } from './persistence-port.js';
export { brokerDeviceSessions, brokerMetrics } from './device-sessions.js';
