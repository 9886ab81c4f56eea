import { spawn } from 'node:child_process';
import { accessSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, inCi, serverProcess } from './child-process.js';

/**
 * A real `redis-server` (Debian's `redis-server` package, Redis 7) for integration tests: its own temp dir
 * for the append-only file and snapshot, a free loopback port, no persistence outside the dir. It can be
 * killed and started again on the same port and data, so tests can crash it and see what its durability mode
 * kept.
 */
export interface RedisServer {
  readonly url: string;
  readonly port: number;
  readonly dir: string;
  /** Crash (SIGKILL) that keeps the data dir, for `restart()`. */
  kill(): Promise<void>;
  /** Starts redis-server again on the same port and data dir; waits for PING. */
  restart(): Promise<void>;
  /** Final stop: kills the process and removes the temp dir. */
  stop(): Promise<void>;
}

export interface RedisOptions {
  /** `appendfsync` of the append-only file: `always` (fsync before each reply) or `everysec`. */
  readonly appendfsync: 'always' | 'everysec';
}

const REDIS = '/usr/bin/redis-server';

/** Fails with what to install when redis-server is missing (CI installs it: .ci/run). */
function requireRedis(): void {
  try {
    accessSync(REDIS);
  } catch {
    throw new Error(
      `redis-server not found at ${REDIS}: the cluster tests need a real Redis ` +
        (inCi() ? '(required in CI); ' : '; ') +
        'install Debian package `redis-server`',
    );
  }
}

async function pingOk(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1_000, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (chunk) => done(chunk.toString('utf8').startsWith('+PONG')));
  });
}

export async function startRedis(options: RedisOptions = { appendfsync: 'always' }): Promise<RedisServer> {
  requireRedis();
  const dir = await mkdtemp(join(tmpdir(), 'riskfuse-redis-'));
  const configPath = join(dir, 'redis.conf');
  const logPath = join(dir, 'redis.log');
  let port = 0;
  const server = serverProcess({
    name: 'redis-server',
    spawn: () => spawn(REDIS, [configPath], { stdio: ['ignore', 'pipe', 'pipe'] }),
    ready: () => pingOk(port),
    ports: () => [port],
    logPath,
    startTimeoutMs: 20_000,
    stopTimeoutMs: 10_000,
    notReadyMessage: () => `redis-server did not answer PING within 20 s; log: ${logPath}`,
  });
  await server.startWithRetries({
    attempts: 5,
    retryDelayMs: 0,
    prepare: async () => {
      port = await freePort();
      await writeFile(
        configPath,
        [
          '# written by test/support/redis.ts',
          'bind 127.0.0.1',
          `port ${port}`,
          `dir ${dir}`,
          'daemonize no',
          'protected-mode yes',
          'save ""',
          'appendonly yes',
          `appendfsync ${options.appendfsync}`,
          'loglevel warning',
          '',
        ].join('\n'),
      );
    },
    failure: (attempt) => `redis-server exited during start-up (attempt ${attempt})`,
  });
  const restart = async (): Promise<void> => {
    await server.startWithRetries({
      attempts: 20,
      retryDelayMs: 250,
      failure: () => `redis-server failed to restart on port ${port}`,
    });
  };
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    dir,
    kill: () => server.stop('SIGKILL'),
    restart,
    stop: async () => {
      await server.stop('SIGKILL');
      server.dispose();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
