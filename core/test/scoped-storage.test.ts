import { executionAsyncId } from 'node:async_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { ScopedStorage } from '../scoped-storage.js';

/** Node gives promise continuations an async id only while a promise hook is installed (0 without one). */
const promiseHookInstalled = (): Promise<boolean> => Promise.resolve().then(() => executionAsyncId() !== 0);

describe('ScopedStorage', () => {
  it('when a scope runs, then its callbacks see the store across awaits and timers, and others do not', async () => {
    const storage = new ScopedStorage<string>();
    const seen: (string | undefined)[] = [];
    await storage.run('tx', async () => {
      seen.push(storage.getStore());
      await sleep(5);
      seen.push(storage.getStore());
      await new Promise<void>((resolve) => setImmediate(() => (seen.push(storage.getStore()), resolve())));
    });
    seen.push(storage.getStore());
    expect(seen).toEqual(['tx', 'tx', 'tx', undefined]);
  });

  it('when two scopes overlap, then the first to end leaves the other its store', async () => {
    const storage = new ScopedStorage<string>();
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const second = storage.run('b', async () => {
      await held;
      return storage.getStore();
    });
    await storage.run('a', async () => {
      await sleep(1);
    });
    release();
    expect(await second).toBe('b');
  });

  it('when the last scope has ended, then no promise hook is left installed (the cost it exists to remove)', async () => {
    // Pins the disable: a stock AsyncLocalStorage keeps its hook, so promises stay tracked after `run`.
    expect(await promiseHookInstalled()).toBe(false);
    const storage = new ScopedStorage<number>();
    let inside = false;
    await storage.run(1, async () => {
      inside = await promiseHookInstalled();
    });
    expect(inside).toBe(true);
    expect(await promiseHookInstalled()).toBe(false);
  });

  it('when a scope throws, then the error reaches the caller and the storage is switched off all the same', async () => {
    const storage = new ScopedStorage<number>();
    await expect(storage.run(1, () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(storage.getStore()).toBeUndefined();
    expect(await promiseHookInstalled()).toBe(false);
  });
});
