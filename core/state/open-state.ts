import type { ConfigOf } from '../config.js';
import type { Logger } from '../logger.js';
import { SqlAlertRepository } from './alerts/sql-alert-repository.js';
import { SqlCaseRepository } from './cases/sql-case-repository.js';
import { SqlApiKeyRepository } from './api-keys/sql-api-key-repository.js';
import { SqlAuditRepository } from './audit/sql-audit-repository.js';
import { SqlCreditRepository } from './credit/sql-credit-repository.js';
import type { Database } from './database.js';
import { SqlDeadLetterRepository } from './dead-letters/sql-dead-letter-repository.js';
import { SqlDeviceRepository } from './devices/sql-device-repository.js';
import { SqlLendingRepository } from './lending/sql-lending-repository.js';
import { SqlLoanRepository } from './loans/sql-loan-repository.js';
import { SQLITE_MIGRATIONS } from './migrations/sqlite/index.js';
import { SqlModelRepository } from './models/sql-model-repository.js';
import { SqlModelMonitoringRepository } from './monitoring/sql-model-monitoring-repository.js';
import { openDatabase } from './open-database.js';
import { SqlEventOutbox } from './outbox/sql-event-outbox.js';
import { SqlPortfolioRepository } from './portfolio/sql-portfolio-repository.js';
import { SqlPresenceRepository } from './presence/sql-presence-repository.js';
import { SqlScoreRepository } from './scores/sql-score-repository.js';
import { SqliteDatabase } from './sqlite/sqlite-database.js';
import { SqlSuppressionRepository } from './suppressions/sql-suppression-repository.js';
import type { stateConfigSpec } from './state-config.js';
import type { State } from './state.js';
import { SqlWebhookRepository } from './webhooks/sql-webhook-repository.js';

export interface StateOptions {
  /** The clock of time-dependent reads (a webhook secret's overlap); tests pass their own. */
  readonly now?: () => number;
}

/** The state's repositories on a database (already migrated). */
export function stateOn(db: Database, options: StateOptions = {}): State {
  const now = options.now ?? Date.now;
  return {
    db,
    portfolio: new SqlPortfolioRepository(db),
    loans: new SqlLoanRepository(db),
    devices: new SqlDeviceRepository(db),
    presence: new SqlPresenceRepository(db),
    deadLetters: new SqlDeadLetterRepository(db),
    apiKeys: new SqlApiKeyRepository(db),
    audit: new SqlAuditRepository(db),
    outbox: new SqlEventOutbox(db),
    models: new SqlModelRepository(db),
    monitoring: new SqlModelMonitoringRepository(db),
    scores: new SqlScoreRepository(db),
    alerts: new SqlAlertRepository(db),
    cases: new SqlCaseRepository(db),
    suppressions: new SqlSuppressionRepository(db),
    webhooks: new SqlWebhookRepository(db, now),
    lending: new SqlLendingRepository(db),
    credit: new SqlCreditRepository(db),
    transaction: (fn, options) => db.transaction(fn, options),
    close: () => db.close(),
  };
}

/** Opens the state the configuration names (PostgreSQL when STATE_DB_URL is set, else the SQLite file). */
export async function openState(
  config: ConfigOf<typeof stateConfigSpec>,
  log: Logger,
  applicationName?: string,
): Promise<State> {
  return stateOn(await openDatabase(config, log, applicationName));
}

/** The embedded state on a SQLite file (created and migrated if needed): tests, tools and the demo. */
export function openSqliteState(path: string, options: StateOptions = {}): State {
  return stateOn(new SqliteDatabase(path, SQLITE_MIGRATIONS), options);
}
