/**
 * `npm run bench:state` — the state layer on PostgreSQL beside SQLite (the baseline), measured in the same run
 * on the same data, each figure as a ratio postgres/sqlite. The issue's aims: PostgreSQL within 2× of SQLite on
 * reads, and faster than SQLite on concurrent writes from two processes.
 *
 * PostgreSQL: a temp cluster (test/support/postgres.ts: `fsync=off`, `full_page_writes=off`, so its commits do
 * not wait for the disk; SQLite keeps its shipped `synchronous = FULL` in WAL). SQLite: a temp file. Both through
 * the real state layer (`openSqliteState`, `PostgresDatabase.open` + `stateOn`) and the real API (`buildApp`,
 * one app per backend, over HTTP with keep-alive as bench/api.ts), seeded with BENCH_BORROWERS borrowers.
 *
 * 1. Loan import: POST /v1/imports/loans with a CSV of BENCH_IMPORT_ROWS new loans, spread over the borrowers
 *    (one each at the defaults, as a whole loan book's file; the borrowers exist).
 * 2. Score seeding: BENCH_SCORES daily scores per borrower through `state.scores.addScores`, BENCH_SEED_BORROWERS
 *    borrowers' scores per call (one transaction); its rate is a figure too. See `score` for their size.
 * 3. Score read: GET /v1/borrowers/:id/score (bench/api.ts's score route, the scores read from the state as the
 *    risk module's `riskScores` does) under BENCH_CONNECTIONS keep-alive connections from a worker thread
 *    (bench/http-load-worker.ts), BENCH_WARMUP_MS then BENCH_DURATION_MS measured.
 * 4. Portfolio ranking: GET /v1/portfolio/borrowers?sort=pd and GET /v1/scores (first pages, the dashboard's
 *    portfolio table and the ranking), one at a time, p50 of BENCH_RUNS after one warm-up.
 * 5. Concurrent writes: bench/state-writer.ts processes each upserting BENCH_WRITER_LOANS loans of their own in
 *    transactions of BENCH_WRITER_BATCH (loans + an audit entry + an outbox event), into a fresh database: one
 *    process alone, then two at once on the same SQLite file / PostgreSQL database. Loans/s over the wall time.
 *
 * Progress goes to stderr; the last line of stdout is one JSON object with every figure.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os, { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { FEATURES } from '../risk/index.js';
import type { ScoreRecord, State } from '../core/state/index.js';
import {
  openSqliteTelemetryStore,
  type SqliteTelemetryStore,
} from '../core/storage/sqlite-telemetry-store.js';
import { startPostgres, type Postgres } from '../test/support/postgres.js';
import { listenApi, stateScores } from './api-server.js';
import {
  borrowerId,
  openBenchState,
  type BackendName,
  runWriters,
  seedBorrowers,
  syntheticScore,
  type WritersResult,
} from './state-writer.js';
import { envInt, httpLoad, median, runBench } from './support.js';

const BORROWERS = envInt('BENCH_BORROWERS', 10_000);
const SCORES = envInt('BENCH_SCORES', 120);
const SEED_BORROWERS = envInt('BENCH_SEED_BORROWERS', 100);
const IMPORT_ROWS = envInt('BENCH_IMPORT_ROWS', 10_000);
const CONNECTIONS = envInt('BENCH_CONNECTIONS', 16);
const DURATION_MS = envInt('BENCH_DURATION_MS', 5000);
const WARMUP_MS = envInt('BENCH_WARMUP_MS', 1000);
const RUNS = envInt('BENCH_RUNS', 20);
const WRITER_LOANS = envInt('BENCH_WRITER_LOANS', 20_000);
const WRITER_BATCH = envInt('BENCH_WRITER_BATCH', 100);
const WRITE_DEADLINE_MS = envInt('BENCH_WRITE_DEADLINE_MS', 60_000);
/** Borrowers of the write databases (the writers' loans name them). */
const WRITER_BORROWERS = Math.min(BORROWERS, 1_000);
const DAY_MS = 86_400_000;
const BACKENDS = ['sqlite', 'postgres'] as const satisfies readonly BackendName[];
type PerBackend<T> = Record<BackendName, T>;

