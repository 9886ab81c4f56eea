import type Database from 'better-sqlite3';
import { RiskfuseError, errorMessage } from '../errors.js';
import type { Logger } from '../logger.js';
import { ROLLUP_BUILD_MIGRATION, ROLLUP_MIGRATION } from './sqlite-rollup.js';
import type { BuildProgress, SqliteWriter } from './sqlite-writer.js';

/**
 * The SQLite telemetry file's setup: its schema migrations and the one-time background build of the hourly and
 * daily aggregates of a file written before they existed (`sqlite-rollup.ts`). The store itself is
 * `sqlite-telemetry-store.ts`; the SQL its reads share is `sqlite-telemetry-sql.ts`.
 */

/** Schema versions, applied in order; `PRAGMA user_version` records how many have run. Never edit a shipped one. */
export const MIGRATIONS: readonly string[] = [
  `CREATE TABLE readings (
     device_id   TEXT    NOT NULL,
     ts          INTEGER NOT NULL,
     seq         INTEGER NOT NULL,
     kind        TEXT    NOT NULL,
     borrower_id TEXT    NOT NULL,
     site_id     TEXT    NOT NULL,
     fields      TEXT    NOT NULL, -- JSON object: field name -> number | string
     PRIMARY KEY (device_id, ts, seq)
   ) WITHOUT ROWID;
   CREATE INDEX readings_borrower_ts ON readings (borrower_id, ts);
   CREATE INDEX readings_kind_ts ON readings (kind, ts);`,
  ROLLUP_MIGRATION,
  ROLLUP_BUILD_MIGRATION,
];

export function migrate(db: Database.Database, log: Logger): void {
  const step = db.transaction(() => {
    // Read inside the (immediate) transaction, so two processes opening the file at once migrate only once.
    const version = db.pragma('user_version', { simple: true }) as number;
    if (version > MIGRATIONS.length) {
      throw new RiskfuseError(
        'MIGRATION_FAILED',
        `telemetry db is at schema version ${version}, newer than this build knows (${MIGRATIONS.length})`,
      );
    }
    for (let v = version; v < MIGRATIONS.length; v += 1) {
      db.exec(MIGRATIONS[v] ?? '');
      db.pragma(`user_version = ${v + 1}`);
      log.info({ schemaVersion: v + 1 }, 'telemetry db migrated');
    }
  });
  try {
    step.immediate();
  } catch (err) {
    if (err instanceof RiskfuseError) throw err;
    throw new RiskfuseError('MIGRATION_FAILED', `telemetry db migration failed: ${errorMessage(err)}`, {
      cause: err,
    });
  }
}

/** How often the aggregates build logs its progress. */
const BUILD_LOG_INTERVAL_MS = 10_000;

/**
 * The one-time build of the aggregates of a file written before they existed, in the background: the store
 * opens at once, queries read raw readings until the build is complete, writes go on between its pages, and a
 * restart resumes it. Logs its progress (readings built, rate, time left) every BUILD_LOG_INTERVAL_MS.
 */
export function buildRollups(
  writer: SqliteWriter,
  path: string,
  log: Logger,
  onProgress: ((p: BuildProgress) => void) | undefined,
): Promise<void> {
  const started = Date.now();
  let first: BuildProgress | undefined;
  let lastLog = 0;
  log.info(
    { path },
    'telemetry store (sqlite): building hourly and daily aggregates of the stored readings in the background ' +
      '(once; queries read raw readings until it is done, writes go on, a restart resumes it)',
  );
  return writer
    .buildRollups((p) => {
      onProgress?.(p);
      first ??= p;
      const now = Date.now();
      if (now - lastLog < BUILD_LOG_INTERVAL_MS) return;
      lastLog = now;
      const rate = ((p.done - first.done) * 1000) / Math.max(1, now - started);
      log.info(
        {
          path,
          readingsBuilt: p.done,
          readingsTotal: p.total,
          percent: p.total > 0 ? Math.round((100 * p.done) / p.total) : 100,
          readingsPerS: Math.round(rate),
          secondsLeft: rate > 0 ? Math.round(Math.max(0, p.total - p.done) / rate) : null,
        },
        'telemetry store (sqlite): building aggregates',
      );
    })
    .then(
      (p) =>
        p.finished
          ? log.info(
              { path, readingsBuilt: p.done, seconds: Math.round((Date.now() - started) / 1000) },
              'telemetry store (sqlite): aggregates built',
            )
          : log.info(
              { path, readingsBuilt: p.done, readingsTotal: p.total },
              'telemetry store (sqlite): aggregates build stopped with the store; it resumes at the next start',
            ),
      (err: unknown) =>
        log.error(
          { err: errorMessage(err) },
          'telemetry store (sqlite): building aggregates failed; queries read raw readings, the build resumes at the next start',
        ),
    );
}
