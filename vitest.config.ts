import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['**/test/**/*.test.ts'],
    exclude: ['node_modules/**', 'dist/**'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // One PostgreSQL cluster for the run; test files take a fresh database each (test/support/postgres.ts).
    globalSetup: ['test/support/postgres-global-setup.ts'],
    reporters: ['default'],
  },
});
