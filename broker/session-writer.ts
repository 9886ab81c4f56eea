import { createRequire } from 'node:module';
import { serialize } from 'node:v8';
import { Worker } from 'node:worker_threads';
import { RiskfuseError, errorMessage } from '../core/errors.js';
import type { Logger } from '../core/logger.js';

/**
 * The broker session store's writes (persistence-sqlite.ts), committed on a thread of their own.
 *
 * Why: better-sqlite3 is synchronous, and with `synchronous = FULL` every commit waits for an fsync
 * (5–10 ms on the machine the ingest bench runs on). Committed from the event loop that Aedes, the ingest
 * and every device connection share, the loop stood still for each of them: at one commit per turn the
 * all-in-one process stored 0.42 × what bare Aedes delivers (`npm run bench:ingest`). On this thread the
 * fsync waits while the loop goes on parsing, delivering and acknowledging.
 *
 * Group commit: at most one transaction is in flight. Writes queued while it commits go in the next one,
 * sent as soon as the thread answers, so the slower the disk, the larger the batches, and the number of
 * fsyncs a second is bounded by the disk, not by the message rate. A write's promise resolves only once the
 * transaction holding it has committed (the store's "resolved means committed"); a write-behind is only
 * queued. Operations are committed in the order they were queued.
 *
 * A batch crosses to the thread as one buffer in V8's serialisation format (transferred, not copied again):
 * `[statement index, ...arguments]` per operation. An argument that is an object (not a Buffer) is a packet
 * or a record the thread serialises (`v8.serialize`) into the BLOB column — the format the store reads back
 * on open. Objects must hold data only (no functions): the store passes copies.
 *
 * A failed commit (disk full, I/O error, a constraint) rejects the writes waiting for it; a dead thread
 * rejects those of its batch, and the next batch starts a new one. Either way memory is ahead of the file,
 * as persistence-sqlite.ts describes. Pinned by broker/test/persistence-sqlite.test.ts ("durability and
 * group commit") and the kill-and-restart tests there and in publish-before-ack.test.ts.
 */

/** What a statement is bound to: SQLite values, or an object stored as a BLOB in V8's format. */
export type WriteArg = string | number | null | Buffer | object;

export interface SessionWriterOptions<S extends string> {
  readonly path: string;
  readonly synchronous: 'FULL' | 'NORMAL';
  /** Every statement a write may run, by name (prepared once on the thread). */
  readonly statements: Readonly<Record<S, string>>;
  readonly log: Logger;
}

export interface SessionWriterStats {
  readonly commits: number;
  readonly operations: number;
  readonly failedCommits: number;
  /** Writes lost with a failed commit (memory has them, the file does not). */
  readonly operationsLost: number;
  /** Longest transaction on the writer thread (its fsync included). */
  readonly maxCommitMs: number;
}

/** A commit slower than this is logged: writes waited this long. */
const SLOW_COMMIT_MS = 200;

/**
 * The thread's code. A string run with `eval`, as core/storage/sqlite-writer.ts explains: a worker does not
 * share the loader of the thread that starts it, so a .ts module would not load under tsx or vitest. One
 * thread serves every store of the process (`db` numbers their connections): a thread takes a few hundred
 * milliseconds to start on a loaded machine, and a store is opened again on every restart of a broker in tests.
 */
