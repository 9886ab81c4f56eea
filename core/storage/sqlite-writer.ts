import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import type { Reading } from '../contracts/index.js';
import { errorMessage } from '../errors.js';
import type { Logger } from '../logger.js';
import { DAY_MS, HOUR_MS } from './resolution.js';
import { ROLLUP_WRITER_SOURCE } from './sqlite-rollup.js';

/**
 * Runs the SQLite telemetry store's inserts on a thread of their own, over a second connection to the
 * same file (WAL lets the store's reads go on in the calling thread meanwhile).
 *
 * Why: better-sqlite3 is synchronous, and a batch commit with synchronous = FULL costs 10–30 µs per
 * reading — the primary key starts with the device id, so every batch dirties about one page per device,
 * and the WAL gets all of them. In the all-in-one process that blocked the event loop the broker shares
 * for a quarter of its time at 17,000 readings/s. On its own thread the commit uses the second core, and
 * the broker and ingest keep the first.
 *
 * A write resolves once its transaction has committed on disk (synchronous = FULL on this connection
 * too), so the ingest's "ack only after durable" holds. The thread only executes inserts: readings are
 * validated before they are sent, and errors come back with SQLite's code for the store to map. If the
 * thread dies, the writes it held fail as retryable and the next write starts a new one.
 */
export interface WriterError {
  /** SQLite's extended result code (e.g. `SQLITE_BUSY`), '' when the error has none. */
  readonly code: string;
  readonly message: string;
}

export interface SqliteWriterOptions {
  readonly path: string;
  /** The INSERT taking (device_id, ts, seq, kind, borrower_id, site_id, fields JSON). */
  readonly insertSql: string;
  readonly busyTimeoutMs: number;
  readonly log: Logger;
  /** Readings per transaction of the aggregates build (default 5,000: a page takes tens of ms). */
  readonly buildPage?: number;
}

/**
 * The thread's code. It is a string run with `eval`, not a module file, because a worker does not share
 * the loader of the thread that starts it: a .ts file would not load under tsx or vitest, and a .js file
 * next to the sources would not be in the compiled build. Kept to the minimum: open, insert, reply.
 */
