import { describe, expect, it } from 'vitest';
import { ScoreBodyCache } from '../score-body-cache.js';

const key = (at: number, pd = 0.01) => ({ at, modelVersion: 'v1', pd, score: 640 });

describe('ScoreBodyCache', () => {
  it('when the latest score is another one than the body kept, then nothing is served', () => {
    const cache = new ScoreBodyCache();
    cache.set('b1', key(1), '{"a":1}');
    expect(cache.get('b1', key(1))).toBe('{"a":1}');
    expect(cache.get('b1', key(2))).toBeUndefined();
    expect(cache.get('b1', key(1, 0.02))).toBeUndefined();
    expect(cache.get('b1', { ...key(1), modelVersion: 'v2' })).toBeUndefined();
    expect(cache.get('b1', { ...key(1), score: 641 })).toBeUndefined();
    expect(cache.get('b2', key(1))).toBeUndefined();
  });

  it('when more borrowers are kept than its capacity, then the least recently used goes first', () => {
    const cache = new ScoreBodyCache(2);
    cache.set('b1', key(1), 'one');
    cache.set('b2', key(1), 'two');
    expect(cache.get('b1', key(1))).toBe('one'); // b2 is now the least recently used
    cache.set('b3', key(1), 'three');
    expect(cache.size).toBe(2);
    expect(cache.get('b2', key(1))).toBeUndefined();
    expect(cache.get('b1', key(1))).toBe('one');
    expect(cache.get('b3', key(1))).toBe('three');
  });
});
