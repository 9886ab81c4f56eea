import type { ApiKey, ApiKeyCredentials, ApiKeyRepository } from '../core/state/index.js';

/** An active key and its stored credentials, as the state store last answered. */
export interface ActiveApiKey {
  readonly key: ApiKey;
  readonly credentials: ApiKeyCredentials;
}

/**
 * Active API keys as the state store last answered, kept for at most `ttlMs` (API_KEY_CACHE_MS), so a
 * request does not pay a state read (a round trip on PostgreSQL) to learn what the previous one learnt.
 * Only what the store holds is cached — the id's role and its salted hash — never a presented secret: every
 * request still hashes its secret and compares it in constant time (api/auth.ts), so a wrong secret for a
 * cached id is refused as before. Unknown or revoked ids are not cached (each attempt reads the store), so
 * the cache holds at most the active keys.
 *
 * Revocation: a key revoked through this process (DELETE /v1/api-keys/:id, rotation) is dropped here
 * after its transaction commits (`forget`), and refused by the very next request; one revoked by another API
 * process sharing the store is refused here within `ttlMs`. A read that started before a `forget` does not
 * repopulate the cache (generation check), so an answer in flight across a revocation cannot outlive it.
 * Pinned by api/test/auth.test.ts ("when a key is revoked…", "when a key is revoked by another process…").
 */
export class ApiKeyCache {
  readonly #keys: Pick<ApiKeyRepository, 'getActiveApiKey'>;
  readonly #ttlMs: number;
  readonly #nowMs: () => number;
  readonly #entries = new Map<string, ActiveApiKey & { readonly readAtMs: number }>();
  #generation = 0;

  /** `nowMs` is a monotonic clock (default `performance.now`), so a wall-clock step cannot extend an entry. */
  constructor(
    keys: Pick<ApiKeyRepository, 'getActiveApiKey'>,
    ttlMs: number,
    nowMs: () => number = () => performance.now(),
  ) {
    this.#keys = keys;
    this.#ttlMs = ttlMs;
    this.#nowMs = nowMs;
  }

  /** The key with this id when the cache holds it as active, read at most `ttlMs` ago; else undefined (ask `active`). */
  cached(id: string): ActiveApiKey | undefined {
    const hit = this.#entries.get(id);
    return hit !== undefined && this.#nowMs() - hit.readAtMs < this.#ttlMs ? hit : undefined;
  }

  /** The key with this id when it is active (as of at most `ttlMs` ago), else undefined. */
  async active(id: string): Promise<ActiveApiKey | undefined> {
    const startMs = this.#nowMs();
    const hit = this.#entries.get(id);
    if (hit !== undefined && startMs - hit.readAtMs < this.#ttlMs) return hit;
    const generation = this.#generation;
    const active = await this.#keys.getActiveApiKey(id);
    if (active === undefined) {
      this.#entries.delete(id);
      return undefined;
    }
    // Aged from when the read started: the entry is never younger than the store's answer.
    if (this.#ttlMs > 0 && generation === this.#generation)
      this.#entries.set(id, { ...active, readAtMs: startMs });
    return active;
  }

  /** The key was revoked (committed): the next request with it reads the store. */
  forget(id: string): void {
    this.#generation += 1;
    this.#entries.delete(id);
  }
}
