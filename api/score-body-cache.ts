import type { ScoreKey } from '../core/state/index.js';

/**
 * The serialised body of each borrower's latest score detail (`GET /v1/borrowers/:id/score`), kept for the
 * next read of the same score. A read still asks the state which score is the latest (its head's narrow
 * columns, `ScoreRepository.latestKey`) and serves the kept body only when it is that very score — same model,
 * time, PD and points — so a score stored by another process (the elected scorer on PostgreSQL) is
 * served at once, never a stale one. What it saves is the wide read of the score's reasons, contributions and
 * inputs, their JSON parse, and the response's serialisation (bench:api: ~30 µs of ~165 µs of server CPU per
 * read). Least recently used bodies go first beyond `capacity` (a detail is ~5 kB: 2,000 hold ~10 MB).
 * Pinned by api/test/score-body-cache.test.ts.
 */
export class ScoreBodyCache {
  readonly #bodies = new Map<string, { readonly key: string; readonly body: string }>();

  constructor(readonly capacity = 2_000) {}

  /** The kept body of this borrower's score `key`, or undefined when none is kept for that score. */
  get(borrowerId: string, key: ScoreKey): string | undefined {
    const hit = this.#bodies.get(borrowerId);
    if (hit === undefined || hit.key !== keyText(key)) return undefined;
    // Most recently used last: re-inserted at the end of the map's order.
    this.#bodies.delete(borrowerId);
    this.#bodies.set(borrowerId, hit);
    return hit.body;
  }

  set(borrowerId: string, key: ScoreKey, body: string): void {
    this.#bodies.delete(borrowerId);
    this.#bodies.set(borrowerId, { key: keyText(key), body });
    if (this.#bodies.size > this.capacity) {
      const oldest = this.#bodies.keys().next().value;
      if (oldest !== undefined) this.#bodies.delete(oldest);
    }
  }

  get size(): number {
    return this.#bodies.size;
  }
}

const keyText = (k: ScoreKey): string => `${k.modelVersion}\u0000${k.at}\u0000${k.pd}\u0000${k.score}`;
