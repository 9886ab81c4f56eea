import { createReadStream } from 'node:fs';
import { StringDecoder } from 'node:string_decoder';

/**
 * The lines of a UTF-8 text file (`\n` or `\r\n`), read only as they are asked for.
 *
 * Not `readline.createInterface`: it starts consuming its input the moment it is created, and lines emitted
 * before the first `for await` step are lost; if the file is already read to its end by then, the iteration
 * never ends (nodejs/node#33463, documented under `rl[Symbol.asyncIterator]()`). `riskfuse state import`
 * opens its transaction between the two, so on a loaded machine it found "the file is empty" or hung. Nor
 * does readline forward the stream's errors: a missing file would hang, where here the iteration throws it.
 * Pinned by core/state/test/read-lines.test.ts.
 */
export async function* readLines(path: string): AsyncGenerator<string> {
  const decoder = new StringDecoder('utf8');
  let rest = '';
  for await (const chunk of createReadStream(path)) {
    const text = rest + decoder.write(chunk as Buffer);
    let start = 0;
    for (let nl = text.indexOf('\n'); nl >= 0; nl = text.indexOf('\n', start)) {
      yield withoutCr(text.slice(start, nl));
      start = nl + 1;
    }
    rest = text.slice(start);
  }
  rest += decoder.end();
  if (rest !== '') yield withoutCr(rest);
}

const withoutCr = (line: string): string => (line.endsWith('\r') ? line.slice(0, -1) : line);