const WRITER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.betterSqlite3);
const db = new Database(workerData.path, { timeout: workerData.busyTimeoutMs });
db.pragma('journal_mode = WAL');
// Per connection, and what makes a resolved write durable: see sqlite-telemetry-store.ts.
db.pragma('synchronous = FULL');
const insert = db.prepare(workerData.insertSql);
${ROLLUP_WRITER_SOURCE}
// Only readings really inserted reach the aggregates: a redelivered one is ignored by the primary key.
const insertBatch = db.transaction((readings) => {
  const inserted = [];
  for (const r of readings) {
    if (insert.run(r.deviceId, r.ts, r.seq, r.kind, r.borrowerId, r.siteId, JSON.stringify(r.fields)).changes === 1) inserted.push(r);
  }
  rollUpWritten(inserted);
});
// Retention: one transaction per chunk, so writes queued behind a large cut wait for a chunk, not the cut.
const pruneRaw = db.prepare('DELETE FROM readings WHERE (device_id, ts, seq) IN (SELECT device_id, ts, seq FROM readings WHERE kind IN (SELECT value FROM json_each(?)) AND ts < ? LIMIT 20000)');
function prune(m) {
  let raw = 0;
  // Readings the aggregates build has not reached yet stay until it has: their days would be lost otherwise.
  for (;;) {
    if (buildCursor() !== undefined) break;
    const n = pruneRaw.run(JSON.stringify(m.kinds), m.rawBeforeMs).changes;
    raw += n;
    if (n === 0) break;
  }
  const hourly = pruneRollup(${HOUR_MS}, m.kinds, m.hourlyBeforeMs);
  const daily = pruneRollup(${DAY_MS}, m.kinds, m.dailyBeforeMs);
  return { raw, hourly, daily };
}
// The build runs a page at a time between the messages (setImmediate lets queued writes in after each page)
// and reports its progress; it stops with the thread and resumes at the next start.
const BUILD_PAGE = workerData.buildPage;
let buildRunning = false;
let closing = false;
function runBuild() {
  if (buildRunning) return;
  buildRunning = true;
  const step = () => {
    if (closing) return;
    let r;
    try {
      buildTotal();
      r = buildStep.immediate(BUILD_PAGE);
    } catch (err) {
      reloadSlots();
      buildRunning = false;
      const code = err && typeof err.code === 'string' ? err.code : '';
      parentPort.postMessage({ type: 'build', error: { code, message: String(err && err.message ? err.message : err) } });
      return;
    }
    if (r === undefined || r.finished) {
      buildRunning = false;
      // One large build leaves a WAL as large as the aggregates it wrote: fold it into the file and truncate it,
      // so readers do not search it page by page.
      db.pragma('wal_checkpoint(TRUNCATE)');
      parentPort.postMessage({ type: 'build', finished: true, done: r ? r.done : 0, total: r ? r.total : 0 });
      return;
    }
    parentPort.postMessage({ type: 'build', finished: false, done: r.done, total: r.total });
    setImmediate(step);
  };
  setImmediate(step);
}
parentPort.on('message', (m) => {
  if (m.type === 'close') {
    closing = true;
    db.close();
    parentPort.close();
    return;
  }
  if (m.type === 'build') {
    runBuild();
    return;
  }
  try {
    if (m.type === 'prune') {
      parentPort.postMessage({ id: m.id, result: prune(m) });
      return;
    }
    if (m.type === 'write') insertBatch(m.readings);
    parentPort.postMessage({ id: m.id });
  } catch (err) {
    // The transaction rolled back, and with it any rollup slot it assigned.
    reloadSlots();
    const code = err && typeof err.code === 'string' ? err.code : '';
    parentPort.postMessage({ id: m.id, error: { code, message: String(err && err.message ? err.message : err) } });
  }
});
`;

type Reply = { readonly id: number; readonly error?: WriterError; readonly result?: PruneResult };
/** The thread's report on the aggregates build (unsolicited, after each page). */
type BuildReport = {
  readonly type: 'build';
  readonly finished?: boolean;
  readonly done?: number;
  readonly total?: number | null;
  readonly error?: WriterError;
};

/** How far the aggregates build is: readings built so far of those stored when it started. */
export interface BuildProgress {
  readonly done: number;
  readonly total: number;
}

/** How a build call ended: complete, or stopped by `close()` (it resumes at the next start). */
export interface BuildResult extends BuildProgress {
  readonly finished: boolean;
}

interface Waiter {
  resolve(result: PruneResult | undefined): void;
  reject(err: Error | WriterError): void;
}

/** Cut-offs of a retention pass: what lies before each is deleted. */
export interface PruneRequest {
  readonly kinds: readonly string[];
  readonly rawBeforeMs: number;
  readonly hourlyBeforeMs: number;
  readonly dailyBeforeMs: number;
}

/** Rows deleted by a retention pass. */
export interface PruneResult {
  readonly raw: number;
  readonly hourly: number;
  readonly daily: number;
}

export class SqliteWriter {
  private worker: Worker | undefined;
  private nextId = 0;
  private readonly waiting = new Map<number, Waiter>();
  private readonly inFlight = new Set<Promise<void>>();
  private readonly betterSqlite3 = createRequire(import.meta.url).resolve('better-sqlite3');
  private build:
    | {
        readonly onProgress: (p: BuildProgress) => void;
        readonly resolve: (p: BuildResult) => void;
        last: BuildProgress;
        readonly reject: (err: Error | WriterError) => void;
      }
    | undefined;

  constructor(private readonly opts: SqliteWriterOptions) {}

  /**
   * Inserts the readings in one transaction. Rejects with the thread's `WriterError` when SQLite refuses,
   * or with an `Error` when the thread itself failed (nothing of the batch is then known to be stored).
   */
  write(readings: readonly Reading[]): Promise<void> {
    return this.request({ type: 'write', readings }).then(() => undefined);
  }

  /**
   * Builds the hourly and daily aggregates of readings stored before they existed (`sqlite-rollup.ts`), a page
   * at a time between writes, resuming where a previous build stopped. Resolves when complete; `close()`
   * stops it (it resumes at the next start). Keeps the process alive meanwhile.
   */
  buildRollups(onProgress: (p: BuildProgress) => void): Promise<BuildResult> {
    return new Promise<BuildResult>((resolve, reject) => {
      this.build = { onProgress, resolve, reject, last: { done: 0, total: 0 } };
      const worker = this.worker ?? this.start();
      worker.ref();
      worker.postMessage({ type: 'build' });
    });
  }

  /** Deletes raw readings and aggregates older than their cut-offs (retention). */
  async prune(req: PruneRequest): Promise<PruneResult> {
    const result = await this.request({ type: 'prune', ...req });
    return result ?? { raw: 0, hourly: 0, daily: 0 };
  }

  private request(message: Record<string, unknown>): Promise<PruneResult | undefined> {
    const worker = this.worker ?? this.start();
    const done = new Promise<PruneResult | undefined>((resolve, reject) => {
      const id = this.nextId++;
      this.waiting.set(id, { resolve, reject });
      // Only an outstanding request keeps the process alive.
      if (this.waiting.size === 1) worker.ref();
      worker.postMessage({ ...message, id });
    });
    const settled = done.then(
      () => undefined,
      () => undefined,
    );
    this.inFlight.add(settled);
    void settled.then(() => this.inFlight.delete(settled));
    return done;
  }

  /** Waits for the writes in flight, then ends the thread. */
  async close(): Promise<void> {
    await Promise.all([...this.inFlight]);
    const build = this.build;
    this.build = undefined;
    build?.resolve({ ...build.last, finished: false });
    const worker = this.worker;
    if (worker === undefined) return;
    this.worker = undefined;
    const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
    worker.ref();
    worker.postMessage({ type: 'close' });
    await exited;
  }

  private start(): Worker {
    const worker = new Worker(WRITER_SOURCE, {
      eval: true,
      workerData: {
        betterSqlite3: this.betterSqlite3,
        path: this.opts.path,
        insertSql: this.opts.insertSql,
        busyTimeoutMs: this.opts.busyTimeoutMs,
        buildPage: this.opts.buildPage ?? 5_000,
      },
    });
    worker.unref();
    worker.on('message', (reply: Reply | BuildReport) => {
      if ('type' in reply) {
        this.buildReport(worker, reply);
        return;
      }
      const waiter = this.waiting.get(reply.id);
      if (waiter === undefined) return;
      this.waiting.delete(reply.id);
      if (this.waiting.size === 0 && this.build === undefined) worker.unref();
      if (reply.error === undefined) waiter.resolve(reply.result);
      else waiter.reject(reply.error);
    });
    worker.on('error', (err) => this.failed(worker, err));
    worker.on('exit', (code) => this.failed(worker, new Error(`writer thread exited with code ${code}`)));
    this.worker = worker;
    // A build that a failed thread left unfinished goes on in this one.
    if (this.build !== undefined) {
      worker.ref();
      worker.postMessage({ type: 'build' });
    }
    return worker;
  }

  private buildReport(worker: Worker, r: BuildReport): void {
    const build = this.build;
    if (build === undefined) return;
    const progress = { done: r.done ?? 0, total: r.total ?? r.done ?? 0 };
    if (r.error !== undefined) {
      this.build = undefined;
      if (this.waiting.size === 0) worker.unref();
      build.reject(r.error);
      return;
    }
    build.last = progress;
    build.onProgress(progress);
    if (r.finished === true) {
      this.build = undefined;
      if (this.waiting.size === 0) worker.unref();
      build.resolve({ ...progress, finished: true });
    }
  }

  private failed(worker: Worker, err: Error): void {
    if (this.worker !== worker) return;
    this.worker = undefined;
    this.opts.log.warn(
      { err: errorMessage(err), writesFailed: this.waiting.size },
      'telemetry store (sqlite) writer thread failed; its writes will be retried',
    );
    const waiters = [...this.waiting.values()];
    this.waiting.clear();
    for (const w of waiters) w.reject(err);
  }
}
