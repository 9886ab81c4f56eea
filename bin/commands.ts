import type { CommandHelp } from '../core/cli.js';
import { stateCommand, stateHelp } from '../core/state/state-cli.js';
import type { State } from '../core/state/index.js';
import { apiEnvSpecs, apiMain } from '../api/index.js';
import { brokerEnvSpecs, brokerMain } from '../broker/index.js';
import { ingestEnvSpecs, ingestMain } from '../ingest/main.js';
import { simulateCommand, simulateHelp } from '../simulators/cli.js';
import { modelsCommand, modelsHelp, scoreCommand, scoreHelp } from '../risk/cli.js';
import { riskEnvSpecs, riskMain } from '../risk/main.js';
import { AlertService, modelDriftAlerts, policyBreachAlerts } from '../alerts/index.js';
import { trainCommand, trainHelp } from '../risk/tabular/index.js';
import { evaluateCommand, evaluateHelp } from './evaluate.js';
import { startEnvSpecs, startMain } from './start.js';

export interface Command {
  readonly help: CommandHelp;
  /** Resolves an exit code, or 'running' when it started a server that stops on SIGINT/SIGTERM. */
  run(argv: string[], env: Record<string, string | undefined>): Promise<number | 'running'>;
}

export const COMMANDS: Record<string, Command> = {
  start: {
    help: {
      usage: 'riskfuse start   (npm start)',
      brief:
        'broker, ingest, risk scoring, alerts, webhooks, API and a simulated demo world in one process (the embedded default)',
      summary:
        'Run the whole platform in one process: broker, ingest, the HTTP API and a simulated demo world, on the\nembedded SQLite default under DATA_DIR (INFLUX_URL moves telemetry to InfluxDB). Prints where everything\nis (the API admin key once, on the first start) and a live progress line; Ctrl-C stops cleanly and flushes.',
      env: startEnvSpecs,
    },
    async run(_argv, env) {
      await startMain(env);
      return 'running';
    },
  },
  broker: {
    help: {
      usage: 'riskfuse broker',
      brief: 'the MQTT broker (device auth, topic ACL, presence, limits)',
      summary:
        'Run the MQTT broker: device authentication against the registry, per-device topic ACL, retained\npresence with last will, payload limits.',
      env: brokerEnvSpecs,
    },
    async run(_argv, env) {
      await brokerMain(env);
      return 'running';
    },
  },
  ingest: {
    help: {
      usage: 'riskfuse ingest',
      brief: 'MQTT → validation → durable telemetry store, acking only what is stored',
      summary:
        'Subscribe to the broker (QoS 1, persistent session), validate readings and store them; a message is\nacknowledged only once stored or dead-lettered.',
      env: ingestEnvSpecs,
    },
    async run(_argv, env) {
      await ingestMain(env);
      return 'running';
    },
  },
  api: {
    help: {
      usage: 'riskfuse api',
      brief:
        'the HTTP API: portfolio, devices, loan import, telemetry, scores, alerts, webhooks, API keys, audit log',
      summary:
        'Run the risk-officer HTTP API (Fastify) on the state and telemetry stores: API keys with roles, rate\nlimits, audit log, OpenAPI docs at /docs. On the first start with no key it prints an admin key once\n(or registers API_ADMIN_KEY). Apart from the broker, /ready checks API_MQTT_URL over TCP, and a revoked\ndevice is cut off at its next CONNECT.',
      env: apiEnvSpecs,
    },
    async run(_argv, env) {
      await apiMain(env);
      return 'running';
    },
  },
  simulate: {
    help: simulateHelp,
    run: (argv, env) => simulateCommand(argv, env),
  },
  risk: {
    help: {
      usage: 'riskfuse risk',
      brief: 'the scoring service: re-scores the portfolio with the champion model, challengers in shadow',
      summary:
        'Run the scoring service: the whole portfolio every RISK_SCORE_INTERVAL_MS with the champion model\n(challengers score in shadow), every score stored with its reasons. Installs the shipped default model\nwhen the registry is empty.',
      env: riskEnvSpecs,
    },
    async run(_argv, env) {
      // A new policy breach and the champion's drift open their alerts here too (the risk component may not
      // import alerts), like the API's and start's.
      // One alert service for both, loaded once.
      let service: Promise<AlertService> | undefined;
      const alertService = (state: State): Promise<AlertService> =>
        (service ??= (async () => {
          const s = new AlertService(state);
          await s.load();
          return s;
        })());
      await riskMain(env, {
        creditHooks: async (state) => policyBreachAlerts(await alertService(state)),
        driftAlerts: async (state) => modelDriftAlerts(await alertService(state)),
      });
      return 'running';
    },
  },
  score: {
    help: scoreHelp,
    run: (argv, env) => scoreCommand(argv, env),
  },
  models: {
    help: modelsHelp,
    run: (argv, env) => modelsCommand(argv, env),
  },
  evaluate: {
    help: evaluateHelp,
    run: (argv, env) => evaluateCommand(argv, env),
  },
  train: {
    help: trainHelp,
    run: (argv, env) => trainCommand(argv, env),
  },
  state: {
    help: stateHelp,
    run: (argv, env) => stateCommand(argv, env),
  },
};
