import { Worker } from 'node:worker_threads';
import { errorMessage, RiskfuseError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { GridReply, GridRequest, GridThreadData } from './sqlite-grid-thread.js';
import type { FieldsGrid, FieldsGridQuery } from './telemetry-store.js';

/**
 * Reader threads for the SQLite telemetry store's grid queries, so a portfolio's daily panel uses more than one
 * core. A panel is one grid query per device kind (risk/features/panel.ts), and better-sqlite3 is synchronous:
 * on one thread the kinds are read one after the other. On `npm run bench:score`'s file (10,000 borrowers) the
 * stake grid took 3.0–3.3 s and the helmet, inspector and satellite grids 3.6–4.0 s together on the scoring
 * process's thread, and its first (cold) run was at 10 s at a load of 2 (issue 16's aim: under 10 s); with one
 * reader the four grids took 3.4–4.0 s, and the cold run 5.1–7.8 s against 7.1–9.9 s without (README, "Both
 * cores"). A query goes to an idle reader; with none idle it runs on the store's thread at once, so a panel's
 * queries share the reader and the store's thread.
 *
 * Threads start on the first query sent to them, not when the store opens: a process that never reads a
 * whole portfolio (ingest, the API) starts none. A reader that cannot start or dies hands its query back to
 * the store's thread, which answers it (`runHere`): no query is lost, and the store logs the failure once.
 *
 * The thread's code is its module (`sqlite-grid-thread.ts`), loaded by a small bootstrap: under tsx or vitest
 * the sources are TypeScript, which a worker cannot load without a loader of its own (the writer thread is an
 * eval'd string for that reason, `sqlite-writer.ts`), so the bootstrap registers tsx's loader first when the
 * module is a .ts file. The compiled build loads the .js module as it is. Pinned by
 * core/test/telemetry-grid-readers.test.ts.
 */
const BOOTSTRAP = `
const { parentPort, workerData } = require('node:worker_threads');
(async () => {
  if (workerData.tsxApi) (await import(workerData.tsxApi)).register();
  const m = await import(workerData.moduleUrl);
  m.serveGridReads(parentPort, workerData.data);
})().catch((err) => parentPort.postMessage({ failed: String((err && err.message) || err) }));
`;

export interface GridReadersOptions {
  readonly path: string;
  readonly threads: number;
  readonly busyTimeoutMs: number;
  readonly log: Logger;
  /** Answers a query on the store's thread (when no reader is idle, or one fails). */
  readonly runHere: (q: FieldsGridQuery) => FieldsGrid;
  /** The thread module (tests point it elsewhere to see a reader fail); default `sqlite-grid-thread`. */
  readonly moduleUrl?: URL;
}

interface Reader {
  readonly worker: Worker;
  /** The query it is reading (one at a time), with its caller's promise. */
  job:
    | { id: number; q: FieldsGridQuery; resolve: (g: FieldsGrid) => void; reject: (e: unknown) => void }
    | undefined;
  failed: boolean;
}

export class GridReaders {
  private readers: Reader[] | undefined;
  private nextId = 1;
  private closed = false;
  private warned = false;
  /** Queries answered by a reader thread (the rest ran on the store's thread). */
  threaded = 0;

  constructor(private readonly opts: GridReadersOptions) {}

  /** The grid from an idle reader thread, or undefined when none is idle (the caller reads it itself). */
  tryRead(q: FieldsGridQuery): Promise<FieldsGrid> | undefined {
    if (this.closed || this.opts.threads <= 0) return undefined;
    this.readers ??= Array.from({ length: this.opts.threads }, () => this.start());
    const reader = this.readers.find((r) => !r.failed && r.job === undefined);
    if (reader === undefined) return undefined;
    return new Promise<FieldsGrid>((resolve, reject) => {
      const id = this.nextId++;
      reader.job = { id, q, resolve, reject };
      // Held while it reads: an idle reader must not keep the process alive, a busy one must.
      reader.worker.ref();
      reader.worker.postMessage({ id, q } satisfies GridRequest);
    });
  }

  /** Stops the threads; a query still being read is refused as the store is closing. */
  async close(): Promise<void> {
    this.closed = true;
    const readers = this.readers ?? [];
    this.readers = undefined;
    for (const r of readers) {
      const job = r.job;
      r.job = undefined;
      job?.reject(new RiskfuseError('SHUTTING_DOWN', 'telemetry store (sqlite) is closed'));
    }
    await Promise.all(readers.map((r) => r.worker.terminate()));
  }

  private start(): Reader {
    const here = import.meta.url.endsWith('.ts');
    const moduleUrl =
      this.opts.moduleUrl ?? new URL(`./sqlite-grid-thread.${here ? 'ts' : 'js'}`, import.meta.url);
    const data: GridThreadData = { path: this.opts.path, busyTimeoutMs: this.opts.busyTimeoutMs };
    const worker = new Worker(BOOTSTRAP, {
      eval: true,
      workerData: {
        moduleUrl: moduleUrl.href,
        tsxApi: moduleUrl.pathname.endsWith('.ts') ? import.meta.resolve('tsx/esm/api') : undefined,
        data,
      },
    });
    worker.unref();
    const reader: Reader = { worker, job: undefined, failed: false };
    worker.on('message', (m: GridReply | { failed: string }) => {
      if ('failed' in m) return this.fail(reader, m.failed);
      if ('ready' in m) return;
      const job = reader.job;
      if (job === undefined || job.id !== m.id) return;
      reader.job = undefined;
      worker.unref();
      this.threaded += 1;
      if ('grid' in m) job.resolve(m.grid);
      else job.reject(m.error);
    });
    worker.on('error', (err) => this.fail(reader, errorMessage(err)));
    worker.on('exit', (code) => {
      if (!this.closed) this.fail(reader, `exited with code ${code}`);
    });
    return reader;
  }

  /** A reader that failed is not used again; its query is read on the store's thread instead. */
  private fail(reader: Reader, why: string): void {
    if (reader.failed) return;
    reader.failed = true;
    void reader.worker.terminate();
    if (!this.warned) {
      this.warned = true;
      this.opts.log.warn(
        { path: this.opts.path, err: why },
        'telemetry reader thread failed; its queries run on the store thread',
      );
    }
    const job = reader.job;
    reader.job = undefined;
    if (job === undefined) return;
    try {
      job.resolve(this.opts.runHere(job.q));
    } catch (err) {
      job.reject(err);
    }
  }
}