interface Backend {
  readonly name: BackendName;
  readonly state: State;
  /** The API's base URL, e.g. `http://127.0.0.1:41234`. */
  url: string;
  headers: Record<string, string>;
  close(): Promise<void>;
}

const progress = (line: string): void => void process.stderr.write(`${line}\n`);
const round = (x: number, digits = 0): number => Number(x.toFixed(digits));

/** The API on `state` as production builds it, the scores read from the state (no scoring in this bench). */
async function startBackend(
  name: BackendName,
  state: State,
  telemetry: SqliteTelemetryStore,
): Promise<Backend> {
  const api = await listenApi({ state, telemetry, scores: stateScores(state) });
  return { name, state, url: api.url, headers: api.headers, close: () => api.close() };
}

/** POSTs a CSV of IMPORT_ROWS new loans; resolves the seconds until the report came back. */
async function timeImport(b: Backend): Promise<number> {
  const startAt = Date.now() - 100 * DAY_MS;
  const lines = ['id,borrowerId,principal,currency,annualRatePct,startAt,termDays,status'];
  for (let i = 0; i < IMPORT_ROWS; i++) {
    lines.push(
      `imp-ln${i},${borrowerId(i % BORROWERS)},${50_000 + (i % 100) * 1_000},CAD,9,${startAt},360,active`,
    );
  }
  const startedMs = performance.now();
  const res = await fetch(`${b.url}/v1/imports/loans`, {
    method: 'POST',
    headers: { ...b.headers, 'content-type': 'text/csv' },
    body: `${lines.join('\n')}\n`,
  });
  const report = (await res.json()) as { created?: number };
  const seconds = (performance.now() - startedMs) / 1000;
  if (res.status !== 200 || report.created !== IMPORT_ROWS)
    throw new Error(`${b.name} import: HTTP ${res.status} ${JSON.stringify(report).slice(0, 300)}`);
  return seconds;
}

/**
 * A borrower's score of `day` days ago. The latest is a champion score as the scoring service stores it (three
 * reasons, every feature's contribution and input); older ones are lean, as bench/dashboard.ts seeds them (one
 * reason and contribution), to keep the seeding inside the run's budget: the routes timed read the latest whole
 * and only `at`/`pd` of older ones.
 */
function score(i: number, day: number, atMs: number): ScoreRecord {
  const head = syntheticScore(borrowerId(i), i, BORROWERS, day, atMs);
  if (day > 0) {
    const reason = { feature: 'utilisation', contribution: 0.3, value: 0.8, text: 'High utilisation' };
    return { ...head, reasons: [reason], contributions: { utilisation: 0.3 } };
  }
  const contributions: Record<string, number> = {};
  const features: Record<string, number | null> = {};
  FEATURES.forEach((f, k) => {
    contributions[f.name] = round(Math.sin(i + k) / 10, 6);
    features[f.name] = k % 7 === 0 ? null : round(Math.cos(i * k) * 100, 4);
  });
  const reasons = FEATURES.slice(0, 3).map((f, k) => ({
    feature: f.name,
    contribution: round(0.3 - k / 10, 3),
    value: features[f.name] ?? null,
    text: `${f.name} raised the risk`,
  }));
  return { ...head, reasons, contributions, features };
}

/**
 * BORROWERS × SCORES scores, SEED_BORROWERS borrowers' per `addScores`, each batch stored on every backend in
 * turn; resolves the seconds each spent in `addScores`.
 */
