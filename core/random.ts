/**
 * mulberry32: a seeded PRNG with 32 bits of state (period 2^32; passes gjrand/PractRand well past our needs).
 * One implementation for everything that must be reproducible from a seed: the simulated world
 * (`simulators/random.ts` `Rng`), model training and evaluation draws (`risk/`), and test worlds. Pinned by
 * `core/test/random.test.ts` (the reference sequence for seed 42).
 */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}
