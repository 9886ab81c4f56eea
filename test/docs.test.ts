import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { COMMANDS } from '../bin/commands.js';

const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');

describe('README', () => {
  it('when a command reads an environment variable, then the README documents it', () => {
    const vars = new Set<string>();
    for (const cmd of Object.values(COMMANDS)) {
      for (const spec of cmd.help.env ?? []) for (const v of Object.values(spec)) vars.add(v.env);
    }
    expect(vars.size).toBeGreaterThan(30);
    const missing = [...vars].filter((v) => !readme.includes(`\`${v}\``));
    expect(missing).toEqual([]);
  });

  it('when the Quick start is read, then it is the two commands that install-and-run and test', () => {
    const quick = readme.slice(
      readme.indexOf('## Quick start'),
      readme.indexOf('\n## ', readme.indexOf('## Quick start') + 5),
    );
    expect(quick).toContain('npm install && npm start');
    expect(quick).toContain('npm test');
  });

  it('when a dead-letter reason exists, then the README explains it', async () => {
    const { REJECT_REASONS } = await import('../ingest/validate.js');
    expect(REJECT_REASONS.filter((r) => !readme.includes(`\`${r}\``))).toEqual([]);
  });
});
