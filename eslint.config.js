// @ts-check
import eslint from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

/**
 * Import boundaries from ARCHITECTURE.md: components talk through `core/` contracts, nothing imports
 * `api`, `risk` never imports `simulators` (features may only use what a lender can observe).
 */
const MAX_DEPTH = 5;
/**
 * One config per folder depth, so a pattern names the top-level folder exactly: from `core/state/x.ts`,
 * `../../alerts/…` is the alerts component while `./alerts/…` is the state's own alerts folder.
 */
const component = (name, forbidden) =>
  Array.from({ length: MAX_DEPTH }, (_, depth) => ({
    files: [`${name}/${'*/'.repeat(depth)}*.ts`],
    ignores: [`${name}/test/**`, `${name}/**/test/**`],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: forbidden.map((f) => ({
            group: [`${'../'.repeat(depth + 1)}${f}/*`, `${'../'.repeat(depth + 1)}${f}`],
            message: `${name}/ must not import ${f}/`,
          })),
        },
      ],
    },
  }));

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'data/**', 'reports/**', 'eslint.config.js'] },
  eslint.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
    },
  },
  ...component('core', ['broker', 'ingest', 'risk', 'alerts', 'api', 'simulators', 'webhooks', 'bin']),
  ...component('broker', ['ingest', 'risk', 'alerts', 'api', 'simulators', 'webhooks']),
  ...component('ingest', ['broker', 'risk', 'api', 'simulators', 'webhooks']),
  ...component('simulators', ['broker', 'ingest', 'risk', 'alerts', 'api', 'webhooks']),
  ...component('risk', ['broker', 'ingest', 'alerts', 'api', 'simulators', 'webhooks']),
  ...component('api', ['broker', 'ingest', 'simulators']),
  // alerts: core only (score changes arrive as a structural type, not risk's); api and the wiring import it.
  ...component('alerts', ['broker', 'ingest', 'risk', 'api', 'simulators', 'webhooks', 'bin']),
  // The dashboard's browser modules (web/*.js): plain JavaScript, no type information, browser globals.
  {
    files: ['web/**/*.js'],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: { ...tseslint.configs.disableTypeChecked.languageOptions, globals: globals.browser },
  },
  // Webhooks deliver what the outbox holds: core only.
  ...component('webhooks', ['broker', 'ingest', 'risk', 'alerts', 'api', 'simulators', 'bin']),
);
