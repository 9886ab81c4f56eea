import type { LatLon } from '../core/state/index.js';
import { dayOfYear, DAY_MS, localDay, localDayHourToMs, localHour } from './calendar.js';
import { roadOffset, ROAD_TRACK_MS } from './data/gps-track.js';
import { offsetMeters } from './geo.js';
import { activityLevel, type HealthModel } from './health.js';
import { hash3, Rng } from './random.js';
import { inHarvest, isOpen, stockSeason } from './business.js';
import type { ScenarioEffects } from './scenario-effects.js';
import type { World } from './world.js';

/**
 * The physical stock of each pledged lot, day by day. Healthy businesses sell during working hours and
 * restock by truck when the stock falls below their usual level; as health falls, restocks get rarer and
 * smaller and sales continue (cash is raised from the stock), so the weight is quietly drawn down. Farms sell
 * in truckloads and refill at harvest. Scenarios add night-time removals, pilfering and relocation.
 */
const WORK_START_H = 8;
const WORK_HOURS = 9;
const STREAM_LOT = 0x107;

interface StockEvent {
  readonly atMs: number;
  readonly deltaKg: number;
}

interface LotDay {
  readonly startKg: number;
  readonly salesKgPerH: number;
  readonly events: readonly StockEvent[];
}

export type LotWhereabouts = 'home' | 'transit' | 'away';

export class LotModel {
  private readonly days: LotDay[][] = [];
  private readonly firstDay: number[] = [];
  private readonly nextKg: number[] = [];
  private readonly rngs: Rng[] = [];

  constructor(
    private readonly world: World,
    private readonly health: HealthModel,
    private readonly effects: ScenarioEffects,
  ) {
    for (const lp of world.profiles.lots) {
      const b = world.profiles.borrowers[lp.borrowerIndex];
      const tz = b?.tzOffsetH ?? 0;
      const day0 = localDay(world.startMs, tz);
      this.firstDay.push(day0);
      const doy = dayOfYear(day0);
      this.nextKg.push(lp.lot.pledgedWeightKg * lp.initialFill * stockSeason(b?.sector ?? 'trading', doy));
      this.rngs.push(new Rng(hash3(world.seed, STREAM_LOT, lp.index)));
      this.days.push([]);
    }
  }

  private tz(li: number): number {
    const lp = this.world.profiles.lots[li];
    return this.world.profiles.borrowers[lp?.borrowerIndex ?? 0]?.tzOffsetH ?? 0;
  }

  /** True stock of lot `li` at instant `ms`, kg. */
  weightAt(li: number, ms: number): number {
    const tz = this.tz(li);
    const day = localDay(ms, tz);
    const first = this.firstDay[li] as number;
    if (day < first) return this.dayOf(li, first).startKg;
    const rec = this.dayOf(li, day);
    const h = localHour(ms, tz);
    let kg = rec.startKg - rec.salesKgPerH * Math.min(WORK_HOURS, Math.max(0, h - WORK_START_H));
    for (const e of rec.events) if (e.atMs <= ms) kg += e.deltaKg;
    return Math.max(0, kg);
  }

  /** Where the lot physically is (its home spot in the site unless a relocation scenario moved it). */
  positionAt(li: number, ms: number): { readonly point: LatLon; readonly where: LotWhereabouts } {
    const lp = this.world.profiles.lots[li];
    if (lp === undefined) throw new RangeError(`no lot #${li}`);
    const site = this.world.profiles.sites[lp.siteIndex]?.site;
    const lat = site?.lat ?? 0;
    const lon = site?.lon ?? 0;
    let e = lp.offsetEastM;
    let n = lp.offsetNorthM;
    let where: LotWhereabouts = 'home';
    const rel = this.effects.relocationByLot.get(li);
    if (rel && ms >= rel.departMs) {
      let elapsed: number;
      if (ms < rel.returnMs) elapsed = ms - rel.departMs;
      else elapsed = Math.max(0, ROAD_TRACK_MS - (ms - rel.returnMs));
      if (elapsed > 0) {
        const [de, dn] = roadOffset(elapsed, rel.headingRad);
        e += de;
        n += dn;
        where = elapsed < ROAD_TRACK_MS ? 'transit' : 'away';
      }
    }
    return { point: offsetMeters(lat, lon, e, n), where };
  }

  private dayOf(li: number, day: number): LotDay {
    const list = this.days[li] as LotDay[];
    const i = day - (this.firstDay[li] as number);
    while (list.length <= i) list.push(this.step(li, (this.firstDay[li] as number) + list.length));
    return list[i] as LotDay;
  }

