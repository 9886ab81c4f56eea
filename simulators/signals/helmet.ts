import type { HelmetReading } from '../../core/contracts/payloads.js';
import { dayOfYear, HOUR_MS, isWorkday, localDay, localDayHourToMs, MINUTE_MS } from '../calendar.js';
import { crewSeason, inHarvest, isOpen } from '../business.js';
import { offsetMeters } from '../geo.js';
import { activityLevel } from '../health.js';
import { clamp, hash2, hash3, hash4, Rng, round, rngAt, unitOf } from '../random.js';
import { inAny, type OffsiteInspection } from '../scenario-effects.js';
import { SITE_SIZE_M } from '../catalog.js';
import type { DeviceProfile } from '../world.js';
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
 * Smart helmets, reporting every 5 minutes while switched on.
 * - Workers' helmets come on with the shift on days the business is open. Attendance, shift length and motion
 *   fall with the business's health; farms are slack in winter and work Saturdays at seeding and harvest;
 *   holidays and shutdowns are quiet (false alarms for a naive worker-hours feature). GPS walks around the site
 *   (now and then a worker drives off on an errand), `worn` drops during lunch, the battery drains ~7.5 %/h
 *   and is not always charged overnight; a helmet is sometimes left at home or broken for a day.
 * - The lender's inspector helmet comes on only for inspections, every 3–6 weeks on a working day, in
 *   `inspection` mode with an inspectionId, walking the site for 1–3 hours. The `inspection-offsite` scenario
 *   logs one from 15–40 km away.
 * About 3 % of readings are lost on the radio link (a `seq` gap).
 */
const LOST_P = 0.03;

interface Session {
  readonly fromMs: number;
  readonly toMs: number;
  readonly inspectionId?: string;
  /** Where the wearer really is, relative to the site centre (an off-site inspection), m. */
  readonly baseEastM: number;
  readonly baseNorthM: number;
}

export interface HelmetPlan extends DayPlan {
  readonly session: Session | undefined;
  readonly lunchFromMs: number;
  readonly lunchToMs: number;
  readonly errand:
    | { readonly fromMs: number; readonly toMs: number; readonly eastM: number; readonly northM: number }
    | undefined;
  readonly batteryStartPct: number;
  readonly batteryDrainPctPerH: number;
  readonly activityMean: number;
  readonly walk: readonly number[];
}

export class HelmetModel implements SignalModel<HelmetPlan> {
  private readonly env: DeviceEnv;
  private readonly inspector: boolean;
  /** Natural inspection days, ascending, drawn as needed. */
  private readonly inspectionDays: number[] = [];
  private readonly inspectionRng: Rng;
  private readonly offsite: readonly OffsiteInspection[];
  private readonly halfW: number;
  private readonly halfH: number;

  constructor(
    private readonly ctx: SimContext,
    readonly profile: DeviceProfile,
  ) {
    this.env = deviceEnv(ctx, profile);
    this.inspector = profile.role === 'inspector';
    this.inspectionRng = new Rng(hash2(profile.key, 0x1259));
    this.offsite = ctx.effects.offsiteInspectionByDevice.get(profile.index) ?? [];
    const [w, h] = SITE_SIZE_M[this.env.site.site.kind];
    this.halfW = w / 2;
    this.halfH = h / 2;
  }

  /** 1-based number of the natural inspection on `day`, or 0. */
  private inspectionOn(day: number): number {
    const first = localDay(this.ctx.world.startMs, this.env.tz);
    if (this.inspectionDays.length === 0) this.inspectionDays.push(first + this.inspectionRng.int(0, 28));
    while ((this.inspectionDays[this.inspectionDays.length - 1] as number) < day) {
      const last = this.inspectionDays[this.inspectionDays.length - 1] as number;
      let next = last + this.inspectionRng.int(21, 42);
      while (!isWorkday(next)) next++;
      this.inspectionDays.push(next);
    }
    const i = this.inspectionDays.indexOf(day);
    return i < 0 ? 0 : i + 1;
  }

