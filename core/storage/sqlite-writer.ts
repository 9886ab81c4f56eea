import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import type { Reading } from '../contracts/index.js';
import { errorMessage } from '../errors.js';
import type { Logger } from '../logger.js';

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
const insertBatch = db.transaction((readings) => {
  for (const r of readings) {
    insert.run(r.deviceId, r.ts, r.seq, r.kind, r.borrowerId, r.siteId, JSON.stringify(r.fields));
  }
});
parentPort.on('message', (m) => {
  if (m.type === 'close') {
    db.close();
    parentPort.close();
    return;
  }
  try {
    insertBatch(m.readings);
    parentPort.postMessage({ id: m.id });
  } catch (err) {
    const code = err && typeof err.code === 'string' ? err.code : '';
    parentPort.postMessage({ id: m.id, error: { code, message: String(err && err.message ? err.message : err) } });
  }
});
`;

type Reply = { readonly id: number; readonly error?: WriterError };

interface Waiter {
  resolve(): void;
  reject(err: Error | WriterError): void;
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
    const worker = this.worker ?? this.start();
    const written = new Promise<void>((resolve, reject) => {
      const id = this.nextId++;
      this.waiting.set(id, { resolve, reject });
      // Only an outstanding write keeps the process alive.
      if (this.waiting.size === 1) worker.ref();
      worker.postMessage({ type: 'write', id, readings });
    });
    const settled = written.then(
      () => undefined,
      () => undefined,
    );
    this.inFlight.add(settled);
    void settled.then(() => this.inFlight.delete(settled));
    return written;
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
      if (reply.error === undefined) waiter.resolve();
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
