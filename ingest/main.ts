import { parseConfig } from '../core/config.js';
import { createLogger, type Logger } from '../core/logger.js';
import { loggingConfigSpec } from '../core/logging-config.js';
import { Shutdown } from '../core/shutdown.js';
import { stateConfigSpec } from '../core/state/index.js';
import { openStores } from '../core/storage/open-stores.js';
import { telemetryConfigSpec } from '../core/storage/telemetry-config.js';
import { alertMetrics, alertsConfigSpec, createAlerts } from '../alerts/index.js';
import { createIngest, type Ingest } from './app.js';
import { ingestConfigSpec } from './config.js';

export const ingestEnvSpecs = [
  ingestConfigSpec,
  alertsConfigSpec,
  telemetryConfigSpec,
  stateConfigSpec,
  loggingConfigSpec,
] as const;

const COUNTERS_LOG_INTERVAL_MS = 10_000;

export interface IngestProcess {
  readonly ingest: Ingest;
  close(): Promise<void>;
}

/** `riskfuse ingest`: subscribes to the broker and stores readings until SIGINT/SIGTERM. */
export async function ingestMain(
  env: Record<string, string | undefined> = process.env,
  options: { readonly log?: Logger; readonly installSignalHandlers?: boolean } = {},
): Promise<IngestProcess> {
  // One parse over every spec, so all configuration problems are reported together.
  const config = parseConfig(
    {
      ...ingestConfigSpec,
      ...alertsConfigSpec,
      ...telemetryConfigSpec,
      ...stateConfigSpec,
      ...loggingConfigSpec,
    },
    env,
    ['serviceToken'],
  );
  const log = options.log ?? createLogger({ name: 'riskfuse-ingest', level: config.logLevel });
  const shutdown = new Shutdown(log);
  if (options.installSignalHandlers !== false) shutdown.onSignals();

  const { state, telemetry } = await openStores(config, log, shutdown, 'riskfuse-ingest');
  // The rule engine runs where readings arrive: fed in-process by the ingest's stored batches and presence.
  const alerts = await createAlerts({ state, config, log });
  shutdown.add('alerts', () => alerts.close());
  alerts.engine.start();
  const ingest = createIngest({
    config,
    telemetry,
    state,
    log,
    onStored: (readings) => alerts.engine.onReadings(readings),
    onPresence: (presence) => alerts.engine.onPresence(presence),
  });
  shutdown.add('ingest', () => ingest.stop());
  log.info({ mqttUrl: config.mqttUrl, telemetry: telemetry.backend }, 'ingest starting');
  try {
    await ingest.start();
  } catch (err) {
    await shutdown.run('start failed');
    throw err;
  }
  const timer = setInterval(
    () =>
      log.info(
        {
          counters: ingest.counters,
          alerts: alertMetrics(alerts)
            .samples()
            .filter((m) => m.value > 0),
        },
        'ingest counters',
      ),
    COUNTERS_LOG_INTERVAL_MS,
  );
  timer.unref();
  shutdown.add('counters', () => clearInterval(timer));
  return { ingest, close: () => shutdown.run('closed by caller') };
}
