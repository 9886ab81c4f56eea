import type { StakeReading } from '../../core/contracts/payloads.js';
import { DAY_MS, localDay, localDayHourToMs } from '../calendar.js';
import { dailyMeanTempC, humidityPct, indoorTempC, outdoorTempC, smoothNoise } from '../climate.js';
import { offsetMeters } from '../geo.js';
import { clamp, hash2, hash3, hash4, Rng, round, rngAt } from '../random.js';
import { inAny } from '../scenario-effects.js';
import type { DeviceProfile, LotProfile } from '../world.js';
import {
  deviceEnv,
  deviceTs,
  gridPlan,
  naturalOutages,
  TAG,
  type DayPlan,
  type DeviceEnv,
  type SignalModel,
  type SimContext,
} from './common.js';

/**
 * Collateral stake: a load-cell / GNSS / tamper / climate pack on a pledged lot, reporting every 15 minutes.
 * - weight: the lot's true stock (lots.ts) with load-cell noise, a small temperature coefficient and the odd
 *   forklift spike;
 * - itemCount: stock ÷ item weight, with occasional miscounts;
 * - GPS: indoor GNSS, 3–8 m noise, a slow multi-day drift and rare multipath outliers of 25–90 m (which can
 *   land outside a tight fence: an honest false alarm);
 * - tamper: the enclosure switch (rare contact bounce, open during a tamper scenario);
 * - temperature / humidity: inside the building (or outdoors while the lot is away);
 * - battery: a primary pack draining 0.25–0.45 %/day (faster in deep cold), replaced by a technician once low;
 *   a flat pack silences the stake until replaced.
 * About 1.5 % of readings are lost on the radio link (a `seq` gap).
 */
const LOST_P = 0.015;

export interface StakePlan extends DayPlan {
  readonly batteryStartPct: number;
  readonly batteryDrainPctPerMs: number;
}

export class StakeModel implements SignalModel<StakePlan> {
  private readonly env: DeviceEnv;
  private readonly lotProfile: LotProfile;
  private readonly firstDay: number;
  private readonly battery: number[] = [];
  private readonly drainPerDay: number[] = [];
  private readonly batteryRng: Rng;
  private readonly baseDrainPctPerDay: number;

  constructor(
    private readonly ctx: SimContext,
    readonly profile: DeviceProfile,
  ) {
    this.env = deviceEnv(ctx, profile);
    const lp = ctx.world.profiles.lots[profile.lotIndex];
    if (lp === undefined) throw new RangeError(`stake ${profile.device.id} has no lot`);
    this.lotProfile = lp;
    this.firstDay = localDay(ctx.world.startMs, this.env.tz);
    this.batteryRng = new Rng(hash2(profile.key, 0xba77));
    this.baseDrainPctPerDay = this.batteryRng.range(0.25, 0.45);
    this.battery.push(this.batteryRng.range(35, 100));
  }

  /** Battery at the start of local day `day` and its drain that day, %. */
  private batteryOn(day: number): readonly [startPct: number, drainPct: number] {
    const i = Math.max(0, day - this.firstDay);
    while (this.drainPerDay.length <= i) {
      const d = this.firstDay + this.drainPerDay.length;
      const level = this.battery[this.battery.length - 1] as number;
      const cold = dailyMeanTempC(this.env.weather, d) < -10 ? 1.5 : 1;
      const drain = this.baseDrainPctPerDay * cold * this.batteryRng.range(0.9, 1.1);
      this.drainPerDay.push(drain);
      const replaced = level < 18 && this.batteryRng.chance(0.05);
      this.battery.push(replaced ? 100 : Math.max(0, level - drain));
    }
    return [this.battery[i] as number, this.drainPerDay[i] as number];
  }

