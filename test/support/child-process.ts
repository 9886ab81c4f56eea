import type { ChildProcess } from 'node:child_process';
import { createWriteStream, readFileSync, readdirSync, readlinkSync, type WriteStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * A server the tests run as a child process of their own (influxd, postgres): spawned directly, so this
 * process owns its PID and can signal it, its stdout and stderr appended to one log file across restarts,
 * killed by PID if this process exits without stopping it.
 */
export interface ServerProcess {
  /** Whether a server process is running (it may be paused). */
  running(): boolean;
  /** Whether a process was started and not stopped since (it may have died). */
  started(): boolean;
  /**
   * Spawns the server and polls `ready` until it answers: true then, false when the process exited during
   * start-up (say, its port was taken meanwhile). Throws if it is not ready within `startTimeoutMs`, after
   * killing it.
   */
  start(): Promise<boolean>;
  /**
   * `start()` up to `attempts` times, `prepare` before each, `retryDelayMs` between them; when the last exits
   * too, throws `failure(attempt)` followed by the last lines of the log.
   */
  startWithRetries(retry: StartRetry): Promise<void>;
  /** Sends `signal` (after SIGCONT if paused), waits for the exit, SIGKILL if it does not come in time. */
  stop(signal: NodeJS.Signals): Promise<void>;
  /** Freezes the process (SIGSTOP): connections are accepted by the kernel but never answered. */
  pause(): void;
  /** Thaws a paused process (SIGCONT). */
  resume(): void;
  /** Stops watching this process's exit (after the final stop). */
  dispose(): void;
}

export interface ServerProcessOptions {
  /** The server's name in error messages, e.g. `influxd`. */
  readonly name: string;
  /** Spawns the server with stdout and stderr piped; called for every start. */
  readonly spawn: () => ChildProcess;
  /** Whether the server answers yet; polled every 50 ms during start-up. */
  readonly ready: () => Promise<boolean>;
  /**
   * The loopback TCP ports the spawned process itself must be listening on before `ready` counts (see
   * `listensOn`): another test file's server, started on the same free port a moment earlier, answers `ready`
   * too while this one is failing to bind it.
   */
  readonly ports?: () => readonly number[];
  /** The file the server's stdout and stderr are appended to. */
  readonly logPath: string;
  /** How long start-up may take before the server is killed and `start()` throws. */
  readonly startTimeoutMs: number;
  /** How long a stop waits for the exit before SIGKILL, and then again for the exit. */
  readonly stopTimeoutMs: number;
  /** The message `start()` throws when `ready` has not answered within `startTimeoutMs`. */
  readonly notReadyMessage: () => string | Promise<string>;
}

export interface StartRetry {
  readonly attempts: number;
  /** Pause between attempts; 0 for none. */
  readonly retryDelayMs: number;
  /** Runs before each attempt, e.g. to pick a new port. */
  readonly prepare?: () => Promise<void>;
  /** What the error says when the last attempt failed too; the last lines of the log follow. */
  readonly failure: (attempt: number) => string;
}

const POLL_INTERVAL_MS = 50;

/**
 * Whether process `pid` or one of its descendants holds a socket listening on TCP `port` (IPv4 or IPv6), read
 * from /proc (Linux): the listening sockets' inodes in /proc/net/tcp{,6} against the processes' open files.
 * Free ports are picked by binding port 0 and releasing it, so two test files can pick the same one; the server
 * that loses the bind exits, but until it does a readiness probe on the port reaches the other file's server,
 * and the two files would share one Redis or influxd. Rare (the kernel picks port 0 at random), and not shown to
 * have caused a failure; closed because a shared server fails tests in ways that point elsewhere.
 */
export function listensOn(pid: number, port: number): boolean {
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  const inodes = new Set<string>();
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text = '';
    try {
      text = readFileSync(table, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      // local_address is HEXIP:HEXPORT; st 0A is LISTEN; field 9 is the inode.
      if (f.length > 9 && f[1]?.endsWith(`:${hexPort}`) && f[3] === '0A') inodes.add(f[9] as string);
    }
  }
  if (inodes.size === 0) return false;
  const pending = [pid];
  for (let p = pending.pop(); p !== undefined; p = pending.pop()) {
    try {
      for (const fd of readdirSync(`/proc/${p}/fd`)) {
        const target = readlinkSafe(`/proc/${p}/fd/${fd}`);
        if (target?.startsWith('socket:[') && inodes.has(target.slice(8, -1))) return true;
      }
      for (const task of readdirSync(`/proc/${p}/task`)) {
        const children = readFileSync(`/proc/${p}/task/${task}/children`, 'utf8').trim();
        if (children !== '') pending.push(...children.split(/\s+/).map(Number));
      }
    } catch {
      // The process is gone (or not ours to read): it holds nothing.
    }
  }
  return false;
}

function readlinkSafe(path: string): string | undefined {
  try {
    return readlinkSync(path);
  } catch {
    return undefined;
  }
}
const LOG_TAIL_LINES = 15;

/** Whether this run is in CI: `CI` set to anything but empty, `0` or `false`. */
export function inCi(): boolean {
  const ci = process.env.CI;
  return ci !== undefined && ci !== '' && ci !== '0' && ci.toLowerCase() !== 'false';
}

/** A free loopback TCP port (bind to port 0 and release it). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      if (address === null || typeof address === 'string') {
        server.close();
        reject(new Error('no port from listen(0)'));
        return;
      }
      const { port } = address;
      server.close(() => resolve(port));
    });
  });
}

/** Resolves true once `child` has exited (at once if it already has), false if it still runs after `timeoutMs`. */
export async function waitForExit(child: ChildProcess, timeoutMs: number): Promise<boolean> {
  if (exited(child)) return true;
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      child.off('exit', onExit);
      resolve(false);
    }, timeoutMs);
    const onExit = (): void => {
      clearTimeout(timer);
      resolve(true);
    };
    child.once('exit', onExit);
  });
}

