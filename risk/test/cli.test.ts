import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { parseConfig } from '../../core/config.js';
import { EXIT } from '../../core/cli.js';
import { silentLogger } from '../../core/logger.js';
import { openState, stateConfigSpec, type ModelRecord } from '../../core/state/index.js';
import { freshPostgresDatabase } from '../../test/support/postgres.js';
import { modelsCommand, scoreCommand } from '../cli.js';

/** Runs a command in-process with its stdout and stderr captured. */
async function run(
  command: (argv: string[], env: Record<string, string | undefined>) => Promise<number>,
  argv: string[],
  env: Record<string, string>,
): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const out = vi.spyOn(process.stdout, 'write').mockImplementation((s) => ((stdout += String(s)), true));
  const err = vi.spyOn(process.stderr, 'write').mockImplementation((s) => ((stderr += String(s)), true));
  try {
    return { code: await command(argv, env), stdout, stderr };
  } finally {
    out.mockRestore();
    err.mockRestore();
  }
}

const dirs: string[] = [];
afterEach(async () => {
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

describe.each(['sqlite', 'postgres'] as const)('riskfuse score and models on %s', (engine) => {
  it('when the commands run against the configured state, then the default model is installed there, listed, and the champion cannot be retired', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'rf-risk-cli-'));
    dirs.push(dir);
    const env: Record<string, string> = { DATA_DIR: dir };
    if (engine === 'postgres') {
      const url = await freshPostgresDatabase('riskcli');
      if (url === undefined) throw new Error('PostgreSQL is not available (install Debian postgresql)');
      env.STATE_DB_URL = url;
    }

    // An empty book: the run installs the shipped default model as champion and scores nobody.
    const scored = await run(scoreCommand, [], env);
    expect(scored.stderr).toBe('');
    expect(scored.code).toBe(EXIT.ok);
    expect(scored.stdout).toMatch(/^scored 0 borrowers with v1/);

    const listed = await run(modelsCommand, ['list', '--json'], env);
    expect(listed.code).toBe(EXIT.ok);
    const models = JSON.parse(listed.stdout) as ModelRecord[];
    expect(models.map((m) => [m.version, m.status])).toEqual([['v1', 'champion']]);

    // What the commands wrote is in the state the configuration names (and only there).
    const state = await openState(parseConfig(stateConfigSpec, env), silentLogger, 'riskfuse-test');
    try {
      expect(state.db.dialect).toBe(engine);
      expect((await state.models.champion())?.version).toBe('v1');
      expect(existsSync(join(dir, 'state.db'))).toBe(engine === 'sqlite');
    } finally {
      await state.close();
    }

    const retired = await run(modelsCommand, ['retire', 'v1'], env);
    expect(retired.code).toBe(EXIT.failure);
    expect(retired.stderr).toMatch(/v1 is the champion/);
    const unknown = await run(scoreCommand, ['--borrower', 'nobody'], env);
    expect(unknown.code).toBe(EXIT.failure);
    expect(unknown.stderr).toMatch(/unknown borrower nobody/);
  });
});