const WRITER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { serialize, deserialize } = require('node:v8');
const { performance } = require('node:perf_hooks');
const Database = require(workerData.betterSqlite3);
const bind = (a) => (a !== null && typeof a === 'object' && !ArrayBuffer.isView(a) ? serialize(a) : a);
const dbs = new Map();
function open(m) {
  try {
    const db = new Database(m.path);
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = ' + m.synchronous);
    const statements = m.statements.map((sql) => db.prepare(sql));
    const commit = db.transaction((ops) => {
      for (const op of ops) {
        const args = [];
        for (let i = 1; i < op.length; i += 1) args.push(bind(op[i]));
        statements[op[0]].run(...args);
      }
    });
    return { db, commit };
  } catch (err) {
    return { error: 'cannot open ' + m.path + ': ' + String(err && err.message ? err.message : err) };
  }
}
parentPort.on('message', (m) => {
  if (m.type === 'open') {
    dbs.set(m.db, open(m));
    return;
  }
  const target = dbs.get(m.db);
  if (m.type === 'close') {
    dbs.delete(m.db);
    if (target && target.db) target.db.close();
    parentPort.postMessage({ db: m.db, closed: true });
    return;
  }
  const started = performance.now();
  try {
    if (!target || !target.commit) throw new Error(target ? target.error : 'not open');
    target.commit(deserialize(new Uint8Array(m.ops)));
    parentPort.postMessage({ db: m.db, id: m.id, commitMs: performance.now() - started });
  } catch (err) {
    parentPort.postMessage({ db: m.db, id: m.id, error: String(err && err.message ? err.message : err) });
  }
});
`;

type Reply =
  | { readonly db: number; readonly id: number; readonly commitMs?: number; readonly error?: string }
  | { readonly db: number; readonly closed: true };

interface ThreadClient {
  answered(reply: Reply): void;
  died(reason: string): void;
}

/** The process's writer thread, started on first use and again after it died. */
class WriterThread {
  #worker: Worker | undefined;
  /** Bumped per thread started: a store opens its connection once per generation. */
  #generation = 0;
  #busy = 0;
  #nextDb = 0;
  readonly #clients = new Map<number, ThreadClient>();
  readonly #betterSqlite3 = createRequire(import.meta.url).resolve('better-sqlite3');

  register(client: ThreadClient): number {
    const db = this.#nextDb++;
    this.#clients.set(db, client);
    return db;
  }

  unregister(db: number): void {
    this.#clients.delete(db);
  }

  get generation(): number {
    return this.#generation;
  }

  /** Posts `message`; `awaitsReply` keeps the process alive until `replied()` is called for it. */
  post(message: object, transfer: ArrayBuffer[] = [], awaitsReply = false): void {
    const worker = this.#worker ?? this.#start();
    if (awaitsReply && this.#busy++ === 0) worker.ref();
    worker.postMessage(message, transfer);
  }

  replied(): void {
    if (--this.#busy === 0) this.#worker?.unref();
  }

  #start(): Worker {
    this.#generation += 1;
    const worker = new Worker(WRITER_SOURCE, {
      eval: true,
      workerData: { betterSqlite3: this.#betterSqlite3 },
    });
    worker.unref();
    worker.on('message', (reply: Reply) => this.#clients.get(reply.db)?.answered(reply));
    worker.on('error', (err) => this.#died(worker, errorMessage(err)));
    worker.on('exit', (code) => this.#died(worker, `writer thread exited with code ${String(code)}`));
    this.#worker = worker;
    return worker;
  }

  #died(worker: Worker, reason: string): void {
    if (this.#worker !== worker) return;
    this.#worker = undefined;
    this.#busy = 0;
    for (const client of [...this.#clients.values()]) client.died(reason);
  }
}

const thread = new WriterThread();

interface Batch {
  readonly id: number;
  readonly ops: unknown[][];
  /** Settles when the batch is committed or failed; undefined while no write waits for it. */
  waiters: { readonly committed: Promise<void>; resolve(): void; reject(err: Error): void } | undefined;
}

function waitersFor(): NonNullable<Batch['waiters']> {
  let resolve!: () => void;
  let reject!: (err: Error) => void;
  const committed = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { committed, resolve, reject };
}

export class SessionWriter<S extends string> {
  readonly #opts: SessionWriterOptions<S>;
  readonly #index: Record<string, number>;
  /** This store's connection on the writer thread. */
  readonly #db: number;
  /** The thread generation this store's connection was opened in. */
  #openedIn = 0;
  #nextId = 0;
  /** Filling: what the next transaction commits. */
  #pending: Batch;
  /** Committing on the thread. */
  #inFlight: Batch | undefined;
  #sendTimer: NodeJS.Immediate | undefined;
  #closing: Promise<void> | undefined;
  /** Called when the transaction in flight is over, or the connection is closed. */
  #idle: (() => void) | undefined;
  #stats = { commits: 0, operations: 0, failedCommits: 0, operationsLost: 0, maxCommitMs: 0 };

  constructor(opts: SessionWriterOptions<S>) {
    this.#opts = opts;
    this.#index = Object.fromEntries(Object.keys(opts.statements).map((name, i) => [name, i]));
    this.#pending = this.#newBatch();
    this.#db = thread.register({
      answered: (reply) => this.#answered(reply),
      died: (reason) => this.#died(reason),
    });
  }

  get stats(): SessionWriterStats {
    return { ...this.#stats };
  }

  /** Queues `statement(args)` for the next commit; resolves once it is committed. */
  write(statement: S, ...args: WriteArg[]): Promise<void> {
    if (this.#closing !== undefined) {
      return Promise.reject(new RiskfuseError('SHUTTING_DOWN', 'the broker session store is closed'));
    }
    const batch = this.#queue(statement, args);
    batch.waiters ??= waitersFor();
    return batch.waiters.committed;
  }

  /** Queues `statement(args)` for the next commit, without anyone waiting for it. */
  writeBehind(statement: S, ...args: WriteArg[]): void {
    if (this.#closing !== undefined) {
      this.#opts.log.warn('write to the closed broker session store dropped');
      return;
    }
    this.#queue(statement, args);
  }

  /** Commits everything queued, then closes the connection. Later writes are refused. */
  close(): Promise<void> {
    this.#closing ??= this.#drainAndClose();
    return this.#closing;
  }

  async #drainAndClose(): Promise<void> {
    while (this.#inFlight !== undefined || this.#pending.ops.length > 0) {
      if (this.#inFlight === undefined) this.#send();
      if (this.#inFlight === undefined) break;
      await new Promise<void>((resolve) => (this.#idle = resolve));
    }
    if (this.#openedIn === thread.generation && this.#openedIn !== 0) {
      await new Promise<void>((resolve) => {
        this.#idle = resolve;
        thread.post({ type: 'close', db: this.#db }, [], true);
      });
    }
    thread.unregister(this.#db);
  }

  #newBatch(): Batch {
    return { id: this.#nextId++, ops: [], waiters: undefined };
  }

  #queue(statement: S, args: WriteArg[]): Batch {
    const index = this.#index[statement];
    if (index === undefined) throw new Error(`unknown session store statement ${statement}`);
    const batch = this.#pending;
    batch.ops.push([index, ...args]);
    // While a transaction is in flight, its answer sends the next one.
    if (this.#inFlight === undefined) this.#sendTimer ??= setImmediate(() => this.#send());
    return batch;
  }

  #send(): void {
    if (this.#sendTimer !== undefined) clearImmediate(this.#sendTimer);
    this.#sendTimer = undefined;
    const batch = this.#pending;
    if (batch.ops.length === 0 || this.#inFlight !== undefined) return;
    this.#pending = this.#newBatch();
    let ops: ArrayBuffer;
    try {
      const bytes = serialize(batch.ops);
      ops =
        bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength
          ? bytes.buffer
          : new Uint8Array(bytes).buffer;
    } catch (err) {
      // Not data (a function in a packet): this batch cannot be stored; the next one can.
      this.#failed(batch, errorMessage(err));
      return;
    }
    this.#inFlight = batch;
    if (this.#openedIn !== thread.generation || this.#openedIn === 0) {
      const { path, synchronous, statements } = this.#opts;
      thread.post({ type: 'open', db: this.#db, path, synchronous, statements: Object.values(statements) });
      this.#openedIn = thread.generation;
    }
    thread.post({ type: 'commit', db: this.#db, id: batch.id, ops }, [ops], true);
  }

  #answered(reply: Reply): void {
    if ('closed' in reply) {
      thread.replied();
      this.#settle();
      return;
    }
    const batch = this.#inFlight;
    if (batch?.id !== reply.id) return;
    thread.replied();
    this.#inFlight = undefined;
    if (reply.error === undefined) {
      const commitMs = reply.commitMs ?? 0;
      this.#stats.commits += 1;
      this.#stats.operations += batch.ops.length;
      this.#stats.maxCommitMs = Math.max(this.#stats.maxCommitMs, commitMs);
      if (commitMs > SLOW_COMMIT_MS) {
        this.#opts.log.warn(
          { commitMs: Math.round(commitMs), operations: batch.ops.length },
          'slow broker session store commit',
        );
      }
      batch.waiters?.resolve();
    } else {
      this.#failed(batch, reply.error);
    }
    this.#next();
  }

  #died(reason: string): void {
    const batch = this.#inFlight;
    this.#inFlight = undefined;
    if (batch !== undefined) this.#failed(batch, reason);
    this.#next();
  }

  /** The transaction is over: send what queued meanwhile, and tell `close` it may go on. */
  #next(): void {
    if (this.#pending.ops.length > 0 && this.#closing === undefined) this.#send();
    this.#settle();
  }

  #settle(): void {
    const idle = this.#idle;
    this.#idle = undefined;
    idle?.();
  }

  #failed(batch: Batch, reason: string): void {
    this.#stats.failedCommits += 1;
    this.#stats.operationsLost += batch.ops.length;
    this.#opts.log.error(
      { err: reason, operations: batch.ops.length, waiting: batch.waiters !== undefined },
      'broker session store commit failed: these writes are only in memory',
    );
    batch.waiters?.reject(
      new RiskfuseError('STORE_UNAVAILABLE', `broker session store commit failed: ${reason}`),
    );
  }
}