  /** Simulates one day of lot `li`, starting from `nextKg[li]`. */
  private step(li: number, day: number): LotDay {
    const lp = this.world.profiles.lots[li];
    if (lp === undefined) throw new RangeError(`no lot #${li}`);
    const b = this.world.profiles.borrowers[lp.borrowerIndex];
    if (b === undefined) throw new RangeError(`no borrower for lot #${li}`);
    const rng = this.rngs[li] as Rng;
    const tz = b.tzOffsetH;
    const dayStart = localDayHourToMs(day, 0, tz);
    const dayEnd = dayStart + DAY_MS;
    const W = this.nextKg[li] as number;
    const pledged = lp.lot.pledgedWeightKg;
    const a = activityLevel(this.health.at(b.index, day));
    const doy = dayOfYear(day);
    const open = isOpen(b, day);
    let target = pledged * stockSeason(b.sector, doy) * Math.min(1.05, 0.25 + 0.8 * a);

    const removal = this.effects.removalByLot.get(li);
    const removing =
      removal !== undefined && (removal.loads[0]?.atMs ?? Infinity) < dayEnd && dayStart < removal.untilMs;
    if (removing) target *= 0.08;

    const events: StockEvent[] = [];
    const at = (hourLo: number, hourHi: number): number =>
      localDayHourToMs(day, rng.range(hourLo, hourHi), tz);
    let salesKgPerH = 0;

    // Draw every random number whether or not it is used, so one branch never shifts the next day's stream.
    const uSell = rng.next();
    const uDistress = rng.next();
    const uFill = rng.next();
    const uRestock = rng.next();
    const uSize = rng.next();
    const uPartial = rng.next();
    const uSalesRate = rng.next();

    if (b.sector === 'agriculture') {
      const truckKg = 35_000 + 5_000 * uSize;
      if (open) {
        const excess = W - target;
        if (excess > 0.03 * target && uSell < 0.3 + 0.4 * (1 - a)) {
          events.push({ atMs: at(9, 16), deltaKg: -Math.min(excess, truckKg * (uSize < 0.5 ? 1 : 2)) });
        } else if (a < 0.55 && uDistress < 0.25) {
          events.push({ atMs: at(9, 16), deltaKg: -Math.min(truckKg, 0.3 * W) });
        }
        if (inHarvest(doy) && !removing && W < 0.95 * target && uFill < 0.55) {
          const want = Math.min(target * (1 + 0.05 * uPartial) - W, 4 * truckKg);
          const n = Math.max(1, Math.ceil(want / truckKg));
          for (let k = 0; k < n; k++) events.push({ atMs: at(10, 19), deltaKg: want / n });
        }
      }
    } else {
      if (open) {
        const turnover = b.sector === 'trading' ? 0.025 : 0.02;
        const daily = W * turnover * (1 + 0.8 * (1 - a)) * (0.6 + 0.8 * uSalesRate);
        salesKgPerH = daily / WORK_HOURS;
        const after = W - daily;
        if (after < 0.9 * target && uRestock < 0.08 + 0.7 * a) {
          const want = (target * (1 + 0.1 * uSize) - after) * (a < 0.5 ? 0.3 + 0.5 * uPartial : 1);
          if (want > 0) {
            const truckKg = 20_000 + 10_000 * uSize;
            const n = Math.min(5, Math.max(1, Math.ceil(want / truckKg)));
            for (let k = 0; k < n; k++) events.push({ atMs: at(8.5, 16.5), deltaKg: want / n });
          }
        }
      }
    }

    // Scenario: pilfering at the first tamper episode of the day.
    const tamper = this.effects.tamperByLot.get(li);
    const firstEpisode = tamper?.find((t) => t.fromMs >= dayStart && t.fromMs < dayEnd);
    const uPilfer = rng.next();
    if (firstEpisode && tamper?.[0] === firstEpisode) {
      events.push({ atMs: firstEpisode.fromMs + 10 * 60_000, deltaKg: -(0.04 + 0.06 * uPilfer) * W });
    }
    events.sort((x, y) => x.atMs - y.atMs);

    // Scenario: night-time removal, each truck taking a share of what is then left.
    if (removal) {
      for (const load of removal.loads) {
        if (load.atMs < dayStart || load.atMs >= dayEnd) continue;
        const h = localHour(load.atMs, tz);
        let kg = W - salesKgPerH * Math.min(WORK_HOURS, Math.max(0, h - WORK_START_H));
        for (const e of events) if (e.atMs <= load.atMs) kg += e.deltaKg;
        events.push({ atMs: load.atMs, deltaKg: -load.fraction * Math.max(0, kg) });
        events.sort((x, y) => x.atMs - y.atMs);
      }
    }

    const end = W - salesKgPerH * WORK_HOURS + events.reduce((s, e) => s + e.deltaKg, 0);
    this.nextKg[li] = Math.max(0, end);
    return { startKg: W, salesKgPerH, events };
  }
}
