import { join, resolve } from 'node:path';
import {
  alertMetrics,
  alertsConfigSpec,
  createAlerts,
  per100BorrowersWeek,
  modelDriftAlerts,
  policyBreachAlerts,
} from '../alerts/index.js';
import { apiConfigSpec, riskScores, startApi } from '../api/index.js';
import { createCredit } from '../risk/credit/credit-app.js';
import { creditConfigSpec } from '../risk/credit/config.js';
import { brokerConfigSpec, brokerDeviceSessions, brokerMetrics, createBroker } from '../broker/index.js';
import { brokerPersistenceConfigSpec, openBrokerPersistence } from '../broker/persistence-config.js';
import { bool, defineConfig, int, parseConfig, str } from '../core/config.js';
import type { DeviceKind, Reading } from '../core/contracts/index.js';
import { issueToken } from '../core/credentials.js';
import { errorMessage } from '../core/errors.js';
import { createLogger } from '../core/logger.js';
import { loggingConfigSpec } from '../core/logging-config.js';
import { Shutdown } from '../core/shutdown.js';
import { openState, stateConfigSpec } from '../core/state/index.js';
import { runElected } from '../core/state/leader.js';
import { openTelemetryStore } from '../core/storage/open-telemetry-store.js';
import { RetentionJob } from '../core/storage/retention.js';
import { telemetryConfigSpec } from '../core/storage/telemetry-config.js';
import { createIngest } from '../ingest/app.js';
import { ingestConfigSpec } from '../ingest/config.js';
import { createRisk } from '../risk/app.js';
import { scoringMetrics } from '../risk/scoring-metrics.js';
import { riskConfigSpec } from '../risk/config.js';
import { riskBackendConfigSpec } from '../risk/model/backend.js';
import { ingestMetrics } from '../ingest/metrics.js';
import { createWebhooks, runElectedDelivery, webhookConfigSpec } from '../webhooks/index.js';
import {
  demoScenarios,
  generateWorld,
  provisionWorld,
  runSimulation,
  simulateConfigSpec,
  type SimulationProgress,
} from '../simulators/index.js';

const DAY_MS = 86_400_000;

export const startConfigSpec = defineConfig({
  demo: bool('DEMO', {
    doc: 'Run the simulated demo world (its devices over MQTT, its loan book); sized and seeded by SIM_*',
    default: true,
  }),
  demoScenarios: str('DEMO_SCENARIOS', {
    doc: 'Scenarios in the demo world: auto (each fraud kind, an outage and an off-site inspection on seeded borrowers and days of the replay), none, or specs like removal:b0003:2,tamper:b0010:4',
    default: 'auto',
  }),
  progressIntervalMs: int('PROGRESS_INTERVAL_MS', {
    doc: 'How often the progress line is refreshed',
    unit: 'ms',
    default: 1000,
    min: 100,
  }),
});

export const startEnvSpecs = [
  startConfigSpec,
  apiConfigSpec,
  alertsConfigSpec,
  webhookConfigSpec,
  simulateConfigSpec,
  brokerConfigSpec,
  brokerPersistenceConfigSpec,
  ingestConfigSpec,
  riskConfigSpec,
  creditConfigSpec,
  riskBackendConfigSpec,
  telemetryConfigSpec,
  stateConfigSpec,
  loggingConfigSpec,
] as const;

const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');

/**
 * `riskfuse start` (= `npm start`): broker, ingest, the API and the demo world in one process, on SQLite under
 * DATA_DIR unless INFLUX_URL is set. Logs go to DATA_DIR/riskfuse.log so the console keeps a readable
 * progress line; Ctrl-C stops devices, flushes the ingest, closes the broker and the stores, in that order.
 */
