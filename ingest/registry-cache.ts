import type { Device } from '../core/state/index.js';

/**
 * The ingest's cache of device-registry reads: a telemetry message is classified against its device's registry
 * entry (kind, borrower, site, status), read once per device at a time and reused for `ttlMs`, so a revocation
 * takes effect within that time (`INGEST_REGISTRY_CACHE_MS`). Messages of a device that arrive while its read is
 * in flight wait for the same read.
 *
 * At most `maxDevices` entries (`INGEST_REGISTRY_CACHE_DEVICES`): the map's order is the order of the reads (an
 * entry read again goes to the end), so its first entry is the one read longest ago, dropped when full. The whole
 * map used to be cleared at 100,000 devices, so a larger fleet per ingest worker, or one reporting less often than
 * the TTL allows, read every device again at once. Pinned by ingest/test/pipeline.test.ts ("more devices report
 * than the registry cache holds").
 */
export interface RegistryCacheOptions {
  readonly ttlMs: number;
  readonly maxDevices: number;
  /** Reads one device from the registry (retried by the caller as it sees fit). */
  readonly read: (deviceId: string) => Promise<Device | undefined>;
}

export class RegistryCache {
  readonly #entries = new Map<string, { device: Device | undefined; expiresAtMs: number }>();
  /** Registry reads in flight, by device. */
  readonly #reads = new Map<string, Promise<Device | undefined>>();

  constructor(private readonly opts: RegistryCacheOptions) {}

  /** The cached answer while it is fresh (`device` undefined: not in the registry); undefined when it must be read. */
  fresh(deviceId: string, nowMs: number): { readonly device: Device | undefined } | undefined {
    const hit = this.#entries.get(deviceId);
    return hit === undefined || hit.expiresAtMs <= nowMs ? undefined : hit;
  }

  /** Reads a device from the registry (one read per device at a time) and caches the answer. */
  read(deviceId: string, nowMs: number): Promise<Device | undefined> {
    const inFlight = this.#reads.get(deviceId);
    if (inFlight !== undefined) return inFlight;
    const read = this.opts.read(deviceId).then((device) => {
      this.#entries.delete(deviceId);
      if (this.#entries.size >= this.opts.maxDevices) {
        const oldest = this.#entries.keys().next();
        if (oldest.done !== true) this.#entries.delete(oldest.value);
      }
      this.#entries.set(deviceId, { device, expiresAtMs: nowMs + this.opts.ttlMs });
      return device;
    });
    this.#reads.set(deviceId, read);
    // Registered before any caller's handlers, so the map is clean by the time they run.
    const forget = (): void => void this.#reads.delete(deviceId);
    void read.then(forget, forget);
    return read;
  }

  /** Reads in flight: a stopping pipeline waits for them (a failed one is handled by its message's handler). */
  inFlight(): Promise<unknown>[] {
    return [...this.#reads.values()].map((read) => read.catch(() => undefined));
  }
}
