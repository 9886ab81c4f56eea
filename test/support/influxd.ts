import { spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort, inCi, serverProcess } from './child-process.js';

// Suites that start influxd pick their other ports with it too (core/test/telemetry-store.test.ts).
export { freePort };

/**
 * A real `influxd` (1.x, Debian's `influxdb` package) for integration tests: its own temp dir for meta, data
 * and WAL, HTTP and RPC on free loopback ports (the default RPC port 8088 would clash between test files
 * running in parallel), no usage reporting, no `_internal` monitor database. It can be stopped and started
 * again on the same port and data dir, so end-to-end tests can take the store away and bring it back.
 */
export interface Influxd {
  /** Base URL of the HTTP API, e.g. `http://127.0.0.1:43123`. */
  readonly url: string;
  readonly httpPort: number;
  /** Temp dir holding config, meta, data, WAL and `influxd.log`. */
  readonly dir: string;
  /** Whether an influxd process is currently running (it may be paused). */
  running(): boolean;
  /** Graceful stop (SIGTERM) that keeps the data dir, for `restart()`. */
  halt(): Promise<void>;
  /** Crash (SIGKILL) that keeps the data dir, for `restart()`. */
  kill(): Promise<void>;
  /** Freezes the process (SIGSTOP): connections are accepted by the kernel but never answered. */
  pause(): void;
  /** Thaws a paused process (SIGCONT). */
  resume(): void;
  /** Starts influxd again on the same port and data dir (after halt/kill); waits for `/ping`. */
  restart(): Promise<void>;
  /** Halts for `downMs`, then restarts. */
  stopFor(downMs: number): Promise<void>;
  /** Final stop: kills the process and removes the temp dir. */
  stop(): Promise<void>;
}

const INFLUXD = 'influxd';
const START_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 10_000;

/** Whether `influxd` is an executable on PATH. */
export function influxdAvailable(): boolean {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir === '') continue;
    try {
      accessSync(join(dir, INFLUXD), constants.X_OK);
      return true;
    } catch {
      // not in this PATH entry
    }
  }
  return false;
}

/**
 * Decides whether InfluxDB suites skip: use as `describe.skipIf(requireInfluxOrSkip())(…)`. Outside CI a
 * missing influxd skips them with a console note; in CI (`CI` set) they must run, so this returns false and
 * `startInfluxd()` then fails the suite with a message saying what to install.
 */
export function requireInfluxOrSkip(): boolean {
  if (influxdAvailable()) return false;
  if (inCi()) return false;
  console.warn('influxd not found: InfluxDB tests skipped (install Debian package `influxdb` to run them)');
  return true;
}

function configToml(dir: string, httpPort: number, rpcPort: number): string {
  return `# written by test/support/influxd.ts
reporting-disabled = true
bind-address = "127.0.0.1:${rpcPort}"

[meta]
  dir = "${join(dir, 'meta')}"
  logging-enabled = false

[data]
  dir = "${join(dir, 'data')}"
  wal-dir = "${join(dir, 'wal')}"
  # 0s: fsync the WAL before answering a write, as a production server does
  wal-fsync-delay = "0s"
  query-log-enabled = false
  index-version = "inmem"

[coordinator]
  max-select-point = 0
  max-select-series = 0
  max-select-buckets = 0

[monitor]
  store-enabled = false

[subscriber]
  enabled = false

[continuous_queries]
  enabled = false

[http]
  enabled = true
  bind-address = "127.0.0.1:${httpPort}"
  auth-enabled = false
  log-enabled = false
  pprof-enabled = false
  max-row-limit = 0

[logging]
  level = "warn"
  suppress-logo = true
`;
}

async function pingOk(url: string): Promise<boolean> {
  try {
    const res = await fetch(`${url}/ping`, { signal: AbortSignal.timeout(1_000) });
    await res.body?.cancel();
    return res.status === 204;
  } catch {
    return false;
  }
}

/** Starts influxd in a fresh temp dir on free ports and waits until `/ping` answers 204. */
export async function startInfluxd(): Promise<Influxd> {
  if (!influxdAvailable()) {
    throw new Error(
      'influxd not found on PATH: the InfluxDB integration tests need a real influxd ' +
        (inCi() ? '(required in CI because CI is set); ' : '; ') +
        'install Debian package `influxdb` (apt-get install influxdb)',
    );
  }
  const dir = await mkdtemp(join(tmpdir(), 'riskfuse-influxd-'));
  const configPath = join(dir, 'influxdb.conf');
  const logPath = join(dir, 'influxd.log');
  let httpPort = 0;
  let url = '';
  const server = serverProcess({
    name: INFLUXD,
    spawn: () => spawn(INFLUXD, ['-config', configPath], { stdio: ['ignore', 'pipe', 'pipe'] }),
    ready: () => pingOk(url),
    ports: () => [httpPort],
    logPath,
    startTimeoutMs: START_TIMEOUT_MS,
    stopTimeoutMs: STOP_TIMEOUT_MS,
    notReadyMessage: () => `influxd did not answer /ping within ${START_TIMEOUT_MS} ms; log: ${logPath}`,
  });

  // The ports are free when chosen but may be taken by the time influxd binds them; then pick again.
  await server.startWithRetries({
    attempts: 5,
    retryDelayMs: 0,
    prepare: async () => {
      httpPort = await freePort();
      const rpcPort = await freePort();
      url = `http://127.0.0.1:${httpPort}`;
      await writeFile(configPath, configToml(dir, httpPort, rpcPort));
    },
    failure: (attempt) => `influxd exited during start-up (attempt ${attempt})`,
  });

  const restart = async (): Promise<void> => {
    if (server.started()) throw new Error('influxd is running; halt() or kill() it first');
    // Same config, so same ports and data dir. Retry a few times in case the port is briefly taken.
    await server.startWithRetries({
      attempts: 20,
      retryDelayMs: 250,
      failure: () => `influxd failed to restart on port ${httpPort}`,
    });
  };

  return {
    url,
    httpPort,
    dir,
    running: () => server.running(),
    halt: () => server.stop('SIGTERM'),
    kill: () => server.stop('SIGKILL'),
    pause: () => server.pause(),
    resume: () => server.resume(),
    restart,
    stopFor: async (downMs: number) => {
      await server.stop('SIGTERM');
      await sleep(downMs);
      await restart();
    },
    stop: async () => {
      await server.stop('SIGKILL');
      server.dispose();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
