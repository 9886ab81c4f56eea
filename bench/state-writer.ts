/**
 * bench/state.ts's writing side: the state it opens on either backend, the borrowers it seeds, and its concurrent
 * writes — `runWriters(n, spec)` spawns n writer processes (this file run as `node --import tsx
 * bench/state-writer.ts '<spec JSON>'`, with an IPC channel) and starts them at once.
 *
 * A writer opens the state named by its spec (a SQLite file, or a PostgreSQL URL) through the real state layer,
 * says `ready`, waits for `go`, then writes its own `loans` loans in transactions of `batch`: each transaction
 * upserts the batch, appends an audit entry and an outbox event last (as an import does), and commits. A failed
 * transaction is counted and its batch tried again, as a client retries a 503, until `deadlineMs` after `go`;
 * then it reports what committed.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { newEventId } from '../core/contracts/events.js';
import { silentLogger } from '../core/logger.js';
import { POSTGRES_MIGRATIONS } from '../core/state/migrations/postgres/index.js';
import { PostgresDatabase } from '../core/state/postgres/postgres-database.js';
import {
  openSqliteState,
  stateOn,
  type Loan,
  type ScoreRecord,
  type Sector,
  type State,
} from '../core/state/index.js';

export type BackendName = 'sqlite' | 'postgres';

export interface WriterSpec {
  /** `sqlite` opens `target` as a file; `postgres` as a connection URL. */
  readonly backend: BackendName;
  readonly target: string;
  /** Prefix of this writer's loan ids, so writers never touch each other's rows. */
  readonly writer: string;
  readonly loans: number;
  readonly batch: number;
  /** Loans go to borrowers `b00001` … of this many (they exist already). */
  readonly borrowers: number;
  /** Stop retrying and report after this long from `go`. */
  readonly deadlineMs: number;
}

export interface WriterReport {
  readonly type: 'done';
  readonly rows: number;
  readonly transactions: number;
  /** Transactions that failed (their batch was tried again). */
  readonly errors: number;
  readonly firstError?: string;
  readonly elapsedMs: number;
  readonly txP50Ms: number;
  readonly txP99Ms: number;
  readonly txMaxMs: number;
}

const DAY_MS = 86_400_000;

const SECTORS: readonly Sector[] = ['agriculture', 'manufacturing', 'trading'];

/** The bench's borrower ids: `b00001` …. */
export const borrowerId = (i: number): string => `b${String(i + 1).padStart(5, '0')}`;

/** The state on a SQLite file, or on a PostgreSQL database (migrated) with `poolSize` connections. */
export async function openBenchState(backend: BackendName, target: string, poolSize = 2): Promise<State> {
  if (backend === 'sqlite') return openSqliteState(target);
  const db = await PostgresDatabase.open(
    {
      url: target,
      poolSize,
      statementTimeoutMs: 120_000,
      connectTimeoutMs: 5_000,
      applicationName: 'riskfuse-bench',
      log: silentLogger,
    },
    POSTGRES_MIGRATIONS,
  );
  return stateOn(db);
}

/** Borrowers `b00001` … and the model scores name (a foreign key: a registry entry without artifact). */
export async function seedBorrowers(state: State, count: number): Promise<void> {
  const now = Date.now();
  await state.portfolio.upsertBorrowers(
    Array.from({ length: count }, (_, i) => ({
      id: borrowerId(i),
      name: `Borrower ${i + 1}`,
      sector: SECTORS[i % SECTORS.length] ?? 'trading',
      region: ['north', 'south', 'east', 'west'][i % 4] ?? 'north',
      createdAt: now,
    })),
  );
  await addBenchModel(state, now);
}

/** Model `v1`, the champion, which the benches' scores name (a foreign key): a registry entry, no artifact. */
export async function addBenchModel(state: State, nowMs: number): Promise<void> {
  await state.models.addModel({
    version: 'v1',
    name: 'bench',
    kind: 'synthetic',
    status: 'challenger',
    createdAt: nowMs,
    artifactPath: '/nonexistent',
    dataHash: 'bench',
    backend: 'none',
    meta: {},
  });
  await state.models.activateModel('v1', nowMs);
}

const GRADES = ['A', 'B', 'C', 'D', 'E', 'F', 'G'];

/**
 * A synthetic score of model `v1` (see `addBenchModel`), without its explanation: of borrower `index` of
 * `borrowers`, `day` days ago (at `atMs`), the PD drifting around a level of the borrower's own.
 */
export function syntheticScore(
  borrowerId: string,
  index: number,
  borrowers: number,
  day: number,
  atMs: number,
): Omit<ScoreRecord, 'reasons'> {
  const level = ((index * 7919) % borrowers) / borrowers / 2;
  const pd = Math.min(1, level * (1 + 0.3 * Math.sin(index + day / 4)));
  return {
    borrowerId,
    at: atMs,
    modelVersion: 'v1',
    shadow: false,
    pd,
    score: Math.round(700 - pd * 400),
    grade: GRADES[Math.min(6, Math.floor(pd * 14))] ?? 'G',
    trigger: 'periodic',
  };
}

const quantile = (sorted: readonly number[], q: number): number =>
  sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;