/** The last lines of the log file at `path`, for error messages; empty when it cannot be read. */
export async function logTail(path: string): Promise<string> {
  const text = await readFile(path, 'utf8').catch(() => '');
  return text.split('\n').slice(-LOG_TAIL_LINES).join('\n');
}

function exited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

/** A server process, not started yet: see `ServerProcess`. */
export function serverProcess(options: ServerProcessOptions): ServerProcess {
  const { name, logPath, startTimeoutMs, stopTimeoutMs } = options;
  let child: ChildProcess | undefined;
  let log: WriteStream | undefined;
  let paused = false;

  // A crashed test worker must not leave the server behind: kill it by PID when this process exits.
  const killOnExit = (): void => {
    if (child?.pid !== undefined && !exited(child)) child.kill('SIGKILL');
  };
  process.once('exit', killOnExit);

  const start = async (): Promise<boolean> => {
    const out = createWriteStream(logPath, { flags: 'a' });
    log = out;
    const proc = options.spawn();
    child = proc;
    proc.stdout?.pipe(out, { end: false });
    proc.stderr?.pipe(out, { end: false });
    const deadline = Date.now() + startTimeoutMs;
    while (Date.now() < deadline) {
      if (exited(proc)) {
        out.end();
        child = undefined;
        return false;
      }
      if ((await options.ready()) && ownsPorts(proc)) return true;
      await sleep(POLL_INTERVAL_MS);
    }
    proc.kill('SIGKILL');
    await waitForExit(proc, stopTimeoutMs);
    out.end();
    throw new Error(await options.notReadyMessage());
  };

  const ownsPorts = (proc: ChildProcess): boolean =>
    proc.pid !== undefined && (options.ports?.() ?? []).every((port) => listensOn(proc.pid as number, port));

  const running = (proc: ChildProcess | undefined): proc is ChildProcess =>
    proc !== undefined && !exited(proc);

  const signal = (sig: NodeJS.Signals): void => {
    if (child === undefined) throw new Error(`${name} is not running`);
    child.kill(sig);
    paused = sig === 'SIGSTOP';
  };

  return {
    running: () => running(child),
    started: () => child !== undefined,
    start,
    startWithRetries: async ({ attempts, retryDelayMs, prepare, failure }) => {
      for (let attempt = 1; ; attempt += 1) {
        await prepare?.();
        if (await start()) return;
        if (attempt >= attempts)
          throw new Error(`${failure(attempt)}; last log lines:\n${await logTail(logPath)}`);
        if (retryDelayMs > 0) await sleep(retryDelayMs);
      }
    },
    stop: async (sig) => {
      const proc = child;
      if (proc === undefined) return;
      if (paused) {
        proc.kill('SIGCONT');
        paused = false;
      }
      if (running(proc)) {
        proc.kill(sig);
        if (!(await waitForExit(proc, stopTimeoutMs))) {
          proc.kill('SIGKILL');
          await waitForExit(proc, stopTimeoutMs);
        }
      }
      log?.end();
      child = undefined;
    },
    pause: () => signal('SIGSTOP'),
    resume: () => signal('SIGCONT'),
    dispose: () => {
      process.off('exit', killOnExit);
    },
  };
}
