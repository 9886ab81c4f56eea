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
  rollUp(inserted);
});
// Retention: one transaction per chunk, so writes queued behind a large cut wait for a chunk, not the cut.
const pruneRaw = db.prepare('DELETE FROM readings WHERE (device_id, ts, seq) IN (SELECT device_id, ts, seq FROM readings WHERE kind IN (SELECT value FROM json_each(?)) AND ts < ? LIMIT 20000)');
function prune(m) {
  let raw = 0;
  for (;;) {
    const n = pruneRaw.run(JSON.stringify(m.kinds), m.rawBeforeMs).changes;
    raw += n;
    if (n === 0) break;
  }
  const hourly = pruneRollup(${HOUR_MS}, m.kinds, m.hourlyBeforeMs);
  const daily = pruneRollup(${DAY_MS}, m.kinds, m.dailyBeforeMs);
  return { raw, hourly, daily };
}
parentPort.on('message', (m) => {
  if (m.type === 'close') {
    db.close();
    parentPort.close();
    return;
  }
  try {
    if (m.type === 'backfill') backfill();
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

  constructor(private readonly opts: SqliteWriterOptions) {}

  /**
   * Inserts the readings in one transaction. Rejects with the thread's `WriterError` when SQLite refuses,
   * or with an `Error` when the thread itself failed (nothing of the batch is then known to be stored).
   */
  write(readings: readonly Reading[]): Promise<void> {
    return this.request({ type: 'write', readings }).then(() => undefined);
  }

  /** Builds the hourly and daily aggregates of a store that predates them (`sqlite-rollup.ts`), once. */
  backfill(): Promise<void> {
    return this.request({ type: 'backfill' }).then(() => undefined);
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
      },
    });
    worker.unref();
    worker.on('message', (reply: Reply) => {
      const waiter = this.waiting.get(reply.id);
      if (waiter === undefined) return;
      this.waiting.delete(reply.id);
      if (this.waiting.size === 0) worker.unref();
      if (reply.error === undefined) waiter.resolve(reply.result);
      else waiter.reject(reply.error);
    });
    worker.on('error', (err) => this.failed(worker, err));
    worker.on('exit', (code) => this.failed(worker, new Error(`writer thread exited with code ${code}`)));
    this.worker = worker;
    return worker;
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
