/**
 * Seeded randomness. Everything in the simulated world derives from one integer seed, so the same seed gives
 * the same world and the same readings whichever order they are generated in. Two tools:
 * - `Rng`: a sequential stream (mulberry32) for processes that evolve day by day (health, lot stock, loans);
 * - `hash*` + `rngAt`: stateless randomness keyed by (stream, day, slot), so a reading's noise depends only on
 *   which reading it is, never on how many readings were generated before it (backfill and live agree).
 */
import { mulberry32 } from '../core/random.js';

/** murmur3's 32-bit finaliser: a cheap, well-mixed avalanche of one integer. */
function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Hash of two integers (order matters). */
export function hash2(a: number, b: number): number {
  return fmix32(Math.imul(fmix32(a | 0) ^ 0x9e3779b9, 0x01000193) ^ (b | 0));
}

export function hash3(a: number, b: number, c: number): number {
  return hash2(hash2(a, b), c);
}

export function hash4(a: number, b: number, c: number, d: number): number {
  return hash2(hash2(hash2(a, b), c), d);
}

/** FNV-1a of a string, finalised; for turning names ("health", a device id) into stream keys. */
export function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return fmix32(h);
}

/** A uniform number in [0, 1) from a 32-bit hash. */
export function unitOf(h: number): number {
  return (h >>> 0) / 4_294_967_296;
}

/** Sequential PRNG on `core/random.ts`'s mulberry32, with the draws the simulators need. */
export class Rng {
  private readonly draw: () => number;
  private spare: number | undefined;

  constructor(seed: number) {
    this.draw = mulberry32(seed);
  }

  /** Uniform in [0, 1). */
  next(): number {
    return this.draw();
  }

  /** Uniform in [lo, hi). */
  range(lo: number, hi: number): number {
    return lo + (hi - lo) * this.next();
  }

  /** Integer in [lo, hi] (inclusive). */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  /** Standard normal (Box–Muller, both values used). */
  normal(): number {
    if (this.spare !== undefined) {
      const s = this.spare;
      this.spare = undefined;
      return s;
    }
    let u = this.next();
    while (u <= 1e-12) u = this.next();
    const v = this.next();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }

  gauss(mean: number, sd: number): number {
    return mean + sd * this.normal();
  }

  /** Exponential with the given mean. */
  exp(mean: number): number {
    return -mean * Math.log(1 - this.next());
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new RangeError('pick from an empty list');
    return items[Math.floor(this.next() * items.length)] as T;
  }

  /** Picks a key with probability proportional to its weight. */
  weighted<K extends string>(weights: Readonly<Record<K, number>>): K {
    const entries = Object.entries(weights) as [K, number][];
    const total = entries.reduce((s, [, w]) => s + w, 0);
    let x = this.next() * total;
    for (const [k, w] of entries) {
      x -= w;
      if (x < 0) return k;
    }
    return (entries[entries.length - 1] as [K, number])[0];
  }
}

/** A fresh stream for a stateless key, e.g. `rngAt(hash4(seed, device, day, slot))`. */
export function rngAt(key: number): Rng {
  return new Rng(key);
}

export const clamp = (x: number, lo: number, hi: number): number => (x < lo ? lo : x > hi ? hi : x);

export const round = (x: number, decimals: number): number => {
  const f = 10 ** decimals;
  return Math.round(x * f) / f;
};

/** Logistic function. */
export const sigmoid = (x: number): number => 1 / (1 + Math.exp(-x));
