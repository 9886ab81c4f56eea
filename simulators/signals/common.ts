import type { DevicePayload } from '../../core/contracts/payloads.js';
import { DAY_MS, localDayHourToMs } from '../calendar.js';
import type { Region } from '../catalog.js';
import { REGIONS } from '../catalog.js';
import type { WeatherKey } from '../climate.js';
import { normalAt } from '../climate.js';
import type { HealthModel } from '../health.js';
import type { LotModel } from '../lots.js';
import { hash3, hash4, unitOf } from '../random.js';
import type { Interval, ScenarioEffects } from '../scenario-effects.js';
import type { BorrowerProfile, DeviceProfile, SiteProfile, World } from '../world.js';

/**
 * What every signal model shares: the world, its latent processes and scenario effects. A model turns one
 * device's local day into a plan (the instants it attempts a reading, and which of those are lost in transit)
 * and a plan slot into a payload. Plans and payloads depend only on (device, day, slot) and the world's
 * day-by-day processes, never on what was generated before, so live and backfill produce identical readings.
 */
export interface SimContext {
  readonly world: World;
  /** Weather per region index. */
  readonly weather: readonly WeatherKey[];
  readonly health: HealthModel;
  readonly lots: LotModel;
  readonly effects: ScenarioEffects;
}

export interface DayPlan {
  /** Local epoch day of the device's borrower. */
  readonly day: number;
  /** True instants of the attempted readings, ascending, all inside the local day. */
  readonly times: readonly number[];
  /** 1 where the reading was made (its seq consumed) but lost on the way; undefined when none was. */
  readonly lost: Uint8Array | undefined;
}

export interface SignalModel<P extends DayPlan = DayPlan> {
  readonly profile: DeviceProfile;
  plan(day: number): P;
  payload(plan: P, slot: number, seq: number): DevicePayload;
}

/** Per-kind stream tags, so the same (device, day, slot) never reuses randomness across purposes. */
export const TAG = {
  jitter: 0x11,
  lost: 0x12,
  outage: 0x13,
  outageLen: 0x14,
  outageStart: 0x15,
  plan: 0x16,
  value: 0x17,
  gap: 0x18,
  cloud: 0x19,
  driftE: 0x1a,
  driftN: 0x1b,
  spoof: 0x1c,
  broken: 0x1d,
} as const;

export interface DeviceEnv {
  readonly borrower: BorrowerProfile;
  readonly site: SiteProfile;
  readonly region: Region;
  readonly weather: WeatherKey;
  readonly tz: number;
}

export function deviceEnv(ctx: SimContext, p: DeviceProfile): DeviceEnv {
  const borrower = ctx.world.profiles.borrowers[p.borrowerIndex];
  const site = ctx.world.profiles.sites[p.siteIndex];
  if (borrower === undefined || site === undefined)
    throw new RangeError(`device ${p.device.id} has no borrower/site`);
  const region = REGIONS[borrower.regionIndex] as Region;
  return {
    borrower,
    site,
    region,
    weather: ctx.weather[borrower.regionIndex] as WeatherKey,
    tz: borrower.tzOffsetH,
  };
}

/**
 * Unplanned outages (a flat battery pack, a dead gateway, a unit knocked off): on average `perYear` a year,
 * lasting a log-normal time around `medianH` hours, at most 4 days. Returns those touching local day `day`.
 */
export function naturalOutages(
  key: number,
  day: number,
  tz: number,
  perYear: number,
  medianH: number,
): Interval[] {
  const out: Interval[] = [];
  const dayStart = localDayHourToMs(day, 0, tz);
  for (let d = day - 4; d <= day; d++) {
    if (unitOf(hash3(key, TAG.outage, d)) >= perYear / 365) continue;
    const from = localDayHourToMs(d, 0, tz) + unitOf(hash3(key, TAG.outageStart, d)) * DAY_MS;
    const lenMs = Math.min(4 * DAY_MS, medianH * 3_600_000 * Math.exp(1.0 * normalAt(key, TAG.outageLen, d)));
    const to = from + lenMs;
    if (to > dayStart && from < dayStart + DAY_MS) out.push({ fromMs: from, toMs: to });
  }
  return out;
}

/**
 * A fixed reporting grid (every `intervalMs` at the device's phase) inside local day `day`, each instant
 * jittered by up to ±`jitterMs`/2, from `notBeforeMs` on, minus `skip`ped instants; `lostP` of the rest are
 * lost in transit.
 */
export function gridPlan(
  p: DeviceProfile,
  day: number,
  tz: number,
  notBeforeMs: number,
  jitterMs: number,
  lostP: number,
  skip: (ms: number) => boolean,
): DayPlan {
  const dayStart = localDayHourToMs(day, 0, tz);
  const dayEnd = dayStart + DAY_MS;
  const first = dayStart + ((((p.phaseMs - dayStart) % p.intervalMs) + p.intervalMs) % p.intervalMs);
  const times: number[] = [];
  const lostFlags: number[] = [];
  let anyLost = false;
  for (let k = 0, t = first; t < dayEnd; k++, t += p.intervalMs) {
    const ms = Math.round(t + (unitOf(hash4(p.key, TAG.jitter, day, k)) - 0.5) * jitterMs);
    if (ms < dayStart || ms >= dayEnd || ms < notBeforeMs || skip(ms)) continue;
    times.push(ms);
    const lost = unitOf(hash4(p.key, TAG.lost, day, k)) < lostP ? 1 : 0;
    anyLost ||= lost === 1;
    lostFlags.push(lost);
  }
  return { day, times, lost: anyLost ? Uint8Array.from(lostFlags) : undefined };
}

/** Device time: true time plus the unit's clock error. */
export const deviceTs = (p: DeviceProfile, trueMs: number): number => Math.round(trueMs + p.skewMs);
