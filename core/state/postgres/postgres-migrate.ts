import type pg from 'pg';
import { RiskfuseError } from '../../errors.js';
import { newestMigration, type Migration } from '../database.js';

/** Advisory lock key that serialises migrations: replicas starting together must not both apply one. */
export const MIGRATION_LOCK_KEY = 0x7266_0001;

/**
 * Applies the PostgreSQL migrations not yet recorded in `schema_migrations`, each with its record in one
 * transaction, while holding a transaction-scoped advisory lock, so that of two processes starting at once one
 * migrates and the other finds the work done.
 */
export async function applyPostgresMigrations(
  pool: pg.Pool,
  migrations: readonly Migration[],
): Promise<void> {
  const client = await pool.connect();
  try {
    // Under the lock too: two CREATE TABLE IF NOT EXISTS at once can still collide in the catalog.
    await client.query('BEGIN');
    await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK_KEY]);
    await client.query(
      `CREATE TABLE IF NOT EXISTS schema_migrations (
         version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL
       )`,
    );
    await client.query('COMMIT');
    for (const m of migrations) {
      await client.query('BEGIN');
      try {
        await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK_KEY]);
        const newest = await client.query<{ v: string | null }>(
          'SELECT max(version) AS v FROM schema_migrations',
        );
        const applied = Number(newest.rows[0]?.v ?? 0);
        if (applied > newestMigration(migrations)) {
          throw new RiskfuseError(
            'MIGRATION_FAILED',
            `state database schema version ${applied} is newer than this riskfuse (${newestMigration(migrations)}); upgrade riskfuse`,
          );
        }
        const done = await client.query('SELECT 1 FROM schema_migrations WHERE version = $1', [m.version]);
        if (done.rowCount === 0) {
          await client.query(m.sql);
          await client.query(
            'INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)',
            [m.version, m.name, Date.now()],
          );
        }
        await client.query('COMMIT');
      } catch (err) {
        await client.query('ROLLBACK');
        if (err instanceof RiskfuseError) throw err;
        throw new RiskfuseError(
          'MIGRATION_FAILED',
          `state migration ${m.version} (${m.name}) failed: ${(err as Error).message}`,
          { cause: err },
        );
      }
    }
  } finally {
    client.release();
  }
}
