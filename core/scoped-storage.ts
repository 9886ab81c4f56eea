import { AsyncLocalStorage } from 'node:async_hooks';

/**
 * Async local storage that is switched on only while one of its scopes runs.
 *
 * On Node 20 an AsyncLocalStorage that has once been `run` keeps a promise hook installed for the rest of the
 * process: every promise anywhere (each MQTT packet the broker handles, each reading the ingest stores) then
 * pays an init hook that copies the context onto it, and the garbage collector pays for the copies. The state's
 * transaction scope and the alert service's pending-events scope are used for a few transactions a second, so
 * that cost was paid by every other promise for nothing: in `npm run bench:ingest` the hooks were ~5 % of the
 * event loop the broker and ingest share (`promiseInitHook`, `lookupPublicResource`, `_propagate` in a CPU
 * profile), before the garbage collection they cause. Node removes the hook when every storage is disabled
 * (lib/async_hooks.js `disable`: `storageHook.disable()` once `storageList` is empty), so this one disables
 * itself when its last running scope has ended, and `run` enables it again.
 *
 * What changes: a callback that a scope started and that runs after the scope ended no longer sees the store
 * (with the stock class it saw a scope that was over, e.g. a transaction already committed). Pinned by
 * core/test/scoped-storage.test.ts.
 */
export class ScopedStorage<T> {
  readonly #storage = new AsyncLocalStorage<T>();
  #running = 0;

  getStore(): T | undefined {
    return this.#storage.getStore();
  }

  /** Runs `fn` with `store` as the store for every callback it starts, until the promise `fn` returns settles. */
  async run<R>(store: T, fn: () => Promise<R>): Promise<R> {
    this.#running += 1;
    try {
      return await this.#storage.run(store, fn);
    } finally {
      this.#running -= 1;
      if (this.#running === 0) this.#storage.disable();
    }
  }
}
