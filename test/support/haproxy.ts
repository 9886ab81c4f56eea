import { spawn } from 'node:child_process';
import { accessSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, inCi, serverProcess } from './child-process.js';

/** The configuration the deployment ships (docker-compose.yml mounts the same file). */
export const HAPROXY_CONFIG = fileURLToPath(new URL('../../deploy/haproxy.cfg', import.meta.url));
const HAPROXY = '/usr/sbin/haproxy';

export interface Haproxy {
  /** `mqtt://127.0.0.1:{port}` of the frontend. */
  readonly url: string;
  readonly port: number;
  stop(): Promise<void>;
}

async function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.setTimeout(1_000, () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(false));
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
  });
}

/** A real HAProxy (Debian's `haproxy`) running deploy/haproxy.cfg on a free port, in front of `brokers`. */
export async function startHaproxy(brokers: readonly [string, string]): Promise<Haproxy> {
  try {
    accessSync(HAPROXY);
  } catch {
    throw new Error(
      `haproxy not found at ${HAPROXY}: the cluster tests need it ${inCi() ? '(required in CI); ' : '; '}` +
        'install Debian package `haproxy`',
    );
  }
  const dir = await mkdtemp(join(tmpdir(), 'riskfuse-haproxy-'));
  let port = 0;
  const server = serverProcess({
    name: 'haproxy',
    // -db: stay in the foreground, so this process owns its PID.
    spawn: () =>
      spawn(HAPROXY, ['-db', '-f', HAPROXY_CONFIG], {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: {
          PATH: process.env.PATH ?? '',
          MQTT_BIND: `127.0.0.1:${port}`,
          // The machine allows 20,000 open files per process.
          HAPROXY_MAXCONN: '5000',
          BROKER_1: brokers[0],
          BROKER_2: brokers[1],
        },
      }),
    ready: () => accepts(port),
    ports: () => [port],
    logPath: join(dir, 'haproxy.log'),
    startTimeoutMs: 10_000,
    stopTimeoutMs: 5_000,
    notReadyMessage: () => `haproxy did not accept on ${port} within 10 s; log: ${join(dir, 'haproxy.log')}`,
  });
  await server.startWithRetries({
    attempts: 5,
    retryDelayMs: 0,
    prepare: async () => {
      port = await freePort();
    },
    failure: (attempt) => `haproxy exited during start-up (attempt ${attempt})`,
  });
  return {
    url: `mqtt://127.0.0.1:${port}`,
    port,
    stop: async () => {
      await server.stop('SIGTERM');
      server.dispose();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
