/**
 * What the benchmarks share and that costs nothing to import (no component is loaded here, so a bench that
 * reports its peak RSS reports its own): integer settings from the environment, the run of a bench's `main`,
 * worker threads running this folder's TypeScript, and the HTTP load generator (bench/http-load.ts) in a worker
 * thread or a child process.
 */
import { fork } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { HttpLoadReport, HttpLoadSpec } from './http-load.js';

/** The positive integer in environment variable `name`, `fallback` when unset or empty; throws otherwise. */
export function envInt(name: string, fallback: number): number {
  const raw = process.env[name];
  const value = raw === undefined || raw === '' ? fallback : Number(raw);
  if (!Number.isSafeInteger(value) || value <= 0) throw new Error(`${name} must be a positive integer`);
  return value;
}

/** Runs a bench's `main`: exit 0 when it resolves, else its stack on stderr and exit 1. */
export function runBench(main: () => Promise<void>): void {
  main().then(
    () => process.exit(0),
    (err: unknown) => {
      process.stderr.write(`bench failed: ${err instanceof Error ? err.stack : String(err)}\n`);
      process.exit(1);
    },
  );
}

/** CPU seconds (user + system) of this process, or of the calling thread; undefined off Linux. */
export function cpuSeconds(which: 'self' | 'thread-self'): number | undefined {
  try {
    const stat = readFileSync(`/proc/${which}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return undefined;
  }
}

/** CPU seconds (user + system) another process has used so far, from /proc/<pid>/stat. */
export function processCpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** The middle value of `xs` (the upper one of an even count); NaN when empty. */
export const median = (xs: readonly number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1] ?? NaN;

/** A worker thread running `file` of this folder (e.g. `./load-worker.ts`) with `workerData`. */
export function tsxWorker(file: string, workerData: unknown): Worker {
  // Node 20 workers do not inherit the tsx loader, so the worker registers it before importing `file`.
  const entry = new URL(file, import.meta.url).href;
  const boot = `import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${JSON.stringify(entry)}); })`;
  return new Worker(boot, { eval: true, workerData });
}

/** Runs `spec` in a worker thread (bench/http-load-worker.ts), so the load does not share the server's event loop. */
export function httpLoad(spec: HttpLoadSpec): Promise<HttpLoadReport> {
  return new Promise((resolve, reject) => {
    const worker = tsxWorker('./http-load-worker.ts', spec);
    worker.once(
      'message',
      (m: { type: 'report'; report: HttpLoadReport } | { type: 'failed'; message: string }) => {
        void worker.terminate();
        if (m.type === 'report') resolve(m.report);
        else reject(new Error(`load worker: ${m.message}`));
      },
    );
    worker.once('error', reject);
  });
}

/** An HTTP load client in its own process (bench/http-load-process.ts), for rounds against one or more servers. */
export interface HttpLoadClient {
  /** Runs one closed-loop round; the client keeps its connections to each origin between rounds. */
  round(spec: HttpLoadSpec): Promise<HttpLoadReport>;
  close(): Promise<void>;
}

/** Starts bench/http-load-process.ts as a child process (tsx loader, IPC channel). */
export function httpLoadClient(): HttpLoadClient {
  const child = fork(fileURLToPath(new URL('./http-load-process.ts', import.meta.url)), {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  let next = 0;
  const waiting = new Map<number, { resolve: (r: HttpLoadReport) => void; reject: (e: Error) => void }>();
  const failAll = (err: Error) => {
    for (const w of waiting.values()) w.reject(err);
    waiting.clear();
  };
  child.on('message', (m: { id: number; report?: HttpLoadReport; failed?: string }) => {
    const w = waiting.get(m.id);
    waiting.delete(m.id);
    if (m.report !== undefined) w?.resolve(m.report);
    else w?.reject(new Error(`load client: ${m.failed ?? 'no report'}`));
  });
  child.on('error', failAll);
  child.on('exit', (code) => failAll(new Error(`load client exited (${String(code)})`)));
  return {
    round: (spec) =>
      new Promise((resolve, reject) => {
        const id = next++;
        waiting.set(id, { resolve, reject });
        child.send({ id, spec });
      }),
    close: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null || !child.connected) {
          resolve();
          return;
        }
        child.once('exit', () => resolve());
        child.disconnect();
      }),
  };
}
