import { describe, expect, it } from 'vitest';
import { Fifo } from '../fifo.js';

describe('Fifo', () => {
  it('when items are pushed and shifted across growth and wrap-around, then they come out in order', () => {
    const fifo = new Fifo<number>(16);
    const expected: number[] = [];
    const got: number[] = [];
    let next = 0;
    // Interleave pushes and shifts so the ring wraps while it grows (16 → 32 → … → 1024).
    for (let round = 0; round < 200; round++) {
      for (let i = 0; i < 7; i++) {
        expected.push(next);
        expect(fifo.push(next++)).toBe(expected.length - got.length);
      }
      for (let i = 0; i < 2; i++) got.push(fifo.shift() as number);
    }
    expect(fifo.length).toBe(expected.length - got.length);
    expect(fifo.peek()).toBe(expected[got.length]);
    expect([...fifo]).toEqual(expected.slice(got.length));
    while (fifo.length > 0) got.push(fifo.shift() as number);
    expect(got).toEqual(expected);
    expect(fifo.shift()).toBeUndefined();
    expect(fifo.peek()).toBeUndefined();
  });
});
