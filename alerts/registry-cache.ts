import type { CollateralLot, Device, Site, State } from '../core/state/index.js';

const CACHE_MS = 60_000;
const CACHE_MAX_ENTRIES = 200_000;

/**
 * The registry rows the rules look up (devices, their lots, sites), cached for a minute. An engine job reads
 * those it needs and does not have (`preload`: one round of reads per batch), so that its rules then run
 * without awaiting; the getters only read the cache.
 */
export class RegistryCache {
  private readonly cache = new Map<string, { value: unknown; expiresAtMs: number }>();

  constructor(
    private readonly state: Pick<State, 'devices' | 'portfolio'>,
    private readonly now: () => number,
    private readonly cacheMs: number = CACHE_MS,
  ) {}

  async preload(deviceIds: Iterable<string>, siteIds: Iterable<string> = []): Promise<void> {
    const nowMs = this.now();
    if (this.cache.size > CACHE_MAX_ENTRIES) this.cache.clear();
    const load = async <T>(prefix: string, ids: Iterable<string>, get: (id: string) => Promise<T>) => {
      const stale = [...new Set(ids)].filter(
        (id) => (this.cache.get(prefix + id)?.expiresAtMs ?? 0) <= nowMs,
      );
      await Promise.all(
        stale.map(async (id) => {
          this.cache.set(prefix + id, { value: await get(id), expiresAtMs: nowMs + this.cacheMs });
        }),
      );
    };
    const devices = [...deviceIds];
    await Promise.all([
      load('d:', devices, (id) => this.state.devices.getDevice(id)),
      load('s:', siteIds, (id) => this.state.portfolio.getSite(id)),
    ]);
    const lotIds = devices.flatMap((id) => this.device(id)?.lotId ?? []);
    await load('l:', lotIds, (id) => this.state.portfolio.getLot(id));
  }

  /** The device, as preloaded (undefined when the registry has none, or it was not preloaded). */
  device(id: string): Device | undefined {
    return this.cache.get(`d:${id}`)?.value as Device | undefined;
  }
  site(id: string): Site | undefined {
    return this.cache.get(`s:${id}`)?.value as Site | undefined;
  }
  lot(id: string): CollateralLot | undefined {
    return this.cache.get(`l:${id}`)?.value as CollateralLot | undefined;
  }
}
