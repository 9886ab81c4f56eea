import { HOUR_MS, localHour } from './calendar.js';
import { ROAD_TRACK_MS } from './data/gps-track.js';
import { hash3, Rng } from './random.js';
import type { World } from './world.js';

/**
 * The concrete, timed effects of the world's scenarios, worked out once: when the trucks come, which way the
 * lot is driven, when the tamper switch opens, which devices go dark. Devices and the lot model consult these.
 */
export interface Interval {
  readonly fromMs: number;
  readonly toMs: number;
}

export interface RemovalEffect {
  /** Night-time truck loads: instants and fraction of the then-current stock each takes. */
  readonly loads: readonly { readonly atMs: number; readonly fraction: number }[];
  /** Until then nothing is restocked. */
  readonly untilMs: number;
}

export interface RelocationEffect {
  readonly departMs: number;
  /** When the lot starts its drive back; Infinity = never. */
  readonly returnMs: number;
  readonly headingRad: number;
  /** The stake's GPS is spoofed: it keeps reporting its last fix inside the fence. */
  readonly spoofed: boolean;
}

export interface OffsiteInspection {
  readonly startMs: number;
  readonly durationMs: number;
  readonly eastM: number;
  readonly northM: number;
}

export interface ScenarioEffects {
  readonly removalByLot: ReadonlyMap<number, RemovalEffect>;
  readonly relocationByLot: ReadonlyMap<number, RelocationEffect>;
  readonly tamperByLot: ReadonlyMap<number, readonly Interval[]>;
  readonly outagesByDevice: ReadonlyMap<number, readonly Interval[]>;
  readonly offsiteInspectionByDevice: ReadonlyMap<number, readonly OffsiteInspection[]>;
  /** Drought windows per region index. */
  readonly droughtByRegion: ReadonlyMap<number, readonly Interval[]>;
}

/** The first instant at or after `ms` whose local time is `hour` o'clock. */
export function nextLocalHour(ms: number, hour: number, tzOffsetH: number): number {
  const h = localHour(ms, tzOffsetH);
  const wait = (hour - h + 24) % 24;
  return Math.round(ms + wait * HOUR_MS);
}

function push<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}

export function scenarioEffects(world: World): ScenarioEffects {
  const removalByLot = new Map<number, RemovalEffect>();
  const relocationByLot = new Map<number, RelocationEffect>();
  const tamperByLot = new Map<number, Interval[]>();
  const outagesByDevice = new Map<number, Interval[]>();
  const offsiteInspectionByDevice = new Map<number, OffsiteInspection[]>();
  const droughtByRegion = new Map<number, Interval[]>();
  const tzOfLot = (li: number): number => {
    const lot = world.profiles.lots[li];
    return world.profiles.borrowers[lot?.borrowerIndex ?? 0]?.tzOffsetH ?? 0;
  };

  world.scenarios.forEach((s, si) => {
    const rng = new Rng(hash3(world.seed, 0x5ce7, si));
    switch (s.kind) {
      case 'removal':
        for (const li of s.lotIndexes) {
          let t = nextLocalHour(s.startMs, 1 + rng.range(0, 1.5), tzOfLot(li));
          const n = rng.int(3, 6);
          const total = rng.range(0.75, 0.92);
          // n equal loads that together take `total` of the stock: each takes f of what is left.
          const f = 1 - Math.pow(1 - total, 1 / n);
          const loads: { atMs: number; fraction: number }[] = [];
          for (let k = 0; k < n; k++) {
            loads.push({ atMs: t, fraction: f });
            t += Math.round(rng.range(20, 45) * 60_000);
          }
          removalByLot.set(li, { loads, untilMs: s.endMs });
        }
        break;
      case 'moved':
      case 'spoof':
        for (const li of s.lotIndexes) {
          const departMs = nextLocalHour(s.startMs, 22 + rng.range(0, 1.5), tzOfLot(li));
          relocationByLot.set(li, {
            departMs,
            returnMs: Number.isFinite(s.endMs)
              ? Math.max(s.endMs, departMs + ROAD_TRACK_MS)
              : Number.POSITIVE_INFINITY,
            headingRad: rng.range(0, 2 * Math.PI),
            spoofed: s.kind === 'spoof',
          });
        }
        break;
      case 'tamper':
        for (const li of s.lotIndexes) {
          const episodes: Interval[] = [];
          let t = nextLocalHour(s.startMs, 21 + rng.range(0, 3), tzOfLot(li));
          while (t < s.endMs) {
            const len = Math.round(rng.range(25, 180) * 60_000);
            episodes.push({ fromMs: t, toMs: Math.min(t + len, s.endMs) });
            t += len + Math.round(rng.range(2, 14) * HOUR_MS);
          }
          tamperByLot.set(li, episodes);
        }
        break;
      case 'outage':
        for (const di of s.deviceIndexes) push(outagesByDevice, di, { fromMs: s.startMs, toMs: s.endMs });
        break;
      case 'inspection-offsite':
        for (const di of s.deviceIndexes) {
          const b = world.profiles.borrowers[world.profiles.devices[di]?.borrowerIndex ?? 0];
          const distM = rng.range(15_000, 40_000);
          const bearing = rng.range(0, 2 * Math.PI);
          push(offsiteInspectionByDevice, di, {
            startMs: nextLocalHour(s.startMs, 10 + rng.range(0, 4), b?.tzOffsetH ?? 0),
            durationMs: Math.round(rng.range(1.2, 2.5) * HOUR_MS),
            eastM: distM * Math.sin(bearing),
            northM: distM * Math.cos(bearing),
          });
        }
        break;
      case 'drought':
        for (const ri of s.regionIndexes) push(droughtByRegion, ri, { fromMs: s.startMs, toMs: s.endMs });
        break;
      case 'decline':
        // Acts through latent health (world.ts adds the decline event).
        break;
    }
  });
  return {
    removalByLot,
    relocationByLot,
    tamperByLot,
    outagesByDevice,
    offsiteInspectionByDevice,
    droughtByRegion,
  };
}

export function inAny(intervals: readonly Interval[] | undefined, ms: number): boolean {
  if (intervals === undefined) return false;
  for (const i of intervals) if (ms >= i.fromMs && ms < i.toMs) return true;
  return false;
}
