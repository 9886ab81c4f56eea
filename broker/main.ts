import { createLogger, type Logger } from '../core/logger.js';
import { loggingConfigSpec } from '../core/logging-config.js';
import { Shutdown } from '../core/shutdown.js';
import { openState, stateConfigSpec, statePath } from '../core/state/index.js';
import { AEDES_CONCURRENCY, createBroker, type ListeningPorts, type RiskfuseBroker } from './app.js';
import { brokerConfigSpec, parseBrokerConfig } from './config.js';
import { brokerPersistenceConfigSpec, openBrokerBackend } from './persistence-config.js';

export const brokerEnvSpecs = [
  brokerConfigSpec,
  brokerPersistenceConfigSpec,
  stateConfigSpec,
  loggingConfigSpec,
] as const;

/** How often the counters are logged, so that what the broker refuses and drops is reported. */
const COUNTERS_LOG_INTERVAL_MS = 60_000;

export interface BrokerProcess {
  readonly ports: ListeningPorts;
  readonly broker: RiskfuseBroker;
  /** The ordered shutdown SIGINT/SIGTERM run too: the broker first, then the state store. */
  close(): Promise<void>;
}

/**
 * `riskfuse broker`: parses the configuration (one CONFIG_INVALID listing every problem), opens the
 * state store for the device registry, starts the broker and, unless told otherwise, closes both in
 * order on SIGINT/SIGTERM.
 */
export async function brokerMain(
  env: Record<string, string | undefined> = process.env,
  options: { readonly log?: Logger; readonly installSignalHandlers?: boolean } = {},
): Promise<BrokerProcess> {
  const config = parseBrokerConfig(env, {
    ...brokerPersistenceConfigSpec,
    ...stateConfigSpec,
    ...loggingConfigSpec,
  });
  const log = options.log ?? createLogger({ name: 'riskfuse-broker', level: config.logLevel });
  const shutdown = new Shutdown(log);
  if (options.installSignalHandlers !== false) shutdown.onSignals();

  const state = await openState(config, log, 'riskfuse-broker');
  shutdown.add('state store', () => state.close());
  log.info(
    state.db.dialect === 'sqlite' ? { statePath: statePath(config) } : { stateDb: state.db.dialect },
    'state store open',
  );

  // Registered before the broker, so it is destroyed after the broker has closed.
  const backend = openBrokerBackend(config, AEDES_CONCURRENCY, log);
  shutdown.add('broker session store', () => backend.persistence.destroy());
  const broker = createBroker({ config, registry: state.devices, log, ...backend });
  shutdown.add('broker', () => broker.close());
  let ports: ListeningPorts;
  try {
    ports = await broker.listen();
  } catch (err) {
    await shutdown.run('start failed');
    throw err;
  }
  const timer = setInterval(
    () => log.info({ counters: broker.counters }, 'broker counters'),
    COUNTERS_LOG_INTERVAL_MS,
  );
  timer.unref();
  shutdown.add('counters', () => clearInterval(timer));
  return { ports, broker, close: () => shutdown.run('closed by caller') };
}
