import { checkMigrations, type Migration } from '../../database.js';
import m001 from './001-portfolio-registry-loans.js';
import m002 from './002-device-presence.js';
import m003 from './003-api-keys-audit.js';
import m004 from './004-models-scores.js';
import m005 from './005-event-outbox.js';
import m006 from './006-alerts.js';
import m007 from './007-webhooks.js';
import m008 from './008-score-inputs-heads.js';
import m009 from './009-model-artifacts.js';
import m010 from './010-helmet-roles-cases-suppressions.js';
import m011 from './011-credit-decisions.js';
import m012 from './012-model-monitoring.js';
import m013 from './013-suppressed-alerts.js';

/** The SQLite schema's migrations in order (`sqlite-migrate.ts` applies them). Append; never edit or renumber. */
export const SQLITE_MIGRATIONS: readonly Migration[] = checkMigrations([
  { version: 1, name: 'portfolio-registry-loans', sql: m001 },
  { version: 2, name: 'device-presence', sql: m002 },
  { version: 3, name: 'api-keys-audit', sql: m003 },
  { version: 4, name: 'models-scores', sql: m004 },
  { version: 5, name: 'event-outbox', sql: m005 },
  { version: 6, name: 'alerts', sql: m006 },
  { version: 7, name: 'webhooks', sql: m007 },
  { version: 8, name: 'score-inputs-heads', sql: m008 },
  { version: 9, name: 'model-artifacts', sql: m009 },
  { version: 10, name: 'helmet-roles-cases-suppressions', sql: m010 },
  { version: 11, name: 'credit-decisions', sql: m011 },
  { version: 12, name: 'model-monitoring', sql: m012 },
  { version: 13, name: 'suppressed-alerts', sql: m013 },
]);
