import type { CommandHelp } from '../core/cli.js';
import { brokerEnvSpecs, brokerMain } from '../broker/index.js';
import { ingestEnvSpecs, ingestMain } from '../ingest/main.js';

export interface Command {
  readonly help: CommandHelp;
  /** Resolves an exit code, or 'running' when it started a server that stops on SIGINT/SIGTERM. */
  run(argv: string[], env: Record<string, string | undefined>): Promise<number | 'running'>;
}

export const COMMANDS: Record<string, Command> = {
  broker: {
    help: {
      usage: 'riskfuse broker',
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
      summary:
        'Subscribe to the broker (QoS 1, persistent session), validate readings and store them; a message is\nacknowledged only once stored or dead-lettered.',
      env: ingestEnvSpecs,
    },
    async run(_argv, env) {
      await ingestMain(env);
      return 'running';
    },
  },
};
