import type { SatelliteReading } from '../../core/contracts/payloads.js';
import { compactStamp, dayOfYear, isHoliday, localDayHourToMs, weekday, yearOf } from '../calendar.js';
import { normalAt, regionalCloud } from '../climate.js';
import { isOpen } from '../business.js';
import { activityLevel } from '../health.js';
import { NDVI_FLOOR, ndviSeasonal } from '../ndvi-curve.js';
import { clamp, hash3, hash4, round, rngAt, unitOf } from '../random.js';
import { inAny } from '../scenario-effects.js';
import type { DeviceProfile, LotProfile } from '../world.js';
import {
  deviceEnv,
  deviceTs,
  TAG,
  type DayPlan,
  type DeviceEnv,
  type SignalModel,
  type SimContext,
} from './common.js';

/**
 * Satellite feeds: at most one scene a day, with gaps (no overpass, processing failures) and cloud cover.
 * - `ndvi` (farm parcels): an optical scene late morning. Clear-sky NDVI follows the MODIS seasonal curve
 *   (ndvi-curve.ts) shifted per parcel's crop; in the growing season crop vigour falls with the farm's
 *   health (skimped inputs, weeks earlier), a regional good/bad year moves every farm of a region, and a
 *   drought scenario depresses it. Cloud pulls the observed value toward ~0.05 — a cloudy summer scene looks
 *   like crop failure unless cloudPct is used.
 * - `nightlight` (plants, trading warehouses): a night-time radiance product, site-normalised so 100 is a
 *   normal working night; it falls with activity and health, dips on weekends, holidays and shutdowns, is
 *   attenuated by cloud and brightened by snow.
 * - `yard` (open storage yards): optical stockpile volume of the pledged piles (omitted under heavy cloud)
 *   plus a truck-activity index.
 * Scenes over one region at one overpass share a scene id, as real tiles do.
 */
const GAP_P = { ndvi: 0.22, nightlight: 0.12, yard: 0.25 } as const;

export interface SatellitePlan extends DayPlan {
  readonly cloudPct: number;
}

export class SatelliteModel implements SignalModel<SatellitePlan> {
  private readonly env: DeviceEnv;
  private readonly product: NonNullable<DeviceProfile['product']>;
  private readonly yardLots: readonly LotProfile[];

  constructor(
    private readonly ctx: SimContext,
    readonly profile: DeviceProfile,
  ) {
    this.env = deviceEnv(ctx, profile);
    this.product = profile.product ?? 'nightlight';
    this.yardLots = ctx.world.profiles.lots.filter((l) => l.siteIndex === profile.siteIndex);
  }

  plan(day: number): SatellitePlan {
    const p = this.profile;
    const regionKey = hash3(this.ctx.world.seed, 0x5a7, this.env.borrower.regionIndex);
    const overpassH =
      this.product === 'nightlight'
        ? 1.2 + 1.2 * unitOf(hash3(regionKey, 1, day))
        : 10.4 + 1.1 * unitOf(hash3(regionKey, 2, day));
    const t = Math.round(localDayHourToMs(day, overpassH, this.env.tz) / 1000) * 1000;
    const cloud = clamp(regionalCloud(this.env.weather, day) + 0.1 * normalAt(p.key, TAG.cloud, day), 0, 1);
    const cloudPct = round(100 * cloud, 1);
    const gap = unitOf(hash3(p.key, TAG.gap, day)) < GAP_P[this.product];
    const outage = inAny(this.ctx.effects.outagesByDevice.get(p.index), t);
    // A yard scene under heavy cloud yields no usable product at all.
    const clouded = this.product === 'yard' && cloud > 0.75;
    const none = gap || outage || clouded || t < this.ctx.world.startMs;
    return { day, times: none ? [] : [t], lost: undefined, cloudPct };
  }

