import { join } from 'node:path';
import { defineConfig, int, str, url } from '../config.js';

/** Where the state lives: the embedded SQLite file by default, PostgreSQL when `STATE_DB_URL` is set. */
export const stateConfigSpec = defineConfig({
  dataDir: str('DATA_DIR', { doc: 'Folder for the embedded SQLite files', default: './data' }),
  stateDbPath: str('STATE_DB_PATH', {
    doc: 'SQLite state database (the embedded default, when STATE_DB_URL is unset); default DATA_DIR/state.db',
  }),
  stateDbUrl: url('STATE_DB_URL', {
    doc: 'PostgreSQL state database, `postgres://user:password@host:5432/db`; when set, the state lives there instead of STATE_DB_PATH',
    secret: true,
  }),
  stateDbPoolSize: int('STATE_DB_POOL_SIZE', {
    doc: 'PostgreSQL connections per process',
    default: 10,
    min: 1,
    max: 500,
  }),
  stateDbStatementTimeoutMs: int('STATE_DB_STATEMENT_TIMEOUT_MS', {
    doc: 'PostgreSQL cancels a state statement running longer than this',
    unit: 'ms',
    default: 30_000,
    min: 100,
  }),
  stateDbConnectTimeoutMs: int('STATE_DB_CONNECT_TIMEOUT_MS', {
    doc: 'Waiting longer for a PostgreSQL connection fails the request with 503',
    unit: 'ms',
    default: 5_000,
    min: 100,
  }),
  leaderCheckIntervalMs: int('LEADER_CHECK_INTERVAL_MS', {
    doc: 'Jobs that run once per deployment (webhook delivery, periodic scoring): how often a standby replica tries to take over, and the leader checks it still holds the PostgreSQL lock',
    unit: 'ms',
    default: 2_000,
    min: 100,
  }),
  leaderKeepaliveMs: int('LEADER_KEEPALIVE_MS', {
    doc: "How long PostgreSQL keeps a silent leader's lock (TCP keepalives on its session) before another replica may take over; a killed process's lock is freed at once",
    unit: 'ms',
    default: 10_000,
    min: 1_000,
  }),
});

export function statePath(cfg: { dataDir: string; stateDbPath?: string }): string {
  return cfg.stateDbPath ?? join(cfg.dataDir, 'state.db');
}
