import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freshPostgresDatabase } from '../../../test/support/postgres.js';
import { silentLogger } from '../../logger.js';
import { POSTGRES_MIGRATIONS } from '../migrations/postgres/index.js';
import { openSqliteState, stateOn, type StateOptions } from '../open-state.js';
import { PostgresDatabase } from '../postgres/postgres-database.js';
import type { State } from '../state.js';

/**
 * The state backends every repository's contract suite runs on: a SQLite file in a temp dir, and a fresh
 * database on the real PostgreSQL the test run started (test/support/postgres-global-setup.ts). Use as
 * `describe.each(STATE_BACKENDS)('… on %s', (backend) => …)` with `await backend.open()` in the tests.
 */
export interface StateBackend {
  readonly name: 'sqlite' | 'postgres';
  /** A fresh, migrated, empty state; closed (and its files removed) by `closeAll`. */
  open(options?: StateOptions): Promise<State>;
  toString(): string;
}

const opened: { state: State; dir?: string }[] = [];

export const sqliteBackend: StateBackend = {
  name: 'sqlite',
  open(options = {}) {
    const dir = mkdtempSync(join(tmpdir(), 'rf-state-'));
    const state = openSqliteState(join(dir, 'state.db'), options);
    opened.push({ state, dir });
    return Promise.resolve(state);
  },
  toString: () => 'sqlite',
};

export const postgresBackend: StateBackend = {
  name: 'postgres',
  async open(options = {}) {
    const url = await freshPostgresDatabase('state');
    if (url === undefined) throw new Error('PostgreSQL is not available (install Debian postgresql)');
    const db = await PostgresDatabase.open(
      {
        url,
        poolSize: 5,
        statementTimeoutMs: 30_000,
        connectTimeoutMs: 5_000,
        applicationName: 'riskfuse-test',
        log: silentLogger,
      },
      POSTGRES_MIGRATIONS,
    );
    const state = stateOn(db, options);
    opened.push({ state });
    return state;
  },
  toString: () => 'postgres',
};

/** Both backends; PostgreSQL only where the test run has it (CI always does: the harness fails otherwise). */
export const STATE_BACKENDS: readonly StateBackend[] = [sqliteBackend, postgresBackend];

/** Closes every state opened here (call in `afterAll`). */
export async function closeAll(): Promise<void> {
  for (const { state, dir } of opened.splice(0)) {
    await state.close();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * The state a component's tests run on: SQLite in `dir` by default, a fresh PostgreSQL database when the run
 * sets `RISKFUSE_TEST_STATE=postgres` (`npm run test:postgres`: the whole suite on PostgreSQL).
 */
export function testStateBackend(): StateBackend {
  return process.env.RISKFUSE_TEST_STATE === 'postgres' ? postgresBackend : sqliteBackend;
}

/** Opens the test run's state backend (see `testStateBackend`); `dir` is used by SQLite only. */
export async function openTestState(dir: string, options: StateOptions = {}): Promise<State> {
  if (testStateBackend().name === 'postgres') return postgresBackend.open(options);
  return openSqliteState(join(dir, 'state.db'), options);
}
