import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { coalesceWrites } from '../coalesce-writes.js';

/** A stream that records how its chunks reach the "socket": one entry per write/writev call. */
function recorder(highWaterMark = 16_384): { stream: Writable; calls: string[][] } {
  const calls: string[][] = [];
  const stream = new Writable({
    highWaterMark,
    write(chunk: Buffer, _enc, done) {
      calls.push([chunk.toString()]);
      done();
    },
    writev(chunks, done) {
      calls.push(chunks.map((c) => (c.chunk as Buffer).toString()));
      done();
    },
  });
  return { stream, calls };
}

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('coalesceWrites', () => {
  it('when several packets are written in one turn of the event loop, then they reach the socket in one call, in order', async () => {
    const { stream, calls } = recorder();
    coalesceWrites(stream);
    stream.write('a');
    stream.write('b');
    process.nextTick(() => stream.write('c'));
    await nextTurn();
    await nextTurn();
    expect(calls).toEqual([['a', 'b', 'c']]);
    stream.write('d');
    await nextTurn();
    await nextTurn();
    expect(calls).toEqual([['a', 'b', 'c'], ['d']]);
  });

  it('when more than the high-water mark is written in one turn, then write says to wait and drain follows the flush', async () => {
    const { stream, calls } = recorder(8);
    coalesceWrites(stream);
    expect(stream.write('1234')).toBe(true);
    expect(stream.write('5678')).toBe(false);
    const drained = new Promise<void>((resolve) => stream.once('drain', resolve));
    await drained;
    expect(calls).toEqual([['1234', '5678']]);
  });
});
