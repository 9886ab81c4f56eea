import type { FastifyRequest } from 'fastify';
import { credentialsOfApiKey, issueApiKey, parseApiKey, verifyApiKeySecret } from '../core/credentials.js';
import { RiskfuseError, errorMessage } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { ApiKey, ApiKeyRepository, ApiRole, State } from '../core/state/index.js';
import type { ApiKeyCache } from './api-key-cache.js';
import { accessFor } from './permissions.js';

/** The caller of a request, once its API key is verified. */
export interface Principal {
  readonly keyId: string;
  readonly role: ApiRole;
}

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal | null;
  }
}

/** `last_used_at` is written at most this often per key, so reads do not each cost a durable write. */
const TOUCH_INTERVAL_MS = 60_000;
/** Last-used times waiting to be written are written together this often (one transaction). */
const TOUCH_FLUSH_MS = 5_000;

type KeyStore = Pick<ApiKeyRepository, 'touchApiKey'>;

/**
 * Keys' last-used times, written off the request path: a request only notes the time (at most once a
 * minute per key), and the notes are written together every few seconds in one transaction, so no request
 * waits for a durable write (with SQLite's fsync, that request's latency was the API's p99 in
 * `npm run bench:api`). A failed write is logged and the time noted again on the key's next use; `flush()`
 * on close writes what is pending. Pinned by api/test/auth.test.ts ("when a key is used…").
 */
export class LastUsedRecorder {
  readonly #keys: KeyStore;
  readonly #transaction: <T>(fn: () => Promise<T>) => Promise<T>;
  readonly #log: Logger;
  readonly #notedAt = new Map<string, number>();
  #pending = new Map<string, number>();
  #timer: NodeJS.Timeout | undefined;
  #flushing: Promise<void> = Promise.resolve();

  constructor(
    keys: KeyStore,
    transaction: <T>(fn: () => Promise<T>) => Promise<T>,
    log: Logger,
    private readonly flushMs = TOUCH_FLUSH_MS,
  ) {
    this.#keys = keys;
    this.#transaction = transaction;
    this.#log = log;
  }

  /** The key was used at `nowMs`. */
  used(id: string, nowMs: number): void {
    if (nowMs - (this.#notedAt.get(id) ?? Number.NEGATIVE_INFINITY) < TOUCH_INTERVAL_MS) return;
    this.#notedAt.set(id, nowMs);
    this.#pending.set(id, nowMs);
    this.#timer ??= setTimeout(() => {
      this.#timer = undefined;
      void this.flush();
    }, this.flushMs).unref();
  }

  /** Writes every pending last-used time; resolves when written (or failed, logged). */
  flush(): Promise<void> {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    const batch = this.#pending;
    this.#pending = new Map();
    this.#flushing = this.#flushing.then(async () => {
      if (batch.size === 0) return;
      try {
        await this.#transaction(async () => {
          for (const [id, at] of batch) await this.#keys.touchApiKey(id, at);
        });
      } catch (err) {
        // Noted again on the next use; the time is informative, not an audit record.
        for (const id of batch.keys()) this.#notedAt.delete(id);
        this.#log.warn({ err: errorMessage(err), keys: batch.size }, 'API key last-used times not written');
      }
    });
    return this.#flushing;
  }
}

/** The presented key: `Authorization: Bearer <key>`, else `X-API-Key: <key>`. */
function presentedKey(request: FastifyRequest): string | undefined {
  const auth = request.headers.authorization;
  if (typeof auth === 'string') {
    // Anything that is not a well-formed key (another scheme included) fails verification below: 401.
    return /^Bearer\s+(.+)$/i.exec(auth)?.[1]?.trim() ?? auth;
  }
  const header = request.headers['x-api-key'];
  return typeof header === 'string' ? header.trim() : undefined;
}

/**
 * The onRequest hook: resolves the route's access from the permission table, verifies the key (its secret
 * hashed with the stored salt and compared in constant time on every request; the stored key from `active`,
 * which honours revocation as api/api-key-cache.ts says) and the role. 401 without a valid key, 403 with one
 * whose role is not allowed.
 */
export function createAuthHook(
  active: Pick<ApiKeyCache, 'active' | 'cached'>,
  lastUsed: Pick<LastUsedRecorder, 'used'>,
  log: Logger,
): (request: FastifyRequest) => Promise<void> {
  return async (request) => {
    const url = request.routeOptions.url;
    // No route matched: the not-found handler answers (404 problem), nothing to protect.
    if (url === undefined) return;
    const access = accessFor(request.method, url);
    if (access === 'public') return;
    const key = presentedKey(request);
    if (key === undefined) {
      throw new RiskfuseError('UNAUTHENTICATED', 'an API key is required: `Authorization: Bearer <key>`');
    }
    const parsed = parseApiKey(key);
    // The key and its credentials in one read, and that read cached for API_KEY_CACHE_MS.
    // A cached key is taken without awaiting (no promise per request); a miss reads the store.
    const found =
      parsed === undefined ? undefined : (active.cached(parsed.id) ?? (await active.active(parsed.id)));
    if (
      parsed === undefined ||
      found === undefined ||
      !verifyApiKeySecret(parsed.secret, found.credentials)
    ) {
      throw new RiskfuseError('UNAUTHENTICATED', 'the API key is not valid or has been revoked');
    }
    const stored = found.key;
    request.principal = { keyId: stored.id, role: stored.role };
    lastUsed.used(stored.id, Date.now());
    if (access === undefined) {
      log.error({ method: request.method, url }, 'route missing from the permission table; refused');
      throw new RiskfuseError('FORBIDDEN', 'this route is not open to any role');
    }
    if (!access.includes(stored.role)) {
      throw new RiskfuseError('FORBIDDEN', `role ${stored.role} may not ${request.method} ${url}`);
    }
  };
}

/**
 * First start: when no API key exists, registers `API_ADMIN_KEY` or a fresh admin key. Returns the key only
 * when this call generated it, so the caller can print it once; it is never stored or logged in clear.
 *
 * Serializable: two API processes starting at once on one PostgreSQL database would otherwise both find no
 * key and both create one; now one of them fails to serialize, is re-run, finds the other's key and creates
 * nothing. (The generated key is drawn inside, so a re-run never returns a key it did not store.)
 */
export async function bootstrapAdminKey(
  state: Pick<State, 'apiKeys' | 'audit' | 'transaction'>,
  adminKey: string | undefined,
  nowMs: number = Date.now(),
): Promise<{ created: false } | { created: true; generated: string | undefined; key: ApiKey }> {
  return state.transaction(
    async () => {
      if ((await state.apiKeys.listApiKeys()).length > 0) return { created: false as const };
      const given = adminKey === undefined ? undefined : credentialsOfApiKey(adminKey);
      if (adminKey !== undefined && given === undefined) {
        throw new RiskfuseError(
          'CONFIG_INVALID',
          'API_ADMIN_KEY is not an API key (rfk_<16 hex>_<43 base64url characters>)',
        );
      }
      const issued = given ?? issueApiKey();
      const key: ApiKey = { id: issued.id, name: 'initial admin', role: 'admin', createdAt: nowMs };
      await state.apiKeys.createApiKey(key, { salt: issued.salt, keyHash: issued.keyHash });
      await state.audit.appendAudit({
        at: nowMs,
        action: 'create',
        resource: 'api-key',
        resourceId: key.id,
        after: { ...key, source: given ? 'API_ADMIN_KEY' : 'generated' },
      });
      return { created: true as const, generated: given ? undefined : issued.key, key };
    },
    { isolation: 'serializable' },
  );
}