async function write(state: State, spec: WriterSpec): Promise<WriterReport> {
  const startMs = performance.now();
  const nowMs = Date.now();
  const txMs: number[] = [];
  let rows = 0;
  let errors = 0;
  let firstError: string | undefined;
  for (let from = 0; from < spec.loans;) {
    if (performance.now() - startMs > spec.deadlineMs) break;
    const batch: Loan[] = [];
    for (let i = from; i < Math.min(spec.loans, from + spec.batch); i++) {
      batch.push({
        id: `${spec.writer}-ln${i}`,
        borrowerId: borrowerId(i % spec.borrowers),
        principal: 50_000 + (i % 100) * 1_000,
        currency: 'CAD',
        annualRatePct: 8 + (i % 5),
        startAt: nowMs - (i % 365) * DAY_MS,
        termDays: 360,
        status: 'active',
      });
    }
    const sentMs = performance.now();
    try {
      await state.transaction(async () => {
        await state.loans.upsertLoans(batch);
        await state.audit.appendAudit({
          at: Date.now(),
          action: 'import',
          resource: 'loans',
          after: { writer: spec.writer, created: batch.length, ids: batch.map((l) => l.id) },
        });
        // Last, just before commit: on PostgreSQL an append holds the outbox lock until the transaction ends.
        await state.outbox.append([
          {
            id: newEventId(),
            type: 'score.changed',
            occurredAt: Date.now(),
            data: { writer: spec.writer, loans: batch.length, firstLoanId: batch[0]?.id ?? '' },
          },
        ]);
      });
      txMs.push(performance.now() - sentMs);
      rows += batch.length;
      from += batch.length;
    } catch (err) {
      errors += 1;
      firstError ??= err instanceof Error ? err.message : String(err);
    }
  }
  const elapsedMs = performance.now() - startMs;
  const sorted = txMs.sort((a, b) => a - b);
  return {
    type: 'done',
    rows,
    transactions: txMs.length,
    errors,
    ...(firstError === undefined ? {} : { firstError }),
    elapsedMs: Number(elapsedMs.toFixed(1)),
    txP50Ms: Number(quantile(sorted, 0.5).toFixed(2)),
    txP99Ms: Number(quantile(sorted, 0.99).toFixed(2)),
    txMaxMs: Number((sorted[sorted.length - 1] ?? 0).toFixed(2)),
  };
}

/** What `runWriters` measured: loans/s over the wall time from `go` until the last writer reported. */
export interface WritersResult {
  readonly perS: number;
  readonly rows: number;
  /** The slowest writer's transaction p99. */
  readonly txP99Ms: number;
  readonly errors: number;
  readonly firstError?: string;
  readonly reports: readonly WriterReport[];
}

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** Spawns `count` writers (`spec(i)` each), waits until all are ready, starts them at once, collects reports. */
export async function runWriters(count: number, spec: (i: number) => WriterSpec): Promise<WritersResult> {
  const writers = Array.from({ length: count }, (_, i) => {
    // The writers' stdout goes to stderr: this process's stdout ends with the bench's JSON line.
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', 'bench/state-writer.ts', JSON.stringify(spec(i))],
      {
        cwd: ROOT,
        stdio: ['ignore', process.stderr, 'inherit', 'ipc'],
      },
    );
    const inbox: unknown[] = [];
    let wake: (() => void) | undefined;
    child.on('message', (m) => {
      inbox.push(m);
      wake?.();
    });
    const failed = new Promise<never>((_resolve, reject) =>
      child.once('exit', (code) => {
        if (code !== 0) reject(new Error(`state writer ${i} exited with ${String(code)}`));
      }),
    );
    failed.catch(() => undefined);
    const exited = new Promise((resolve) => child.once('exit', resolve));
    const next = async (): Promise<unknown> => {
      while (inbox.length === 0) await Promise.race([new Promise<void>((r) => (wake = r)), failed]);
      return inbox.shift();
    };
    return { child, next, exited };
  });
  for (const w of writers) await w.next(); // ready: connected, nothing written yet
  const startedMs = performance.now();
  for (const w of writers) w.child.send({ type: 'go' });
  const reports = (await Promise.all(writers.map((w) => w.next()))) as WriterReport[];
  const wallS = (performance.now() - startedMs) / 1000;
  await Promise.all(writers.map((w) => w.exited));
  const rows = reports.reduce((sum, r) => sum + r.rows, 0);
  const firstError = reports.find((r) => r.firstError !== undefined)?.firstError;
  return {
    perS: Math.round(rows / wallS),
    rows,
    txP99Ms: Math.max(...reports.map((r) => r.txP99Ms)),
    errors: reports.reduce((sum, r) => sum + r.errors, 0),
    ...(firstError === undefined ? {} : { firstError }),
    reports,
  };
}

async function writerMain(): Promise<void> {
  const send = process.send?.bind(process);
  if (send === undefined) throw new Error('bench/state-writer.ts runs as a child of bench/state.ts (IPC)');
  const spec = JSON.parse(process.argv[2] ?? '') as WriterSpec;
  const state = await openBenchState(spec.backend, spec.target);
  try {
    const go = new Promise<void>((resolve) => process.once('message', () => resolve()));
    send({ type: 'ready' });
    await go;
    const report = await write(state, spec);
    await new Promise<void>((resolve, reject) => send(report, (err) => (err ? reject(err) : resolve())));
  } finally {
    await state.close();
  }
}

// Run as a writer only when this file is the process's entry point (bench/state.ts imports it).
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  writerMain().then(
    () => process.exit(0),
    (err: unknown) => {
      process.stderr.write(`state writer failed: ${err instanceof Error ? err.stack : String(err)}\n`);
      process.exit(1);
    },
  );
}