async function seedScores(backends: readonly Backend[]): Promise<PerBackend<number>> {
  const nowMs = Date.now();
  const spentMs: PerBackend<number> = { sqlite: 0, postgres: 0 };
  let shownPct = 0;
  for (let from = 0; from < BORROWERS; from += SEED_BORROWERS) {
    const batch: ScoreRecord[] = [];
    for (let i = from; i < Math.min(BORROWERS, from + SEED_BORROWERS); i++) {
      for (let day = SCORES - 1; day >= 0; day--) batch.push(score(i, day, nowMs - day * DAY_MS));
    }
    for (const b of backends) {
      const startedMs = performance.now();
      await b.state.scores.addScores(batch);
      spentMs[b.name] += performance.now() - startedMs;
    }
    const done = Math.min(BORROWERS, from + SEED_BORROWERS);
    if (Math.floor((done * 10) / BORROWERS) * 10 > shownPct || done === BORROWERS) {
      shownPct = Math.floor((done * 10) / BORROWERS) * 10;
      const rate = (name: BackendName): number => Math.round((done * SCORES) / (spentMs[name] / 1000));
      progress(
        `  ${(done * SCORES).toLocaleString('en')} scores seeded (${shownPct}%): sqlite ${rate('sqlite')}/s, postgres ${rate('postgres')}/s`,
      );
    }
  }
  return mapValues(spentMs, (ms) => ms / 1000);
}

/** p50 and max of RUNS sequential GETs of `path`, after one warm-up; each must answer 200. */
async function timeGets(b: Backend, path: string): Promise<{ p50Ms: number; maxMs: number }> {
  const times: number[] = [];
  for (let i = 0; i <= RUNS; i++) {
    const startedMs = performance.now();
    const res = await fetch(`${b.url}${path}`, { headers: b.headers });
    const body = (await res.json()) as { items?: unknown[] };
    if (res.status !== 200 || (body.items?.length ?? 0) === 0)
      throw new Error(`${b.name} GET ${path}: HTTP ${res.status}`);
    if (i > 0) times.push(performance.now() - startedMs);
  }
  return { p50Ms: round(median(times), 1), maxMs: round(Math.max(...times), 1) };
}

