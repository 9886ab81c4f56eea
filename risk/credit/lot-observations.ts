import type { Reading } from '../../core/contracts/index.js';
import { pointInPolygon } from '../../core/geo.js';
import type { CollateralLot, Presence, Site, State } from '../../core/state/index.js';
import type { TelemetryStore } from '../../core/storage/telemetry-store.js';
import type { LotObservation } from './collateral.js';

/**
 * What each pledged lot's stake last said — weight and when, inside its site's fence or not, the last tamper
 * signal, broker presence — kept in memory and moved by every stored reading and presence change, so that a
 * reading that moves coverage is reflected without a telemetry query (the event path of credit-monitor.ts).
 * Loaded once from the telemetry store (latest reading per stake, tamper within the hold time) and the
 * presence table. A reading older than the one already applied does not go back in time (offline queues,
 * concurrent ingest batches). Pinned by risk/test/credit/credit-monitor.test.ts.
 */
export interface PledgedLot {
  readonly lot: CollateralLot;
  readonly site: Site;
}

interface Observed {
  lastWeightKg?: number;
  lastWeightAt?: number;
  insideFence?: boolean;
  lastTamperAt?: number;
  online?: boolean;
}

export class LotObservations {
  private readonly byLot = new Map<string, Observed>();
  /** Stake device → its lot (and the lot's borrower and site). */
  private readonly lotOfDevice = new Map<string, PledgedLot>();

  /** Registers the stakes on pledged lots (device id → lot); other devices' readings are ignored. */
  register(stakes: readonly { deviceId: string; pledged: PledgedLot }[]): void {
    for (const s of stakes) {
      this.lotOfDevice.set(s.deviceId, s.pledged);
      if (!this.byLot.has(s.pledged.lot.id)) this.byLot.set(s.pledged.lot.id, {});
    }
  }

  get stakeIds(): string[] {
    return [...this.lotOfDevice.keys()];
  }

  observation(lotId: string): LotObservation {
    return { ...(this.byLot.get(lotId) ?? {}) };
  }

  /** Loads the latest state of the registered stakes (or of `deviceIds`) from the stores. */
  async load(
    telemetry: TelemetryStore,
    state: Pick<State, 'presence'>,
    nowMs: number,
    tamperHoldMs: number,
    deviceIds: readonly string[] = this.stakeIds,
  ): Promise<void> {
    if (deviceIds.length === 0) return;
    this.applyReadings(await telemetry.latest({ kind: 'stake', deviceIds }));
    if (tamperHoldMs > 0) {
      const hourMs = 3_600_000;
      // Never before the epoch (a simulated clock that has not started reads 0; the store refuses negative times).
      const fromMs = Math.max(0, Math.floor((nowMs - tamperHoldMs) / hourMs) * hourMs);
      const rows = await telemetry.aggregate({
        kind: 'stake',
        deviceIds,
        field: 'tamper',
        fromMs,
        toMs: nowMs + 1,
        intervalMs: hourMs,
        groupBy: 'device',
        fns: ['max'],
      });
      for (const r of rows) {
        if (!(r.max >= 1)) continue;
        const o = this.observedOf(r.group);
        // The end of the hour it was seen in: the hold runs from the latest the signal can have been.
        const at = Math.min(nowMs, r.startMs + hourMs - 1);
        if (o !== undefined && (o.lastTamperAt === undefined || at > o.lastTamperAt)) o.lastTamperAt = at;
      }
    }
    this.applyPresence(await state.presence.getPresence(deviceIds));
  }

  private observedOf(deviceId: string): Observed | undefined {
    const pledged = this.lotOfDevice.get(deviceId);
    return pledged === undefined ? undefined : this.byLot.get(pledged.lot.id);
  }

  /** Applies stored readings; resolves the borrowers whose lots changed. */
  applyReadings(readings: readonly Reading[]): Set<string> {
    const touched = new Set<string>();
    for (const r of readings) {
      if (r.kind !== 'stake') continue;
      const pledged = this.lotOfDevice.get(r.deviceId);
      const o = pledged === undefined ? undefined : this.byLot.get(pledged.lot.id);
      if (pledged === undefined || o === undefined) continue;
      if (r.fields.tamper === 1 && (o.lastTamperAt === undefined || r.ts > o.lastTamperAt)) {
        o.lastTamperAt = r.ts;
        touched.add(pledged.lot.borrowerId);
      }
      if (o.lastWeightAt !== undefined && r.ts < o.lastWeightAt) continue;
      const weight = r.fields.weightKg;
      if (typeof weight === 'number') {
        o.lastWeightKg = weight;
        o.lastWeightAt = r.ts;
      }
      const { lat, lon } = r.fields;
      if (typeof lat === 'number' && typeof lon === 'number' && pledged.site.geofence.length >= 3)
        o.insideFence = pointInPolygon([lat, lon], pledged.site.geofence);
      touched.add(pledged.lot.borrowerId);
    }
    return touched;
  }

  /** Applies presence changes; resolves the borrowers whose lots changed. */
  applyPresence(changes: readonly Presence[]): Set<string> {
    const touched = new Set<string>();
    for (const p of changes) {
      const pledged = this.lotOfDevice.get(p.deviceId);
      const o = pledged === undefined ? undefined : this.byLot.get(pledged.lot.id);
      if (pledged === undefined || o === undefined) continue;
      const online = p.status === 'online';
      if (o.online !== online) touched.add(pledged.lot.borrowerId);
      o.online = online;
    }
    return touched;
  }
}
