import { join } from 'node:path';
import { parseConfig } from '../../core/config.js';
import { silentLogger } from '../../core/logger.js';
import {
  openDatabase,
  stateConfigSpec,
  stateOn,
  type State,
  type StateOptions,
} from '../../core/state/index.js';
import { testStateBackend } from '../../core/state/test/backends.js';
import { freshPostgresDatabase } from './postgres.js';

/** A state a test shares with a `riskfuse` process it spawns: the state, and the env that points the child at it. */
export interface SharedTestState {
  readonly state: State;
  /** `STATE_DB_PATH` of the SQLite file, or `STATE_DB_URL` of the PostgreSQL database. */
  readonly env: Readonly<Record<string, string>>;
}

/**
 * Opens the test run's state backend (see `testStateBackend`: SQLite at `dir/state.db` by default, a fresh
 * PostgreSQL database under RISKFUSE_TEST_STATE=postgres) in a form a child process can open too.
 */
export async function openSharedTestState(dir: string, options: StateOptions = {}): Promise<SharedTestState> {
  let env: Record<string, string>;
  if (testStateBackend().name === 'postgres') {
    const url = await freshPostgresDatabase('shared');
    if (url === undefined) throw new Error('PostgreSQL is not available (install Debian postgresql)');
    env = { STATE_DB_URL: url };
  } else {
    env = { STATE_DB_PATH: join(dir, 'state.db') };
  }
  const db = await openDatabase(parseConfig(stateConfigSpec, env), silentLogger, 'riskfuse-test');
  return { state: stateOn(db, options), env };
}
