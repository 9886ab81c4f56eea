import { parseConfig } from '../core/config.js';
import { createLogger, type Logger } from '../core/logger.js';
import { loggingConfigSpec } from '../core/logging-config.js';
import { Shutdown } from '../core/shutdown.js';
import { runElected } from '../core/state/leader.js';
import { stateConfigSpec, type State } from '../core/state/index.js';
import { openStores } from '../core/storage/open-stores.js';
import { telemetryConfigSpec } from '../core/storage/telemetry-config.js';
import { createRisk, type RiskComponent } from './app.js';
import { riskConfigSpec } from './config.js';
import type { DriftAlertHooks } from './monitoring/monitor.js';
import { riskBackendConfigSpec } from './model/backend.js';

export const riskEnvSpecs = [
  riskConfigSpec,
  riskBackendConfigSpec,
  telemetryConfigSpec,
  stateConfigSpec,
  loggingConfigSpec,
] as const;

/**
 * `riskfuse risk`: the scoring service as its own process — periodic portfolio re-scoring with the champion,
 * challengers in shadow — until SIGINT/SIGTERM. (Event-triggered re-scoring needs the ingest's stored readings,
 * which only the all-in-one `riskfuse start` hands over in-process.)
 */
export async function riskMain(
  env: Record<string, string | undefined> = process.env,
  options: {
    readonly log?: Logger;
    readonly installSignalHandlers?: boolean;
    /** Where the champion's drift alerts go (bin/ wires the alert service; risk/ does not import alerts/). */
    readonly driftAlerts?: (state: State) => Promise<DriftAlertHooks>;
  } = {},
): Promise<{ risk: RiskComponent; close(): Promise<void> }> {
  const config = parseConfig(
    {
      ...riskConfigSpec,
      ...riskBackendConfigSpec,
      ...telemetryConfigSpec,
      ...stateConfigSpec,
      ...loggingConfigSpec,
    },
    env,
  );
  const log = options.log ?? createLogger({ name: 'riskfuse-risk', level: config.logLevel });
  const shutdown = new Shutdown(log);
  if (options.installSignalHandlers !== false) shutdown.onSignals();
  const { state, telemetry } = await openStores(config, log, shutdown, 'riskfuse-risk');
  const risk = await createRisk({ config, state, telemetry, log });
  shutdown.add('scoring', () => risk.close());
  // The periodic portfolio run is one per deployment: with several `riskfuse risk` processes on one PostgreSQL,
  // the holder of the `periodic-scoring` lock runs it and the others stand by (core/state/leader.ts).
  const election = runElected(state.db, 'periodic-scoring', risk, config, log);
  shutdown.add('scoring leadership', () => election.stop());
  // Model monitoring (drift, backtests) is daily and once per deployment too, under its own lock.
  if (options.driftAlerts !== undefined) risk.monitor.alertTo(await options.driftAlerts(state));
  const monitoring = runElected(state.db, 'model-monitoring', risk.monitor, config, log);
  shutdown.add('model monitoring leadership', () => monitoring.stop());
  log.info(
    { backend: risk.backend, champion: (await risk.registry.championRecord())?.version },
    'risk scoring started',
  );
  return { risk, close: () => shutdown.run('closed by caller') };
}
