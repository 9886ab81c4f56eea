import { parseConfig } from '../core/config.js';
import { createLogger, type Logger } from '../core/logger.js';
import { loggingConfigSpec } from '../core/logging-config.js';
import { Shutdown } from '../core/shutdown.js';
import { runElected } from '../core/state/leader.js';
import { stateConfigSpec, type State } from '../core/state/index.js';
import { openStores } from '../core/storage/open-stores.js';
import { RetentionJob } from '../core/storage/retention.js';
import { telemetryConfigSpec } from '../core/storage/telemetry-config.js';
import { createRisk, type RiskComponent } from './app.js';
import { riskConfigSpec } from './config.js';
import type { DriftAlertHooks } from './monitoring/monitor.js';
import { riskBackendConfigSpec } from './model/backend.js';
import { createCredit, type CreditComponent } from './credit/credit-app.js';
import { creditConfigSpec } from './credit/config.js';
import type { CreditMonitorOptions } from './credit/credit-monitor.js';

export const riskEnvSpecs = [
  riskConfigSpec,
  riskBackendConfigSpec,
  telemetryConfigSpec,
  stateConfigSpec,
  creditConfigSpec,
  loggingConfigSpec,
] as const;

/** What opens the alert of a new policy breach (the alerts component; wired by bin/, which may import it). */
export type CreditBreachHooks = Pick<CreditMonitorOptions, 'onBreach' | 'onCleared'>;

/**
 * `riskfuse risk`: the scoring service and the credit monitor as their own process — periodic portfolio
 * re-scoring with the champion, challengers in shadow; EAD, coverage, LGD, EL and policy breaches recomputed
 * every CREDIT_REFRESH_INTERVAL_MS — until SIGINT/SIGTERM. (Event-triggered re-scoring and the credit
 * monitor's within-seconds path need the ingest's stored readings, which only the all-in-one `riskfuse start`
 * hands over in-process; here the credit monitor re-reads the stakes' latest state from the telemetry store at
 * each refresh.)
 */
export async function riskMain(
  env: Record<string, string | undefined> = process.env,
  options: {
    readonly log?: Logger;
    readonly installSignalHandlers?: boolean;
    readonly creditHooks?: (state: State) => Promise<CreditBreachHooks>;
    /** Where the champion's drift alerts go (bin/ wires the alert service; risk/ does not import alerts/). */
    readonly driftAlerts?: (state: State) => Promise<DriftAlertHooks>;
  } = {},
): Promise<{ risk: RiskComponent; credit: CreditComponent; close(): Promise<void> }> {
  const config = parseConfig(
    {
      ...riskConfigSpec,
      ...riskBackendConfigSpec,
      ...telemetryConfigSpec,
      ...stateConfigSpec,
      ...creditConfigSpec,
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
  // Retention of raw readings, aggregates and scores: one replica runs it (core/storage/retention.ts).
  const retention = runElected(
    state.db,
    'retention',
    new RetentionJob({ config, telemetry, scores: state.scores, log }),
    config,
    log,
  );
  shutdown.add('retention', () => retention.stop());
  // The periodic portfolio run is one per deployment: with several `riskfuse risk` processes on one PostgreSQL,
  // the holder of the `periodic-scoring` lock runs it and the others stand by (core/state/leader.ts).
  const election = runElected(state.db, 'periodic-scoring', risk, config, log);
  shutdown.add('scoring leadership', () => election.stop());
  // The credit monitor likewise runs once per deployment (`credit-monitor` lock): two processes recomputing
  // the same borrowers would race on their figures and could each announce the same breach. Pinned by
  // risk/test/credit/credit-elected.test.ts.
  const hooks = options.creditHooks === undefined ? {} : await options.creditHooks(state);
  const credit = createCredit({ config, state, telemetry, log, reloadObservations: true, ...hooks });
  shutdown.add('credit', () => credit.close());
  risk.scoring.on('score-changed', (change) => {
    if (credit.monitor.running) credit.monitor.onScoreChange(change);
  });
  const creditElection = runElected(state.db, 'credit-monitor', credit.monitor, config, log);
  shutdown.add('credit leadership', () => creditElection.stop());
  // Model monitoring (drift, backtests) is daily and once per deployment too, under its own lock.
  if (options.driftAlerts !== undefined) risk.monitor.alertTo(await options.driftAlerts(state));
  const monitoring = runElected(state.db, 'model-monitoring', risk.monitor, config, log);
  shutdown.add('model monitoring leadership', () => monitoring.stop());
  log.info(
    { backend: risk.backend, champion: (await risk.registry.championRecord())?.version },
    'risk scoring started',
  );
  return { risk, credit, close: () => shutdown.run('closed by caller') };
}
