import type BetterSqlite3 from 'better-sqlite3';
import { RiskfuseError } from '../../errors.js';
import { newestMigration, type Migration } from '../database.js';

/**
 * Applies the SQLite migrations not yet recorded in `schema_migrations`, each with its record in one
 * transaction. Databases made before the table existed kept their version in `PRAGMA user_version` (the same
 * migrations, numbered alike, were inline then): those versions are recorded as applied, so an existing
 * `./data/state.db` upgrades in place. `user_version` keeps following the version, so an older riskfuse that
 * knows only the pragma still refuses a schema newer than itself.
 */
export function applySqliteMigrations(db: BetterSqlite3.Database, migrations: readonly Migration[]): void {
  db.exec(
    `CREATE TABLE IF NOT EXISTS schema_migrations (
       version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL
     )`,
  );
  db.transaction(() => {
    const recorded = db.prepare('SELECT count(*) AS c FROM schema_migrations').get() as { c: number };
    const legacy = Number(db.pragma('user_version', { simple: true }));
    if (recorded.c > 0 || legacy === 0) return;
    const record = db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)');
    for (const m of migrations.slice(0, legacy)) record.run(m.version, `${m.name} (adopted)`, Date.now());
  }).immediate();

  const applied = new Set(
    (db.prepare('SELECT version FROM schema_migrations').all() as { version: number }[]).map(
      (r) => r.version,
    ),
  );
  const newest = Math.max(0, ...applied);
  if (newest > newestMigration(migrations)) {
    throw new RiskfuseError(
      'MIGRATION_FAILED',
      `state database schema version ${newest} is newer than this riskfuse (${newestMigration(migrations)}); upgrade riskfuse`,
    );
  }
  for (const m of migrations) {
    if (applied.has(m.version)) continue;
    try {
      db.transaction(() => {
        db.exec(m.sql);
        db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(
          m.version,
          m.name,
          Date.now(),
        );
        // The highest applied, also when a lower-numbered migration lands after a higher one (checkMigrations).
        db.pragma(
          `user_version = ${Math.max(m.version, Number(db.pragma('user_version', { simple: true })))}`,
        );
      }).immediate();
    } catch (err) {
      throw new RiskfuseError(
        'MIGRATION_FAILED',
        `state migration ${m.version} (${m.name}) failed: ${(err as Error).message}`,
        { cause: err },
      );
    }
  }
}