  plan(day: number): StakePlan {
    const [startPct, drainPct] = this.batteryOn(day);
    const dayStart = localDayHourToMs(day, 0, this.env.tz);
    const drainPerMs = drainPct / DAY_MS;
    const deadFrom = startPct <= 0 ? dayStart : dayStart + startPct / drainPerMs;
    const natural = naturalOutages(this.profile.key, day, this.env.tz, 3, 5);
    const scenario = this.ctx.effects.outagesByDevice.get(this.profile.index);
    const plan = gridPlan(this.profile, day, this.env.tz, this.ctx.world.startMs, 20_000, LOST_P, (ms) => {
      return ms >= deadFrom || inAny(natural, ms) || inAny(scenario, ms);
    });
    return { ...plan, batteryStartPct: startPct, batteryDrainPctPerMs: drainPerMs };
  }

  payload(plan: StakePlan, slot: number, seq: number): StakeReading {
    const p = this.profile;
    const t = plan.times[slot] as number;
    const r = rngAt(hash4(p.key, TAG.value, plan.day, slot));
    const lp = this.lotProfile;
    const pledged = lp.lot.pledgedWeightKg;
    const lots = this.ctx.lots;
    const trueKg = lots.weightAt(lp.index, t);
    const { point, where } = lots.positionAt(lp.index, t);
    const home = where === 'home';

    const airC = home
      ? indoorTempC(this.env.weather, t, this.env.site.heated)
      : outdoorTempC(this.env.weather, t);
    let weightKg = trueKg * (1 + 0.00015 * (airC - 15)) + r.gauss(0, 2 + 0.0003 * pledged);
    if (r.chance(0.004)) weightKg += pledged * r.range(0.02, 0.08);
    const miscount = r.chance(0.03) ? r.int(-2, 2) : 0;
    const itemCount = Math.max(0, Math.round(trueKg / lp.commodity.itemKg) + miscount);

    // GNSS: indoors it is poor; on a truck or an open lot the sky view is clear.
    const sigma = home ? p.gpsSigmaM : p.gpsSigmaM / 3;
    const driftE = 2.5 * smoothNoise(p.key, TAG.driftE, plan.day, 7);
    const driftN = 2.5 * smoothNoise(p.key, TAG.driftN, plan.day, 7);
    let e = driftE + r.gauss(0, sigma);
    let n = driftN + r.gauss(0, sigma);
    let accuracy = sigma * r.range(1.1, 1.7);
    if (r.chance(0.006)) {
      const dist = r.range(25, 90);
      const dir = r.range(0, 2 * Math.PI);
      e += dist * Math.sin(dir);
      n += dist * Math.cos(dir);
      accuracy = r.range(30, 80);
    }
    let [lat, lon] = offsetMeters(point[0], point[1], e, n);
    const rel = this.ctx.effects.relocationByLot.get(lp.index);
    if (rel?.spoofed && t >= rel.departMs) {
      // A spoofer replays one good fix: identical coordinates every time, a plausible constant accuracy.
      const home0 = lots.positionAt(lp.index, rel.departMs - 1).point;
      const fr = rngAt(hash3(p.key, TAG.spoof, 1));
      [lat, lon] = offsetMeters(home0[0], home0[1], fr.gauss(0, 2), fr.gauss(0, 2));
      accuracy = 4.2;
    }

    const tampered = inAny(this.ctx.effects.tamperByLot.get(lp.index), t);
    const batteryPct =
      plan.batteryStartPct - plan.batteryDrainPctPerMs * (t - localDayHourToMs(plan.day, 0, this.env.tz));
    return {
      ts: deviceTs(p, t),
      seq,
      weightKg: round(clamp(weightKg, 0, 100_000_000), 1),
      itemCount: Math.min(itemCount, 10_000_000),
      lat: round(lat, 6),
      lon: round(lon, 6),
      gpsAccuracyM: round(accuracy, 1),
      tamper: tampered || r.chance(0.0006),
      temperatureC: round(clamp(airC + r.gauss(0, 0.25), -60, 100), 1),
      humidityPct: round(clamp(humidityPct(this.env.weather, t, home) + r.gauss(0, 1.5), 0, 100), 1),
      batteryPct: round(clamp(batteryPct, 0, 100), 1),
    };
  }
}