  private session(day: number, r: Rng, a: number): Session | undefined {
    const tz = this.env.tz;
    const bid = this.env.borrower.id;
    if (this.inspector) {
      const dayStart = localDayHourToMs(day, 0, tz);
      const fake = this.offsite.findIndex(
        (o) => o.startMs >= dayStart && o.startMs < dayStart + 24 * HOUR_MS,
      );
      const natural = this.inspectionOn(day);
      const startH = r.range(9.5, 14);
      const durH = r.range(1.2, 3);
      if (fake >= 0) {
        const o = this.offsite[fake] as OffsiteInspection;
        return {
          fromMs: o.startMs,
          toMs: o.startMs + o.durationMs,
          inspectionId: `insp-${bid}-x${String(fake + 1).padStart(2, '0')}`,
          baseEastM: o.eastM,
          baseNorthM: o.northM,
        };
      }
      if (natural === 0 || !isWorkday(day)) return undefined;
      const fromMs = localDayHourToMs(day, startH, tz);
      return {
        fromMs,
        toMs: fromMs + durH * HOUR_MS,
        inspectionId: `insp-${bid}-${String(natural).padStart(3, '0')}`,
        baseEastM: 0,
        baseNorthM: 0,
      };
    }
    const b = this.env.borrower;
    const doy = dayOfYear(day);
    const attend = 0.95 * crewSeason(b.sector, doy) * (0.15 + 0.85 * a);
    const uAttend = r.next();
    const startH = this.profile.shiftStartH + r.gauss(0, 0.3);
    const lenH =
      (8.6 + r.gauss(0, 0.5)) * (0.7 + 0.3 * a) + (b.sector === 'agriculture' && inHarvest(doy) ? 2 : 0);
    if (!isOpen(b, day) || uAttend >= attend) return undefined;
    const fromMs = localDayHourToMs(day, startH, tz);
    return { fromMs, toMs: fromMs + lenH * HOUR_MS, baseEastM: 0, baseNorthM: 0 };
  }

  plan(day: number): HelmetPlan {
    const p = this.profile;
    const tz = this.env.tz;
    const r = rngAt(hash3(p.key, TAG.plan, day));
    const a = activityLevel(this.ctx.health.at(this.env.borrower.index, day));
    const session = this.session(day, r, a);
    const lunchH = r.gauss(12, 0.25);
    const hasErrand = r.chance(this.env.borrower.sector === 'trading' ? 0.18 : 0.1);
    const errandStartH = r.range(9, 15);
    const errandLenMin = r.range(40, 100);
    const errandDistM = r.range(1500, 6000);
    const errandDir = r.range(0, 2 * Math.PI);
    const charged = r.chance(0.9);
    const batteryStartPct = charged ? r.range(92, 100) : r.range(30, 70);
    const batteryDrainPctPerH = r.range(6.5, 8.5);
    const walk = [
      r.range(0.6, 1.6),
      r.range(0, 6.3),
      r.range(1.1, 2.9),
      r.range(0, 6.3),
      r.range(0.5, 1.3),
      r.range(0, 6.3),
    ];
    const broken = unitOf(hash3(p.key, TAG.broken, day)) < 1 / 150;
    const lunchFromMs = localDayHourToMs(day, lunchH, tz);
    const base = {
      day,
      session,
      lunchFromMs: this.inspector ? 0 : lunchFromMs,
      lunchToMs: this.inspector ? 0 : lunchFromMs + 30 * MINUTE_MS,
      errand:
        hasErrand && !this.inspector && session
          ? {
              fromMs: localDayHourToMs(day, errandStartH, tz),
              toMs: localDayHourToMs(day, errandStartH, tz) + errandLenMin * MINUTE_MS,
              eastM: errandDistM * Math.sin(errandDir),
              northM: errandDistM * Math.cos(errandDir),
            }
          : undefined,
      batteryStartPct,
      batteryDrainPctPerH,
      activityMean: this.inspector ? 0.3 : 0.18 + 0.37 * a,
      walk,
    };
    if (session === undefined || broken) return { ...base, times: [], lost: undefined };

    const scenario = this.ctx.effects.outagesByDevice.get(p.index);
    const deadAt = session.fromMs + (batteryStartPct / batteryDrainPctPerH) * HOUR_MS;
    const dayStart = localDayHourToMs(day, 0, tz);
    const dayEnd = dayStart + 24 * HOUR_MS;
    const times: number[] = [];
    const lostFlags: number[] = [];
    let anyLost = false;
    // Switched on 5 min before the session, off 5 min after; grid anchored at power-on.
    const on = session.fromMs - 5 * MINUTE_MS;
    const off = session.toMs + 5 * MINUTE_MS;
    for (let k = 0, t = on; t <= off; k++, t += p.intervalMs) {
      const ms = Math.round(t + (unitOf(hash4(p.key, TAG.jitter, day, k)) - 0.5) * 10_000);
      if (ms < dayStart || ms >= dayEnd || ms < this.ctx.world.startMs || ms >= deadAt || inAny(scenario, ms))
        continue;
      times.push(ms);
      const lost = unitOf(hash4(p.key, TAG.lost, day, k)) < LOST_P ? 1 : 0;
      anyLost ||= lost === 1;
      lostFlags.push(lost);
    }
    return { ...base, times, lost: anyLost ? Uint8Array.from(lostFlags) : undefined };
  }