export async function startMain(env: Record<string, string | undefined>): Promise<void> {
  const config = parseConfig(
    {
      ...startConfigSpec,
      ...apiConfigSpec,
      ...alertsConfigSpec,
      ...webhookConfigSpec,
      ...simulateConfigSpec,
      ...brokerConfigSpec,
      ...brokerPersistenceConfigSpec,
      ...ingestConfigSpec,
      ...riskConfigSpec,
      ...creditConfigSpec,
      ...riskBackendConfigSpec,
      ...telemetryConfigSpec,
      ...stateConfigSpec,
      ...loggingConfigSpec,
    },
    env,
  );
  const logFile = resolve(join(config.dataDir, 'riskfuse.log'));
  const log = createLogger({ name: 'riskfuse', level: config.logLevel, file: logFile });
  const out = (line: string) => process.stderr.write(`${line}\n`);
  const shutdown = new Shutdown(log);
  const tty = process.stderr.isTTY;

  // All-in-one: when no service token is configured, ingest and broker share a random one for this run only.
  const serviceToken = config.serviceToken ?? issueToken();

  // The embedded SQLite file under DATA_DIR unless STATE_DB_URL names a PostgreSQL database.
  const state = await openState(config, log, 'riskfuse-start');
  shutdown.add('state store', () => state.close());
  const telemetry = await openTelemetryStore(config, log);
  shutdown.add('telemetry store', () => telemetry.close());

  // Registered before the broker, so it is destroyed after the broker has closed.
  const persistence = openBrokerPersistence(config, log);
  shutdown.add('broker session store', () => persistence.destroy());
  const broker = createBroker({
    config: { ...config, serviceToken },
    registry: state.devices,
    log,
    persistence,
  });
  shutdown.add('broker', () => broker.close());
  const ports = await broker.listen().catch(async (err: unknown) => {
    await shutdown.run('start failed');
    throw err;
  });
  const mqttUrl = `mqtt://127.0.0.1:${ports.tcpPort}`;

  const risk = await createRisk({ config, state, telemetry, log });
  shutdown.add('risk scoring', () => risk.close());
  // Retention of raw readings, aggregates and scores: one replica runs it (core/storage/retention.ts).
  const retention = runElected(
    state.db,
    'retention',
    new RetentionJob({ config, telemetry, scores: state.scores, log }),
    config,
    log,
  );
  shutdown.add('retention', () => retention.stop());

  // Alerts: the rule engine evaluates readings and presence as the ingest stores them, and score changes as
  // the scoring service makes them; alerts and their events go to the state store's outbox.
  const alerts = await createAlerts({ state, config, log });
  shutdown.add('alerts', () => alerts.close());
  // The engine's inputs never reject: a rule failure is logged and counted there.
  risk.scoring.on('score-changed', (change) => void alerts.engine.onScoreChange(change));
  alerts.engine.start();

  // Credit: coverage, LGD and EL move with the stakes' readings and presence and with score changes; a new
  // policy breach opens its alert through the alert service, in the transaction that records it.
  // Elected (`credit-monitor` lock), as in `riskfuse risk`: with several `riskfuse start` on one PostgreSQL,
  // one recomputes the figures and announces each breach once; the others only stand by (their ingests'
  // readings reach the leader through the telemetry store, re-read at each refresh). On SQLite this process
  // always leads. Pinned by test/start-credit-elected.e2e.test.ts.
  const credit = createCredit({
    config,
    state,
    telemetry,
    log,
    reloadObservations: state.db.dialect === 'postgres',
    ...policyBreachAlerts(alerts.service),
  });
  shutdown.add('credit', () => credit.close());
  const creditElection = runElected(state.db, 'credit-monitor', credit.monitor, config, log);
  shutdown.add('credit leadership', () => creditElection.stop());
  risk.scoring.on('score-changed', (change) => {
    if (credit.monitor.started) credit.monitor.onScoreChange(change);
  });

  const storedByKind: Record<DeviceKind, number> = { stake: 0, helmet: 0, satellite: 0 };
  const ingest = createIngest({
    config: { ...config, mqttUrl, serviceToken },
    telemetry,
    state,
    log,
    onStored: (readings: readonly Reading[]) => {
      for (const r of readings) storedByKind[r.kind] += 1;
      risk.scoring.notifyReadings(readings);
      void alerts.engine.onReadings(readings);
      if (credit.monitor.started) credit.monitor.onReadings(readings);
    },
    onPresence: (presence) => {
      void alerts.engine.onPresence(presence);
      if (credit.monitor.started) credit.monitor.onPresence(presence);
    },
  });
  shutdown.add('ingest', () => ingest.stop());
  await ingest.start();

  // Webhooks are delivered from this process (the one owner in the all-in-one setup).
  const webhooks = createWebhooks({ config, state, log });

  // The API shares this process's stores and broker: revoking a device closes its connection at once. A key
  // generated on the first start goes to stdout once, never to the log file.
  const api = await startApi({
    config,
    state,
    telemetry,
    log,
    sessions: brokerDeviceSessions(broker),
    metrics: [
      ingestMetrics(ingest),
      brokerMetrics(broker),
      scoringMetrics(risk.scoring),
      alertMetrics(alerts),
      credit.metrics,
      webhooks.metrics,
    ],
    scores: riskScores(risk),
    alerts,
    credit,
    webhooks: webhooks.service,
  }).catch(async (err: unknown) => {
    await shutdown.run('start failed');
    throw err;
  });
  shutdown.add('api', () => api.app.close());
  const deliverer = webhooks.deliverer;
  if (deliverer !== undefined) {
    // Elected like in `riskfuse api`: on the embedded SQLite this process always leads; on PostgreSQL, with
    // other replicas, the lock holder delivers.
    const delivery = runElectedDelivery(deliverer, state, config, log);
    shutdown.add('webhook delivery', () => delivery.stop());
  }

  let simulation: ReturnType<typeof runSimulation> | undefined;
  let lastProgress: SimulationProgress | undefined;
  let worldLine = 'off (DEMO=false)';
  let backtested = false;
  /** The demo world's start and size: the progress line's alerts per 100 borrowers per simulated week. */
  let demo: { startMs: number; borrowers: number } | undefined;
  if (config.demo) {
    // The world starts at 00:00 UTC, as `riskfuse simulate` starts it, so both give the same world.
    const startMs = Math.floor((Date.now() - config.startDaysAgo * DAY_MS) / DAY_MS) * DAY_MS;
    const scenarios = demoScenarios(config.demoScenarios, {
      seed: config.seed,
      borrowers: config.borrowers,
      replayDays: config.startDaysAgo,
    });
    const world = generateWorld({ seed: config.seed, borrowers: config.borrowers, startMs, scenarios });
    const provisioned = await provisionWorld(world, state);
    // The credit monitor started on the registry as it was; the world's lots and stakes count from now.
    if (credit.monitor.started) await credit.monitor.reload();
    demo = { startMs, borrowers: provisioned.borrowers };
    // Scores made while the demo replays past days see days that are still arriving: stored, not announced.
    risk.scoring.holdChanges(true);
    simulation = runSimulation({
      world,
      stateStore: state,
      mqttUrl,
      tokens: provisioned.tokens,
      speed: config.speed,
      startMs,
      connectRatePerS: config.connectRatePerS,
      maxQueuedReadings: config.maxQueuedReadings,
      log,
      onProgress: (p) => {
        lastProgress = p;
        // Once the replayed days are in, score the portfolio on them and announce score changes against that
        // from then on; and score each replayed day as it was at its end (point in time), so the score history
        // and the dashboard's trends start with the replay rather than with this start.
        if (p.caughtUp && !backtested) {
          backtested = true;
          void risk.scoring
            .scorePortfolio('periodic')
            .catch(() => undefined)
            .finally(() => risk.scoring.holdChanges(false));
          const times: number[] = [];
          for (let at = startMs + DAY_MS; at < p.simNowMs; at += DAY_MS) times.push(at);
          void risk.scoring.backtest(times).then(
            (run) => {
              // The replayed days are scored: the model monitoring has a population and a history to judge.
              void risk.monitor
                .runOnce()
                .catch((err: unknown) => log.warn({ err: errorMessage(err) }, 'model monitoring failed'));
              out(
                `  risk scoring  backtested the replayed days: ${fmt(run.borrowers)} borrowers at the end of each of ${fmt(times.length)} days (score history)`,
              );
            },
            (err: unknown) => log.warn({ err: errorMessage(err) }, 'backtest of the replayed days failed'),
          );
        }
      },
    });
    const sim = simulation;
    shutdown.add('simulated devices', async () => void (await sim.stop()));
    worldLine = `${fmt(provisioned.borrowers)} borrowers, ${fmt(provisioned.sites)} sites, ${fmt(provisioned.lots)} pledged lots, ${fmt(provisioned.devices)} devices (seed ${config.seed}); replaying ${config.startDaysAgo} days at ${config.speed} sim h/s, then real time`;
  }

  const scoring = runElected(state.db, 'periodic-scoring', risk, config, log);
  shutdown.add('scoring leadership', () => scoring.stop());
  // Model monitoring (drift against the training reference, backtests), daily; the champion's drift is alerted.
  risk.monitor.alertTo(modelDriftAlerts(alerts.service));
  const monitoring = runElected(state.db, 'model-monitoring', risk.monitor, config, log);
  shutdown.add('model monitoring leadership', () => monitoring.stop());
  const champion = await risk.registry.championRecord();
  const riskLine =
    champion === undefined
      ? 'no champion model (see riskfuse models)'
      : `champion ${champion.version} (${champion.name}${risk.installedDefault !== undefined ? ', the shipped default' : ''}), portfolio every ${fmt(config.scoreIntervalMs / 1000)} s + on significant readings; TensorFlow.js ${risk.backend}`;
  const telemetryLine =
    telemetry.backend === 'influxdb'
      ? `InfluxDB ${config.influxUrl ?? ''} database ${config.influxDatabase}`
      : `SQLite ${resolve(config.telemetryDbPath ?? join(config.dataDir, 'telemetry.db'))}`;
  out('riskfuse — broker, ingest, risk scoring, API and demo world in one process');
  out(
    `  MQTT broker   mqtt://${config.host}:${ports.tcpPort}${ports.wsPort ? `, ws://${config.host}:${ports.wsPort}` : ''}${ports.tlsPort ? `, mqtts://${config.host}:${ports.tlsPort}` : ''}`,
  );
  out(`  API           ${api.url}/v1 · docs ${api.url}/docs · metrics ${api.url}/metrics`);
  out(
    `  API key       ${api.generatedAdminKey !== undefined ? 'admin key printed above, once: store it now' : config.apiAdminKey !== undefined ? 'API_ADMIN_KEY' : 'the admin key printed on the first start (or create one with it)'}`,
  );
  out(`  telemetry     ${telemetryLine}`);
  const stateLine =
    state.db.dialect === 'postgres'
      ? `PostgreSQL ${state.db.location}`
      : `SQLite ${resolve(state.db.location)}`;
  out(`  state         ${stateLine} (registry, portfolio, loan book, dead letters)`);
  out(`  logs          ${logFile}`);
  out(`  demo world    ${worldLine}`);
  out(`  risk scoring  ${riskLine}`);
  const rulesOn = alerts.rules.list().filter((r) => r.enabled).length;
  out(
    `  alerts        ${rulesOn} rules on${config.alertRulesFile === undefined ? ' (built-in defaults)' : ` (${config.alertRulesFile})`}; ${fmt(await alerts.service.countActive())} open · ${api.url}/v1/alerts · live ${api.url}/v1/alerts/stream`,
  );
  out('Ctrl-C to stop.');

  let lastTotal = 0;
  let lastAt = Date.now();
  let ratePerS = 0;
  let lastPrinted = 0;
  const progress = setInterval(() => {
    const c = ingest.counters;
    const total = c.readingsStored;
    const t = Date.now();
    ratePerS = ((total - lastTotal) * 1000) / Math.max(1, t - lastAt);
    lastTotal = total;
    lastAt = t;
    const sim = lastProgress
      ? ` · sim ${new Date(lastProgress.simNowMs).toISOString().slice(0, 16).replace('T', ' ')}${lastProgress.caughtUp ? ' (live)' : ' (replaying)'}`
      : '';
    // The figure `npm run eval:alerts` reports too (alertsPer100BorrowersWeek), over the simulated time so far.
    const per100 =
      lastProgress && demo && lastProgress.simNowMs - demo.startMs > DAY_MS
        ? per100BorrowersWeek(alerts.service.counters.opened, {
            borrowers: demo.borrowers,
            fromMs: demo.startMs,
            toMs: lastProgress.simNowMs,
          })
        : undefined;
    const per100w = per100 === undefined ? '' : ` (${per100.toFixed(1)} per 100 borrowers per week)`;
    const line = `stored ${fmt(total)} readings (stake ${fmt(storedByKind.stake)} · helmet ${fmt(storedByKind.helmet)} · satellite ${fmt(storedByKind.satellite)}) · ${fmt(ratePerS)}/s · dead letters ${fmt(c.readingsRejected)} · buffered ${fmt(c.bufferedReadings)} · scores ${fmt(risk.scoring.counters.borrowersScored)} · alerts opened ${fmt(alerts.service.counters.opened)}${per100w}${sim}`;
    if (tty) process.stderr.write(`\r\x1b[2K${line}`);
    else if (t - lastPrinted >= 5000 || lastPrinted === 0) {
      out(line);
      lastPrinted = t;
    }
  }, config.progressIntervalMs);
  shutdown.add('progress', () => {
    clearInterval(progress);
    if (tty) process.stderr.write('\n');
    out('stopping: devices, then ingest (flushing), broker, stores …');
  });

  shutdown.onSignals(() => out(`stopped. ${fmt(ingest.counters.readingsStored)} readings stored this run.`));
}
