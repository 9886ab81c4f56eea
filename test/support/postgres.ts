import { execFile, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { accessSync, constants, readdirSync } from 'node:fs';
import { chown, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { promisify } from 'node:util';
import { Client, escapeIdentifier } from 'pg';
import { inject } from 'vitest';
import { freePort, inCi, logTail, serverProcess } from './child-process.js';

/**
 * A real PostgreSQL cluster for integration tests: `initdb` into its own temp dir, the `postgres` server
 * spawned directly (not through `pg_ctl`, so this process owns its PID) on a free loopback port, its Unix
 * socket and log in the same temp dir, `fsync` and `full_page_writes` off because a test cluster never
 * outlives the machine (a killed postgres still loses nothing: its WAL is in the kernel's page cache). Tests take one fresh database each via
 * `createDatabase()`. It can be killed and started again on the same port and data dir, so tests can take
 * the store away and bring it back.
 */
export interface Postgres {
  /** URL of the `postgres` maintenance database, e.g. `postgres://postgres@127.0.0.1:43123/postgres`. */
  readonly url: string;
  readonly port: number;
  /** Temp dir holding the data dir (`data/`), the Unix socket and `postgres.log`. */
  readonly dir: string;
  /** Creates a fresh, uniquely named database (name starts with `prefix`, default `test`); returns its URL. */
  createDatabase(prefix?: string): Promise<string>;
  /** Crash (SIGKILL to the postmaster) that keeps the data dir, for `restart()`. */
  kill(): Promise<void>;
  /** Starts postgres again on the same port and data dir (after `kill()`); waits until `SELECT 1` answers. */
  restart(): Promise<void>;
  /** Final stop: fast shutdown (SIGINT), SIGKILL after 10 s, then removes the temp dir. */
  stop(): Promise<void>;
}

const START_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 10_000;
const PROBE_TIMEOUT_MS = 1_000;
/** Debian's `postgresql-<major>` packages install their binaries under `/usr/lib/postgresql/<major>/bin`. */
const DEBIAN_ROOT = '/usr/lib/postgresql';
/** PostgreSQL truncates identifiers longer than this (NAMEDATALEN - 1). */
const MAX_IDENTIFIER_BYTES = 63;

interface Binaries {
  readonly initdb: string;
  readonly postgres: string;
}

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function inDir(dir: string): Binaries | undefined {
  const initdb = join(dir, 'initdb');
  const postgres = join(dir, 'postgres');
  return executable(initdb) && executable(postgres) ? { initdb, postgres } : undefined;
}

/** The highest Debian major under `/usr/lib/postgresql` that has both binaries, else the first PATH entry. */
function findBinaries(): Binaries | undefined {
  let majors: string[] = [];
  try {
    majors = readdirSync(DEBIAN_ROOT).filter((name) => /^\d+(\.\d+)?$/.test(name));
  } catch {
    // no Debian PostgreSQL package installed
  }
  majors.sort((a, b) => Number(b) - Number(a));
  for (const major of majors) {
    const found = inDir(join(DEBIAN_ROOT, major, 'bin'));
    if (found !== undefined) return found;
  }
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir === '') continue;
    const found = inDir(dir);
    if (found !== undefined) return found;
  }
  return undefined;
}

/** Whether `initdb` and `postgres` are installed (Debian's `/usr/lib/postgresql/<major>/bin`, or on PATH). */
export function postgresAvailable(): boolean {
  return findBinaries() !== undefined;
}

/**
 * Whether PostgreSQL suites run: use as
 * `const pg = postgresForTests(); describe.skipIf(!pg.available && !pg.required)(…)`. Outside CI a missing
 * PostgreSQL skips them (the global setup prints a note once); in CI (`CI` set) they are `required`, so they
 * run and fail with a message saying what to install, as the InfluxDB suites do.
 */
export function postgresForTests(): { required: boolean; available: boolean } {
  return { required: inCi(), available: postgresAvailable() };
}

function missingError(): Error {
  return new Error(
    'PostgreSQL not found (no /usr/lib/postgresql/<major>/bin/postgres, no initdb and postgres on PATH): ' +
      'the PostgreSQL integration tests need a real server ' +
      (inCi() ? '(required in CI because CI is set); ' : '; ') +
      'install Debian package `postgresql` (apt-get install postgresql)',
  );
}

/**
 * initdb and postgres refuse to run as root. Under root they run as the `postgres` user (created by the
 * Debian package) via spawn's `uid`/`gid`, not `runuser`: runuser forks and waits, so its PID is not the
 * postmaster's and a SIGKILL to it would leave the server running as an orphan.
 */
function serverUser(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  let entry: string;
  try {
    entry = execFileSync('getent', ['passwd', 'postgres'], { encoding: 'utf8' });
  } catch {
    throw new Error(
      'running as root, but there is no `postgres` user to run initdb and postgres as ' +
        '(install Debian package `postgresql`, which creates it, or run the tests as a normal user)',
    );
  }
  const [, , uid, gid] = entry.trim().split(':');
  return { uid: Number(uid), gid: Number(gid) };
}

/** A database name: the prefix reduced to `[a-z0-9_]`, then 12 random hex digits. */
function uniqueName(prefix: string): string {
  const suffix = randomBytes(6).toString('hex');
  const clean = prefix.toLowerCase().replace(/[^a-z0-9_]+/g, '_');
  const head = /^[a-z_]/.test(clean) ? clean : `db_${clean}`;
  return `${head.slice(0, MAX_IDENTIFIER_BYTES - suffix.length - 1)}_${suffix}`;
}

