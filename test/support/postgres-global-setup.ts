import type { TestProject } from 'vitest/node';
import { postgresForTests, startPostgres } from './postgres.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** URL of the run's shared cluster (`postgres` db); undefined when PostgreSQL is absent outside CI. */
    postgresUrl: string | undefined;
  }
}

/**
 * Vitest global setup: one PostgreSQL cluster for the whole run (test files take a database each through
 * `freshPostgresDatabase()`), stopped and removed when the run ends. Outside CI a missing PostgreSQL only
 * skips the PostgreSQL suites; in CI (`CI` set) it fails the run here, before any worker starts.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const { available, required } = postgresForTests();
  if (!available) {
    if (required) {
      throw new Error(
        'PostgreSQL not found, and CI (CI is set) requires the PostgreSQL tests to run: ' +
          'install Debian package `postgresql` (apt-get install postgresql)',
      );
    }
    console.warn(
      'PostgreSQL not found: PostgreSQL tests skipped (install Debian package `postgresql` to run them)',
    );
    project.provide('postgresUrl', undefined);
    return () => Promise.resolve();
  }
  const postgres = await startPostgres();
  project.provide('postgresUrl', postgres.url);
  return () => postgres.stop();
}
