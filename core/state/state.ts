import type { AlertRepository } from './alerts/alert-repository.js';
import type { CaseRepository } from './cases/case-repository.js';
import type { ApiKeyRepository } from './api-keys/api-key-repository.js';
import type { AuditRepository } from './audit/audit-repository.js';
import type { Database, TransactionOptions } from './database.js';
import type { CreditRepository } from './credit/credit-repository.js';
import type { DeadLetterRepository } from './dead-letters/dead-letter-repository.js';
import type { DeviceRepository } from './devices/device-repository.js';
import type { LendingRepository } from './lending/lending-repository.js';
import type { LoanRepository } from './loans/loan-repository.js';
import type { ModelRepository } from './models/model-repository.js';
import type { ModelMonitoringRepository } from './monitoring/model-monitoring-repository.js';
import type { EventOutbox } from './outbox/event-outbox.js';
import type { PortfolioRepository } from './portfolio/portfolio-repository.js';
import type { PresenceRepository } from './presence/presence-repository.js';
import type { ScoreRepository } from './scores/score-repository.js';
import type { SuppressionRepository } from './suppressions/suppression-repository.js';
import type { WebhookRepository } from './webhooks/webhook-repository.js';

/**
 * The platform's state: one repository per kind of data, all on one database, so that a change and the outbox
 * event announcing it commit in one `transaction` (on SQLite or PostgreSQL alike).
 */
export interface State {
  readonly db: Database;
  readonly portfolio: PortfolioRepository;
  readonly loans: LoanRepository;
  readonly devices: DeviceRepository;
  readonly presence: PresenceRepository;
  readonly deadLetters: DeadLetterRepository;
  readonly apiKeys: ApiKeyRepository;
  readonly audit: AuditRepository;
  readonly outbox: EventOutbox;
  readonly models: ModelRepository;
  /** Training references, drift and backtests per model version. */
  readonly monitoring: ModelMonitoringRepository;
  readonly scores: ScoreRepository;
  readonly alerts: AlertRepository;
  readonly cases: CaseRepository;
  readonly suppressions: SuppressionRepository;
  readonly webhooks: WebhookRepository;
  readonly lending: LendingRepository;
  readonly credit: CreditRepository;
  /**
   * Runs `fn` in one transaction of the state database: every repository call inside joins it; nested calls
   * join the outer one. See `Database.transaction` (PostgreSQL may re-run `fn` after a serialization failure).
   */
  transaction<T>(fn: () => Promise<T>, options?: TransactionOptions): Promise<T>;
  close(): Promise<void>;
}
