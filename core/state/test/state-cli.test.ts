import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { freshPostgresDatabase } from '../../../test/support/postgres.js';
import { newestMigration } from '../database.js';
import { POSTGRES_MIGRATIONS } from '../migrations/postgres/index.js';
import { openSqliteState } from '../open-state.js';
import { stateCommand } from '../state-cli.js';
import { closeAll } from './backends.js';

afterAll(closeAll);

/** Runs `riskfuse state …` in-process; resolves its exit code and what it printed to stdout and stderr. */
async function run(
  argv: string[],
  env: Record<string, string>,
): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let errOut = '';
  const write = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    out += String(chunk);
    return true;
  });
  const err = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
    errOut += String(chunk);
    return true;
  });
  try {
    const code = await stateCommand(argv, { LOG_LEVEL: 'silent', ...env });
    return { code, out, err: errOut };
  } finally {
    write.mockRestore();
    err.mockRestore();
  }
}

describe('riskfuse state', () => {
  it('when an embedded state is exported and imported with STATE_DB_URL, then PostgreSQL holds the same rows', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rf-state-cli-'));
    const sqlite = openSqliteState(join(dir, 'state.db'));
    await sqlite.portfolio.upsertBorrowers([
      { id: 'b1', name: 'Acme', sector: 'trading', region: 'north', createdAt: 1 },
    ]);
    await sqlite.audit.appendAudit({ at: 2, action: 'create', resource: 'borrower', resourceId: 'b1' });
    await sqlite.close();

    const file = join(dir, 'state.jsonl');
    expect((await run(['export', '--file', file], { DATA_DIR: dir })).code).toBe(0);
    expect(readFileSync(file, 'utf8')).toContain('"Acme"');

    const url = await freshPostgresDatabase('statecli');
    if (url === undefined) throw new Error('PostgreSQL is not available');
    // Its stderr in the message: the import's own reason when it fails (seen once in a full CI run).
    const imported = await run(['import', '--file', file], { STATE_DB_URL: url });
    expect(imported.code, imported.err).toBe(0);
    const status = await run(['status'], { STATE_DB_URL: url });
    expect(JSON.parse(status.out)).toMatchObject({
      backend: 'postgres',
      schemaVersion: newestMigration(POSTGRES_MIGRATIONS),
    });
    // A second import into the now non-empty database is refused, and changes nothing.
    expect((await run(['import', '--file', file], { STATE_DB_URL: url })).code).toBe(1);
    const again = join(dir, 'again.jsonl');
    await run(['export', '--file', again], { STATE_DB_URL: url });
    const rows = (f: string) => readFileSync(f, 'utf8').trim().split('\n').slice(1);
    expect(rows(again)).toEqual(rows(file));
  });

  it('when the action is unknown, import has no file or cannot read it, then it is a usage error (exit 2) naming it', async () => {
    expect((await run(['drop'], {})).code).toBe(2);
    expect((await run(['import'], {})).code).toBe(2);
    const dir = mkdtempSync(join(tmpdir(), 'rf-state-cli-'));
    const missing = await run(['import', '--file', join(dir, 'nope.jsonl')], { DATA_DIR: dir });
    expect(missing.code).toBe(2);
    expect(missing.err).toContain('cannot read');
    // Nothing was opened, so nothing was created.
    expect(existsSync(join(dir, 'state.db'))).toBe(false);
  });
});
