import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnRiskfuse, type RiskfuseProcess } from './riskfuse-process.js';

/** The log line `LeaderElection` writes when this process takes a job's lock (core/state/leader.ts). */
const ELECTED_MSG = 'elected leader: starting job';
const STOP_TIMEOUT_MS = 10_000;

/** One `riskfuse api` process, on a free port of 127.0.0.1 and its own temp DATA_DIR (telemetry, models). */
export interface ApiReplica {
  readonly name: string;
  readonly process: RiskfuseProcess;
  readonly pid: number;
  /** e.g. `http://127.0.0.1:43123`. */
  readonly url: string;
  /** When (epoch ms, the test's clock) this process's output first said it leads `job`; undefined while not. */
  electedAtMs(job: string): number | undefined;
  /** SIGTERM, SIGKILL after 10 s if still running; then removes its temp dir. */
  stop(): Promise<void>;
}

/** The job a pino JSON line says this process was elected for, if it says so. */
function electedJob(line: string): string | undefined {
  if (!line.includes(ELECTED_MSG)) return undefined;
  try {
    const entry = JSON.parse(line) as { job?: unknown; msg?: unknown };
    return entry.msg === ELECTED_MSG && typeof entry.job === 'string' ? entry.job : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Starts `riskfuse api` with `env` (plus API_HOST/API_PORT/DATA_DIR of its own) and resolves once it listens.
 * Election lines are timestamped as they arrive, so a test can measure a takeover against its own clock.
 */
export async function startApiReplica(name: string, env: Record<string, string>): Promise<ApiReplica> {
  const dir = mkdtempSync(join(tmpdir(), `rf-replica-${name}-`));
  const proc = spawnRiskfuse(['api'], {
    ...env,
    API_HOST: '127.0.0.1',
    API_PORT: '0',
    DATA_DIR: dir,
  });
  // A test worker that dies or throws past its cleanup must not leave the replica running: kill it by PID.
  const killOnExit = (): void => {
    if (proc.child.exitCode === null && proc.child.signalCode === null) proc.child.kill('SIGKILL');
  };
  process.once('exit', killOnExit);
  const elected = new Map<string, number>();
  let partial = '';
  proc.child.stdout?.on('data', (chunk: Buffer) => {
    const seenAtMs = Date.now();
    const lines = (partial + chunk.toString('utf8')).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      const job = electedJob(line);
      if (job !== undefined && !elected.has(job)) elected.set(job, seenAtMs);
    }
  });
  const stop = async (): Promise<void> => {
    const child = proc.child;
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGTERM');
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<'late'>((resolve) => {
        timer = setTimeout(() => resolve('late'), STOP_TIMEOUT_MS);
      });
      if ((await Promise.race([exited, late])) === 'late') await proc.kill('SIGKILL');
      clearTimeout(timer);
    }
    process.off('exit', killOnExit);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await proc.waitFor(/API listening/, 60_000);
  } catch (err) {
    // `exit` can come before the last of stderr (the fatal error itself): wait for the pipes to close.
    const closed = new Promise<void>((resolve) => proc.child.once('close', () => resolve()));
    await stop();
    await Promise.race([closed, new Promise((resolve) => setTimeout(resolve, 2_000))]);
    throw new Error(
      `replica ${name} did not start (${err instanceof Error ? err.message.split('\n')[0] : String(err)}); ` +
        `its last output:\n${proc.output().slice(-4000)}`,
      { cause: err },
    );
  }
  const line = proc
    .output()
    .split('\n')
    .find((l) => l.includes('API listening'));
  const url = (JSON.parse(line ?? '{}') as { url?: string }).url;
  if (url === undefined || proc.child.pid === undefined) {
    await stop();
    throw new Error(`replica ${name}: no URL in its 'API listening' line:\n${proc.output().slice(-2000)}`);
  }
  return {
    name,
    process: proc,
    pid: proc.child.pid,
    url,
    electedAtMs: (job) => elected.get(job),
    stop,
  };
}

/**
 * What became of one request the receiver got: `held` (not answered yet), `answered` (the 200 was written to
 * the connection) or `cut` (the connection closed before an answer: the sender died or gave up).
 */
export interface ReceivedRequest {
  readonly webhookId: string;
  readonly arrivedAtMs: number;
  outcome: 'held' | 'answered' | 'cut';
  endedAtMs?: number;
}

/** A webhook receiver on 127.0.0.1 that records every request and answers 200, or holds those `hold` picks. */
export interface HoldingReceiver {
  readonly url: string;
  readonly requests: readonly ReceivedRequest[];
  /** Decides for each request, once its body is read, whether to hold it (answer nothing) for now. */
  hold: (webhookId: string) => boolean;
  /** Answers every held request whose connection is still open. */
  releaseHeld(): void;
  close(): Promise<void>;
}

export async function startHoldingReceiver(): Promise<HoldingReceiver> {
  const requests: ReceivedRequest[] = [];
  const held = new Set<() => void>();
  const receiver = {
    requests,
    hold: (_id: string) => false,
  };
  const server: Server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const r: ReceivedRequest = {
        webhookId: String(req.headers['webhook-id'] ?? ''),
        arrivedAtMs: Date.now(),
        outcome: 'held',
      };
      requests.push(r);
      // `finish`: the whole answer was handed to the connection. `close` before it: the peer went away.
      res.once('finish', () => {
        r.outcome = 'answered';
        r.endedAtMs = Date.now();
      });
      res.once('close', () => {
        if (!res.writableFinished) {
          r.outcome = 'cut';
          r.endedAtMs = Date.now();
        }
        held.delete(answer);
      });
      const answer = (): void => {
        held.delete(answer);
        if (!res.destroyed) res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
      };
      if (receiver.hold(r.webhookId)) held.add(answer);
      else answer();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return Object.assign(receiver, {
    url: `http://127.0.0.1:${port}/hook`,
    releaseHeld: () => {
      for (const answer of [...held]) answer();
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  });
}

/** Polls `check` every 20 ms until it holds; fails with `what` after `timeoutMs`. */
export async function waitUntil(
  check: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 20_000,
): Promise<void> {
  const start = Date.now();
  while (!(await check())) {
    if (Date.now() - start > timeoutMs)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