function urlFor(serverUrl: string, database: string): string {
  const url = new URL(serverUrl);
  url.pathname = `/${database}`;
  return url.toString();
}

/** Creates a fresh database on the server at `serverUrl` (any database URL on it) and returns its URL. */
async function createDatabaseAt(serverUrl: string, prefix: string): Promise<string> {
  const name = uniqueName(prefix);
  const client = new Client({ connectionString: serverUrl });
  await client.connect();
  try {
    await client.query(`CREATE DATABASE ${escapeIdentifier(name)}`);
  } finally {
    await client.end();
  }
  return urlFor(serverUrl, name);
}

async function selectOneOk(url: string): Promise<boolean> {
  const client = new Client({ connectionString: url, connectionTimeoutMillis: PROBE_TIMEOUT_MS });
  // A server that dies mid-probe makes the client emit 'error'; the failed query already says so.
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Initialises a cluster in a fresh temp dir, starts postgres on a free port and waits until `SELECT 1` works. */
export async function startPostgres(): Promise<Postgres> {
  const binaries = findBinaries();
  if (binaries === undefined) throw missingError();
  const user = serverUser();
  const dir = await mkdtemp(join(tmpdir(), 'riskfuse-postgres-'));
  const dataDir = join(dir, 'data');
  const logPath = join(dir, 'postgres.log');
  if (user !== undefined) await chown(dir, user.uid, user.gid);

  try {
    await promisify(execFile)(
      binaries.initdb,
      ['-D', dataDir, '-A', 'trust', '-U', 'postgres', '--no-sync', '-E', 'UTF8', '--locale=C'],
      { cwd: dir, ...user },
    );
  } catch (err) {
    const output = err instanceof Error && 'stderr' in err ? String(err.stderr) : '';
    await rm(dir, { recursive: true, force: true });
    throw new Error(`initdb failed in ${dir}:\n${output}`, { cause: err });
  }

  let port = 0;
  let url = '';
  // synchronous_commit stays on: with it off, a commit returns before its WAL leaves postgres's shared
  // buffers, and kill() then loses committed transactions (every time, in test/postgres-harness.test.ts).
  const args = (): string[] => [
    ...['-D', dataDir, '-p', String(port), '-k', dir],
    ...['-c', 'listen_addresses=127.0.0.1', '-c', 'fsync=off'],
    ...['-c', 'full_page_writes=off', '-c', 'max_connections=200'],
  ];
  const server = serverProcess({
    name: 'postgres',
    spawn: () => spawn(binaries.postgres, args(), { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'], ...user }),
    ready: () => selectOneOk(url),
    logPath,
    startTimeoutMs: START_TIMEOUT_MS,
    stopTimeoutMs: STOP_TIMEOUT_MS,
    notReadyMessage: async () =>
      `postgres did not answer SELECT 1 within ${START_TIMEOUT_MS} ms; last log lines:\n${await logTail(logPath)}`,
  });

  try {
    // The port is free when chosen but may be taken by the time postgres binds it; then pick again.
    await server.startWithRetries({
      attempts: 5,
      retryDelayMs: 0,
      prepare: async () => {
        port = await freePort();
        url = `postgres://postgres@127.0.0.1:${port}/postgres`;
      },
      failure: (attempt) => `postgres exited during start-up (attempt ${attempt})`,
    });
  } catch (err) {
    server.dispose();
    await rm(dir, { recursive: true, force: true });
    throw err;
  }

  const restart = async (): Promise<void> => {
    if (server.started()) throw new Error('postgres is running; kill() it first');
    // After a SIGKILL the old backends exit only when they notice the postmaster is gone; until then the
    // new postmaster refuses the data dir ("pre-existing shared memory block is still in use"). Retry.
    await server.startWithRetries({
      attempts: 40,
      retryDelayMs: 250,
      failure: () => `postgres failed to restart on port ${port}`,
    });
  };

  return {
    url,
    port,
    dir,
    createDatabase: (prefix = 'test') => createDatabaseAt(url, prefix),
    kill: () => server.stop('SIGKILL'),
    restart,
    // SIGINT is postgres's "fast" shutdown (disconnects clients, checkpoints). SIGTERM is its "smart"
    // shutdown, which waits for every client to disconnect, so a test that left a pool open would hang it.
    stop: async () => {
      await server.stop('SIGINT');
      server.dispose();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/**
 * A fresh database on the run's shared cluster (started by `test/support/postgres-global-setup.ts`), for
 * use inside any test file; one per test file or test keeps tests independent. Returns undefined only when
 * PostgreSQL is absent outside CI (callers skip, see `postgresForTests()`); throws when CI requires it.
 */
export async function freshPostgresDatabase(prefix: string): Promise<string | undefined> {
  const serverUrl = inject('postgresUrl');
  if (serverUrl !== undefined) return createDatabaseAt(serverUrl, prefix);
  if (!postgresAvailable() && !inCi()) return undefined;
  if (!postgresAvailable()) throw missingError();
  throw new Error(
    'PostgreSQL is installed but no cluster was provided: is test/support/postgres-global-setup.ts ' +
      'listed in globalSetup of vitest.config.ts?',
  );
}
