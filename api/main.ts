import type { AddressInfo } from 'node:net';
import { parseConfig } from '../core/config.js';
import type { DeviceSessions } from '../core/contracts/index.js';
import { createLogger, type Logger } from '../core/logger.js';
import { loggingConfigSpec } from '../core/logging-config.js';
import type { MetricsSource } from '../core/metrics.js';
import { Shutdown } from '../core/shutdown.js';
import { stateConfigSpec, type State } from '../core/state/index.js';
import { openStores } from '../core/storage/open-stores.js';
import { telemetryConfigSpec } from '../core/storage/telemetry-config.js';
import type { TelemetryStore } from '../core/storage/telemetry-store.js';
import { buildApp, type ApiApp } from './app.js';
import { bootstrapAdminKey } from './auth.js';
import { apiConfigSpec, type ApiConfig } from './config.js';
import { createRisk, riskBackendConfigSpec, riskConfigSpec, scoringMetrics } from '../risk/index.js';
import { createCredit, type CreditComponent } from '../risk/credit/credit-app.js';
import { creditConfigSpec } from '../risk/credit/config.js';
import { riskScores, type ScoresService } from './routes/scores.js';
import { alertMetrics, alertsConfigSpec, createAlerts, type AlertsComponent } from '../alerts/index.js';
import { createWebhooks, runElectedDelivery, webhookConfigSpec } from '../webhooks/index.js';
import type { WebhookService } from '../webhooks/index.js';

export const apiEnvSpecs = [
  apiConfigSpec,
  alertsConfigSpec,
  webhookConfigSpec,
  riskConfigSpec,
  creditConfigSpec,
  riskBackendConfigSpec,
  telemetryConfigSpec,
  stateConfigSpec,
  loggingConfigSpec,
] as const;

export interface RunningApi {
  readonly app: ApiApp;
  /** Base URL for clients on this machine, e.g. `http://127.0.0.1:8080`. */
  readonly url: string;
  readonly port: number;
  /** The admin key generated on this first start (already printed), else undefined. */
  readonly generatedAdminKey: string | undefined;
}

/**
 * Bootstraps the first admin key, builds the app and listens: the one place the API listens, for both
 * `riskfuse api` and `riskfuse start`. A generated admin key is written once to `printKey` (stdout by
 * default), never to the log.
 */
export async function startApi(deps: {
  readonly config: ApiConfig;
  readonly state: State;
  readonly telemetry: TelemetryStore;
  readonly log: Logger;
  readonly sessions?: DeviceSessions;
  readonly metrics?: readonly MetricsSource[];
  readonly scores?: ScoresService;
  readonly alerts?: AlertsComponent;
  readonly webhooks?: WebhookService;
  readonly credit?: CreditComponent;
  readonly printKey?: (line: string) => void;
}): Promise<RunningApi> {
  const { config, log } = deps;
  const boot = await bootstrapAdminKey(deps.state, config.apiAdminKey);
  if (boot.created) {
    log.info(
      { keyId: boot.key.id, source: boot.generated ? 'generated' : 'API_ADMIN_KEY' },
      'initial admin API key created',
    );
  }
  const app = await buildApp(deps);
  await app.listen({ host: config.apiHost, port: config.apiPort });
  const { port } = app.server.address() as AddressInfo;
  const host = config.apiHost === '0.0.0.0' || config.apiHost === '::' ? '127.0.0.1' : config.apiHost;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  const generated = boot.created ? boot.generated : undefined;
  if (generated !== undefined) {
    const print = deps.printKey ?? ((line: string) => process.stdout.write(`${line}\n`));
    print(`riskfuse API admin key (shown once, store it now): ${generated}`);
  }
  log.info({ url, docs: `${url}/docs` }, 'API listening');
  return { app, url, port, generatedAdminKey: generated };
}

export interface ApiProcess extends RunningApi {
  close(): Promise<void>;
}

/** `riskfuse api`: the HTTP API as its own process, on the state and telemetry stores, until SIGINT/SIGTERM. */
export async function apiMain(
  env: Record<string, string | undefined> = process.env,
  options: {
    readonly log?: Logger;
    readonly installSignalHandlers?: boolean;
    readonly printKey?: (line: string) => void;
  } = {},
): Promise<ApiProcess> {
  const config = parseConfig(
    {
      ...apiConfigSpec,
      ...alertsConfigSpec,
      ...webhookConfigSpec,
      ...riskConfigSpec,
      ...creditConfigSpec,
      ...riskBackendConfigSpec,
      ...telemetryConfigSpec,
      ...stateConfigSpec,
      ...loggingConfigSpec,
    },
    env,
  );
  const log = options.log ?? createLogger({ name: 'riskfuse-api', level: config.logLevel });
  const shutdown = new Shutdown(log);
  if (options.installSignalHandlers !== false) shutdown.onSignals();
  const { state, telemetry } = await openStores(config, log, shutdown, 'riskfuse-api');
  // Scores are read from the state store; on-demand re-scoring runs here with the same registry (the
  // periodic scoring loop belongs to `riskfuse risk`).
  const risk = await createRisk({ config, state, telemetry, log });
  shutdown.add('risk', () => risk.close());
  // Alerts are evaluated where readings arrive (riskfuse ingest / start); here: the list, lifecycle, rules and
  // the live stream over the shared state store.
  const alerts = await createAlerts({ state, config, log });
  shutdown.add('alerts', () => alerts.close());
  // Webhook delivery runs in an API process (the elected one among replicas, see below); events written to the
  // outbox by `riskfuse risk` (and the alert engine) on the same state are delivered from there.
  const webhooks = createWebhooks({ config, state, log });
  // Credit: the policy in force, applications and decisions. Coverage and EL are recomputed where readings
  // arrive (riskfuse start); here they are read from the state, and recommendations compute from them.
  const credit = createCredit({ config, state, telemetry, log });
  await credit.monitor.loadRegistry();
  let running: RunningApi;
  try {
    running = await startApi({
      config,
      state,
      telemetry,
      log,
      scores: riskScores(risk),
      alerts,
      webhooks: webhooks.service,
      credit,
      metrics: [scoringMetrics(risk.scoring), alertMetrics(alerts), webhooks.metrics],
      ...(options.printKey ? { printKey: options.printKey } : {}),
    });
  } catch (err) {
    await shutdown.run('start failed');
    throw err;
  }
  shutdown.add('api', () => running.app.close());
  const deliverer = webhooks.deliverer;
  if (deliverer !== undefined) {
    // One deliverer per deployment: with several API replicas on one PostgreSQL, the holder of the
    // `webhook-delivery` lock delivers and the others stand by (core/state/leader.ts). Stopped before the API
    // and the stores: no new attempts, the ones in flight finish or time out.
    const election = runElectedDelivery(deliverer, state, config, log);
    shutdown.add('webhook delivery', () => election.stop());
  }
  return { ...running, close: () => shutdown.run('closed by caller') };
}
