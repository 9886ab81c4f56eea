import type { CollateralLot, Device, Site, State } from '../core/state/index.js';

const CACHE_MS = 60_000;
const CACHE_MAX_ENTRIES = 200_000;

interface Entry<T> {
  readonly value: T | undefined;
  readonly expiresAtMs: number;
}

/**
 * The registry rows the rules look up (devices, their lots, sites), cached for a minute. An engine job reads
 * those it needs and does not have (`preload`: one round of reads per batch), so that its rules then run
 * without awaiting; the getters only read the cache. One map per kind keyed by the row's id as it arrives: the
 * getters run several times per reading, and building a prefixed key for each lookup was a sixth of
 * `npm run eval:alerts`'s time (and of its garbage).
 */
export class RegistryCache {
  private readonly devices = new Map<string, Entry<Device>>();
  private readonly sites = new Map<string, Entry<Site>>();
  private readonly lots = new Map<string, Entry<CollateralLot>>();

  constructor(
    private readonly state: Pick<State, 'devices' | 'portfolio'>,
    private readonly now: () => number,
    private readonly cacheMs: number = CACHE_MS,
  ) {}

  async preload(deviceIds: Iterable<string>, siteIds: Iterable<string> = []): Promise<void> {
    const nowMs = this.now();
    if (this.devices.size + this.sites.size + this.lots.size > CACHE_MAX_ENTRIES) {
      this.devices.clear();
      this.sites.clear();
      this.lots.clear();
    }
    const load = async <T>(
      cache: Map<string, Entry<T>>,
      ids: Iterable<string>,
      get: (id: string) => Promise<T | undefined>,
    ) => {
      // Most batches find every row cached: nothing is allocated for those.
      let stale: Set<string> | undefined;
      for (const id of ids) {
        if ((cache.get(id)?.expiresAtMs ?? 0) <= nowMs) (stale ??= new Set()).add(id);
      }
      if (stale === undefined) return;
      await Promise.all(
        [...stale].map(async (id) => {
          cache.set(id, { value: await get(id), expiresAtMs: nowMs + this.cacheMs });
        }),
      );
    };
    const devices = [...deviceIds];
    await Promise.all([
      load(this.devices, devices, (id) => this.state.devices.getDevice(id)),
      load(this.sites, siteIds, (id) => this.state.portfolio.getSite(id)),
    ]);
    const lotIds: string[] = [];
    for (const id of devices) {
      const lotId = this.device(id)?.lotId;
      if (lotId !== undefined) lotIds.push(lotId);
    }
    await load(this.lots, lotIds, (id) => this.state.portfolio.getLot(id));
  }

  /** The device, as preloaded (undefined when the registry has none, or it was not preloaded). */
  device(id: string): Device | undefined {
    return this.devices.get(id)?.value;
  }
  site(id: string): Site | undefined {
    return this.sites.get(id)?.value;
  }
  lot(id: string): CollateralLot | undefined {
    return this.lots.get(id)?.value;
  }
}