async function main(): Promise<void> {
  const t0 = performance.now();
  const loadAvgStart = os.loadavg()[0] ?? 0;
  const dir = mkdtempSync(join(tmpdir(), 'rf-bench-state-'));
  let cluster: Postgres | undefined;
  const backends: Backend[] = [];
  const telemetry = openSqliteTelemetryStore(join(dir, 'telemetry.db'));
  const figures: Record<string, number | string> = { bench: 'state' };
  const rows: string[] = [];
  /** A figure on both backends and its ratio: keys `<figure>Sqlite<Unit>`, `…Postgres<Unit>`, `<figure><Unit>Ratio`. */
  const row = <T>(name: string, figure: string, unit: string, of: PerBackend<T>, pick: (v: T) => number) => {
    const values = mapValues(of, pick);
    const ratio = values.postgres / values.sqlite;
    rows.push(
      `${name.padEnd(46)} ${String(values.sqlite).padStart(10)} ${String(values.postgres).padStart(10)} ${ratio.toFixed(2).padStart(9)}`,
    );
    Object.assign(figures, {
      [`${figure}Sqlite${unit}`]: values.sqlite,
      [`${figure}Postgres${unit}`]: values.postgres,
      [`${figure}${unit}Ratio`]: round(ratio, 3),
    });
  };
  try {
    progress('starting a PostgreSQL cluster…');
    cluster = await startPostgres();
    const states: PerBackend<State> = {
      sqlite: await openBenchState('sqlite', join(dir, 'state.db')),
      postgres: await openBenchState('postgres', await cluster.createDatabase('bench_state'), 10),
    };
    const pgVersion = await serverVersion(cluster.url);
    for (const name of BACKENDS) {
      progress(`${name}: seeding ${BORROWERS.toLocaleString('en')} borrowers, starting the API`);
      await seedBorrowers(states[name], BORROWERS);
      backends.push(await startBackend(name, states[name], telemetry));
    }
    const each = async <T>(fn: (b: Backend) => Promise<T>): Promise<PerBackend<T>> => {
      const out: Partial<PerBackend<T>> = {};
      for (const b of backends) out[b.name] = await fn(b);
      return out as PerBackend<T>;
    };

    progress(`import: ${IMPORT_ROWS.toLocaleString('en')} loans as CSV`);
    const importS = await each(timeImport);
    row('loan import, POST /v1/imports/loans (s)', 'import', 'S', importS, (s) => round(s, 2));
    row('  rate (loans/s)', 'import', 'RowsPerS', importS, (s) => Math.round(IMPORT_ROWS / s));

    const seedRows = BORROWERS * SCORES;
    progress(`seeding ${seedRows.toLocaleString('en')} scores per backend…`);
    const seedS = await seedScores(backends);
    row('score seeding, state.scores.addScores (s)', 'seed', 'S', seedS, (s) => round(s, 1));
    row('  rate (scores/s)', 'seed', 'RowsPerS', seedS, (s) => Math.round(seedRows / s));

    progress(`score read: ${CONNECTIONS} connections, ${WARMUP_MS} + ${DURATION_MS} ms per backend`);
    const read = await each(async (b) => {
      const r = await httpLoad({
        url: `${b.url}/v1/borrowers/${borrowerId(BORROWERS >> 1)}/score`,
        headers: b.headers,
        connections: CONNECTIONS,
        warmupMs: WARMUP_MS,
        durationMs: DURATION_MS,
      });
      if (r.errors > 0 || r.non2xx > 0 || r.requests === 0)
        throw new Error(`${b.name} score read: ${r.errors} errors, ${r.non2xx} non-2xx`);
      return r;
    });
    row('GET /v1/borrowers/:id/score (req/s)', 'scoreRead', 'PerS', read, (r) => r.perS);
    row('  p50 (ms)', 'scoreRead', 'P50Ms', read, (r) => r.p50Ms);
    row('  p99 (ms)', 'scoreRead', 'P99Ms', read, (r) => r.p99Ms);

    progress(`ranking: ${RUNS} requests per route and backend`);
    const table = await each((b) => timeGets(b, '/v1/portfolio/borrowers?sort=pd'));
    const ranking = await each((b) => timeGets(b, '/v1/scores'));
    row('GET /v1/portfolio/borrowers?sort=pd p50 (ms)', 'portfolio', 'P50Ms', table, (r) => r.p50Ms);
    row('  max (ms)', 'portfolio', 'MaxMs', table, (r) => r.maxMs);
    row('GET /v1/scores p50 (ms)', 'ranking', 'P50Ms', ranking, (r) => r.p50Ms);
    row('  max (ms)', 'ranking', 'MaxMs', ranking, (r) => r.maxMs);
    for (const b of backends.splice(0)) await b.close();
    for (const name of BACKENDS) await states[name].close();

    const writes = new Map<number, PerBackend<WritersResult>>();
    for (const processes of [1, 2]) {
      const out: Partial<PerBackend<WritersResult>> = {};
      for (const name of BACKENDS) {
        progress(`writes: ${processes} process(es) × ${WRITER_LOANS.toLocaleString('en')} loans on ${name}`);
        // A fresh database each time, holding only the borrowers the loans name.
        const target =
          name === 'sqlite'
            ? join(dir, `writes-${processes}.db`)
            : await cluster.createDatabase(`bench_writes_${processes}`);
        const seeding = await openBenchState(name, target);
        await seedBorrowers(seeding, WRITER_BORROWERS);
        await seeding.close();
        out[name] = await runWriters(processes, (w) => ({
          backend: name,
          target,
          writer: `p${processes}w${w}`,
          loans: WRITER_LOANS,
          batch: WRITER_BATCH,
          borrowers: WRITER_BORROWERS,
          deadlineMs: WRITE_DEADLINE_MS,
        }));
      }
      writes.set(processes, out as PerBackend<WritersResult>);
    }
    const single = writes.get(1);
    const dual = writes.get(2);
    if (single === undefined || dual === undefined) throw new Error('unreachable');
    row('writes, 1 process (loans/s)', 'writes1Process', 'RowsPerS', single, (w) => w.perS);
    row('writes, 2 processes at once (loans/s)', 'writes2Processes', 'RowsPerS', dual, (w) => w.perS);
    row('  transaction p99 (ms)', 'writes2Processes', 'TxP99Ms', dual, (w) => w.txP99Ms);
    // Failed transactions (their batches retried) are counts, not compared as a ratio.
    figures.writes2ProcessesSqliteErrors = dual.sqlite.errors;
    figures.writes2ProcessesPostgresErrors = dual.postgres.errors;
    for (const name of BACKENDS) {
      const first = single[name].firstError ?? dual[name].firstError;
      if (first !== undefined) progress(`${name}: a writer's transaction failed: ${first}`);
      for (const [processes, w] of [[1, single[name]] as const, [2, dual[name]] as const]) {
        if (w.rows < processes * WRITER_LOANS)
          progress(`${name}, ${processes} process(es): stopped at the deadline, ${w.rows} loans written`);
      }
    }
    const loadAvg = os.loadavg()[0] ?? 0;

    process.stdout.write(
      `bench:state — PostgreSQL ${pgVersion} (temp cluster, fsync off) beside SQLite (WAL, synchronous=FULL), Node ${process.version}\n` +
        `data: ${BORROWERS.toLocaleString('en')} borrowers × ${SCORES} scores (${seedRows.toLocaleString('en')}); import ${IMPORT_ROWS.toLocaleString('en')} loans; reads over ${CONNECTIONS} keep-alive connections, ${DURATION_MS} ms; ` +
        `writers: ${WRITER_LOANS.toLocaleString('en')} loans each, ${WRITER_BATCH} per transaction (+ audit entry + outbox event)\n` +
        `${'figure'.padEnd(46)} ${'sqlite'.padStart(10)} ${'postgres'.padStart(10)} ${'pg/sqlite'.padStart(9)}\n` +
        rows.map((line) => `${line}\n`).join('') +
        `failed (retried) write transactions, 2 processes: sqlite ${dual.sqlite.errors}, postgres ${dual.postgres.errors}\n` +
        `machine: ${os.cpus().length} cores, 1-min load average ${loadAvgStart.toFixed(1)} at start, ${loadAvg.toFixed(1)} at end` +
        (Math.max(loadAvgStart, loadAvg) > os.cpus().length
          ? ' (busy: absolute figures are depressed, ratios noisier)\n'
          : '\n'),
    );
    const readRatio = Math.max(
      ...['scoreReadP50MsRatio', 'portfolioP50MsRatio', 'rankingP50MsRatio'].map((k) => Number(figures[k])),
    );
    const writeRatio = Number(figures.writes2ProcessesRowsPerSRatio);
    process.stdout.write(
      `aims (the issue): reads within 2× of SQLite — worst p50 ratio ${readRatio.toFixed(2)} (${readRatio <= 2 ? 'met' : 'not met'}); ` +
        `faster on writes from two processes — ${writeRatio.toFixed(2)}× (${writeRatio > 1 ? 'met' : 'not met'})\n`,
    );
    Object.assign(figures, {
      borrowers: BORROWERS,
      scoresPerBorrower: SCORES,
      importRows: IMPORT_ROWS,
      connections: CONNECTIONS,
      durationMs: DURATION_MS,
      runs: RUNS,
      writerLoans: WRITER_LOANS,
      writerBatch: WRITER_BATCH,
      loadAvg1mStart: round(loadAvgStart, 1),
      loadAvg1mEnd: round(loadAvg, 1),
      peakRssMb: Math.round(process.memoryUsage().rss / 1048576),
      totalS: round((performance.now() - t0) / 1000, 1),
    });
    process.stdout.write(`${JSON.stringify(figures)}\n`);
  } finally {
    for (const b of backends) await b.close();
    await telemetry.close();
    await cluster?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The cluster's version, asked of the server itself (not through the state: no SQL of the state's here). */
async function serverVersion(url: string): Promise<string> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return String(
      (await client.query<{ server_version: string }>('SHOW server_version')).rows[0]?.server_version,
    );
  } finally {
    await client.end();
  }
}

function mapValues<T>(values: PerBackend<T>, fn: (v: T) => number): PerBackend<number> {
  return { sqlite: fn(values.sqlite), postgres: fn(values.postgres) };
}

runBench(main);