  payload(plan: HelmetPlan, slot: number, seq: number): HelmetReading {
    const p = this.profile;
    const t = plan.times[slot] as number;
    const r = rngAt(hash4(p.key, TAG.value, plan.day, slot));
    const session = plan.session as Session;
    const edge = t < session.fromMs || t > session.toMs;
    const lunch = t >= plan.lunchFromMs && t < plan.lunchToMs;
    const errand =
      plan.errand !== undefined && t >= plan.errand.fromMs && t < plan.errand.toMs ? plan.errand : undefined;

    // A smooth wander inside the site: two sinusoids per axis, bounded to ~40 % of the footprint.
    const hours = (t - session.fromMs) / HOUR_MS;
    const [f1 = 1, p1 = 0, f2 = 2, p2 = 0, f3 = 1, p3 = 0] = plan.walk;
    const reach = this.inspector ? 0.45 : 0.38;
    let e =
      session.baseEastM +
      reach * this.halfW * (0.6 * Math.sin(f1 * hours + p1) + 0.4 * Math.sin(f2 * hours + p2));
    let n =
      session.baseNorthM +
      reach * this.halfH * (0.6 * Math.cos(f3 * hours + p3) + 0.4 * Math.sin(f2 * 0.7 * hours + p1));
    let sigma = p.gpsSigmaM;
    let activity: number;
    let worn: boolean;
    if (errand) {
      // Out in a vehicle: drive out, stay, drive back.
      const total = errand.toMs - errand.fromMs;
      const x = (t - errand.fromMs) / total;
      const f = x < 0.2 ? x / 0.2 : x > 0.8 ? (1 - x) / 0.2 : 1;
      e = e * (1 - f) + errand.eastM * f;
      n = n * (1 - f) + errand.northM * f;
      sigma *= 0.8;
      activity = r.range(0.03, 0.15);
      worn = r.chance(0.6);
    } else if (edge) {
      activity = r.range(0, 0.08);
      worn = false;
    } else if (lunch) {
      activity = r.range(0, 0.06);
      worn = r.chance(0.2);
      sigma *= 1.4;
    } else {
      activity = clamp(plan.activityMean + r.gauss(0, 0.12), 0.01, 1);
      worn = r.chance(0.97);
    }
    const [lat, lon] = offsetMeters(
      this.env.site.site.lat,
      this.env.site.site.lon,
      e + r.gauss(0, sigma),
      n + r.gauss(0, sigma),
    );
    const batteryPct =
      plan.batteryStartPct - plan.batteryDrainPctPerH * ((t - session.fromMs) / HOUR_MS + 5 / 60);
    const reading: HelmetReading = {
      ts: deviceTs(p, t),
      seq,
      lat: round(lat, 6),
      lon: round(lon, 6),
      gpsAccuracyM: round(sigma * r.range(1.1, 1.6), 1),
      worn,
      activity: round(activity, 3),
      mode: session.inspectionId === undefined ? 'work' : 'inspection',
      batteryPct: round(clamp(batteryPct, 0, 100), 1),
    };
    if (session.inspectionId !== undefined) reading.inspectionId = session.inspectionId;
    return reading;
  }
}
