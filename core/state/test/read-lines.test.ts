import { once } from 'node:events';
import { createReadStream, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, describe, expect, it } from 'vitest';
import { readLines } from '../transfer/read-lines.js';

const dir = mkdtempSync(join(tmpdir(), 'rf-read-lines-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const collect = async (lines: AsyncIterable<string>): Promise<string[]> => {
  const out: string[] = [];
  for await (const line of lines) out.push(line);
  return out;
};
const later = () => new Promise((resolve) => setTimeout(resolve, 50));

describe('readLines', () => {
  it('when the iteration starts after other awaited work, then no line is lost (readline loses them)', async () => {
    const file = join(dir, 'late.jsonl');
    const expected = Array.from({ length: 200 }, (_, i) => JSON.stringify({ i }));
    writeFileSync(file, `${expected.join('\n')}\n`);

    const lines = readLines(file);
    await later(); // e.g. the import's BEGIN
    expect(await collect(lines)).toEqual(expected);

    // The reason it exists: readline reads at once, and what it emitted before the loop is gone.
    const rl = createInterface({ input: createReadStream(file), crlfDelay: Infinity });
    await once(rl, 'close'); // a slow BEGIN: the small file is read to its end meanwhile
    const viaReadline = await Promise.race([collect(rl), later().then(() => 'never ended' as const)]);
    expect(viaReadline).not.toEqual(expected);
    rl.close();
  });

  it('when lines end in CRLF, a character spans two chunks, or the last line has no newline, then each line comes whole', async () => {
    const file = join(dir, 'mixed.txt');
    const long = 'é'.repeat(70_000); // 140 kB: crosses the 64 kB read chunks, split inside a character
    writeFileSync(file, `a\r\n${long}\nb\n\nlast`);
    expect(await collect(readLines(file))).toEqual(['a', long, 'b', '', 'last']);
  });

  it('when the file does not exist, then the iteration throws instead of hanging', async () => {
    await expect(collect(readLines(join(dir, 'missing.jsonl')))).rejects.toThrow(/ENOENT/);
  });
});
