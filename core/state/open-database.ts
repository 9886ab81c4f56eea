import type { ConfigOf } from '../config.js';
import type { Logger } from '../logger.js';
import type { Database } from './database.js';
import { POSTGRES_MIGRATIONS } from './migrations/postgres/index.js';
import { SQLITE_MIGRATIONS } from './migrations/sqlite/index.js';
import { PostgresDatabase } from './postgres/postgres-database.js';
import { SqliteDatabase } from './sqlite/sqlite-database.js';
import { statePath, type stateConfigSpec } from './state-config.js';

/** Opens (and migrates) the state database the configuration names: PostgreSQL when STATE_DB_URL is set. */
export async function openDatabase(
  config: ConfigOf<typeof stateConfigSpec>,
  log: Logger,
  applicationName = 'riskfuse',
): Promise<Database> {
  if (config.stateDbUrl !== undefined) {
    return PostgresDatabase.open(
      {
        url: config.stateDbUrl,
        poolSize: config.stateDbPoolSize,
        statementTimeoutMs: config.stateDbStatementTimeoutMs,
        connectTimeoutMs: config.stateDbConnectTimeoutMs,
        applicationName,
        log,
      },
      POSTGRES_MIGRATIONS,
    );
  }
  return Promise.resolve(new SqliteDatabase(statePath(config), SQLITE_MIGRATIONS));
}