  payload(plan: SatellitePlan, slot: number, seq: number): SatelliteReading {
    const p = this.profile;
    const t = plan.times[slot] as number;
    const r = rngAt(hash4(p.key, TAG.value, plan.day, slot));
    const c = plan.cloudPct / 100;
    const b = this.env.borrower;
    const region = this.env.region;
    const stamp = compactStamp(t);
    if (this.product === 'ndvi') {
      const doy = dayOfYear(plan.day) + p.ndviShiftDays;
      const base = ndviSeasonal(doy);
      const vigour = 0.8 + 0.2 * activityLevel(this.ctx.health.at(b.index, plan.day - 10));
      const goodYear = 1 + 0.06 * normalAt(this.ctx.world.seed, 0x9ea7 + b.regionIndex, yearOf(plan.day));
      const droughts = this.ctx.effects.droughtByRegion.get(b.regionIndex);
      const drought = inAny(droughts, t) ? 0.6 : 1;
      const truth =
        base <= NDVI_FLOOR
          ? base
          : NDVI_FLOOR + (base - NDVI_FLOOR) * p.ndviAmplitude * vigour * goodYear * drought;
      const k = Math.max(0, (c - 0.15) / 0.85);
      const observed = truth * (1 - 0.75 * k) + 0.05 * k + r.gauss(0, 0.02 + 0.03 * k);
      const sat = plan.day % 2 === 0 ? 'S2A' : 'S2B';
      const orbit = String(1 + (hash3(this.ctx.world.seed, b.regionIndex, 7) % 143)).padStart(3, '0');
      return {
        ts: deviceTs(p, t),
        seq,
        ndvi: round(clamp(observed, -1, 1), 4),
        cloudPct: plan.cloudPct,
        sceneId: `${sat}_MSIL2A_${stamp}_N0511_R${orbit}_${region.tile}_${stamp}`,
      };
    }
    const a = activityLevel(this.ctx.health.at(b.index, plan.day));
    const wd = weekday(plan.day);
    const calendar = !isOpen(b, plan.day) ? (isHoliday(plan.day) || wd === 0 || wd === 6 ? 0.78 : 0.6) : 1;
    if (this.product === 'nightlight') {
      const doy = dayOfYear(plan.day);
      const snow = doy < 95 || doy > 320 ? 1.08 : 1;
      const attenuation = c > 0.6 ? 1 - (0.7 * (c - 0.6)) / 0.4 : 1;
      const index = 100 * (0.5 + 0.55 * a) * calendar * snow * attenuation * Math.exp(r.gauss(0, 0.1));
      const h = String(Math.floor((region.lon + 180) / 10)).padStart(2, '0');
      const v = String(Math.floor((90 - region.lat) / 10)).padStart(2, '0');
      return {
        ts: deviceTs(p, t),
        seq,
        activityIndex: round(clamp(index, 0, 1000), 1),
        cloudPct: plan.cloudPct,
        sceneId: `VNP46A1.A${yearOf(plan.day)}${String(doy).padStart(3, '0')}.h${h}v${v}.001.${stamp}`,
      };
    }
    const volumeM3 = this.yardLots.reduce(
      (s, l) => s + this.ctx.lots.weightAt(l.index, t) / l.commodity.densityKgM3,
      0,
    );
    const trucks = 100 * (0.4 + 0.65 * a) * calendar * Math.exp(r.gauss(0, 0.2));
    const reading: SatelliteReading = {
      ts: deviceTs(p, t),
      seq,
      activityIndex: round(clamp(trucks, 0, 1000), 1),
      cloudPct: plan.cloudPct,
      sceneId: `${plan.day % 2 === 0 ? 'S2A' : 'S2B'}_MSIL2A_${stamp}_N0511_${region.tile}_yard`,
    };
    if (c <= 0.55) reading.stockpileM3 = round(clamp(volumeM3 * (1 + r.gauss(0, 0.06)), 0, 10_000_000), 1);
    return reading;
  }
}
