import { parentPort, workerData } from 'node:worker_threads';
import { ConnectionPool, runLoad, type HttpLoadSpec } from './http-load.js';

/**
 * One closed-loop HTTP load run (bench/http-load.ts) in a worker thread, so that it does not share an event loop
 * with the server it measures (bench/state.ts). bench/api.ts runs its client in a child process instead
 * (bench/http-load-process.ts): a worker still shares the server's process.
 */
export type { HttpLoadReport, HttpLoadSpec } from './http-load.js';

const spec = workerData as HttpLoadSpec;
const pool = new ConnectionPool();

runLoad(spec, pool).then(
  (report) => {
    pool.close();
    parentPort?.postMessage({ type: 'report', report });
  },
  (err: unknown) =>
    parentPort?.postMessage({ type: 'failed', message: err instanceof Error ? err.message : String(err) }),
);
