import type { DevicePayload } from '../core/contracts/payloads.js';
import { localDay, localDayHourToMs } from './calendar.js';
import type { DayPlan, SignalModel } from './signals/common.js';

/** One generated reading: the device, the true instant it was taken, and the payload it sends. */
export interface GeneratedReading {
  readonly deviceIndex: number;
  /** True (simulated) time of the reading; the payload's `ts` adds the device's clock error. */
  readonly trueMs: number;
  readonly payload: DevicePayload;
}

/**
 * A cursor over one device's readings in true-time order. `seq` counts every reading the device made since it
 * was installed at the world's start (1, 2, 3, …; a reading lost in transit leaves a gap), so positioning the
 * cursor at any instant first counts the attempts of the days before — cheap, since a day's plan is computed
 * without its payloads.
 */
export class DeviceStream {
  private readonly firstDay: number;
  private readonly counts: number[] = [];
  private plan: DayPlan | undefined;
  private slot = 0;
  private seqBase = 0;

  constructor(
    private readonly model: SignalModel,
    private readonly tzOffsetH: number,
    worldStartMs: number,
    fromMs: number = worldStartMs,
  ) {
    this.firstDay = localDay(worldStartMs, tzOffsetH);
    this.seek(fromMs);
  }

  get deviceIndex(): number {
    return this.model.profile.index;
  }

  /** Number of readings attempted on local day `day` (cached). */
  private attemptsOn(day: number): number {
    const i = day - this.firstDay;
    while (this.counts.length <= i)
      this.counts.push(this.model.plan(this.firstDay + this.counts.length).times.length);
    return this.counts[i] as number;
  }

  /** Positions the cursor at the first reading taken at or after `ms`. */
  seek(ms: number): void {
    const day = Math.max(this.firstDay, localDay(ms, this.tzOffsetH));
    let seq = 0;
    for (let d = this.firstDay; d < day; d++) seq += this.attemptsOn(d);
    this.seqBase = seq;
    this.plan = this.model.plan(day);
    let slot = 0;
    while (slot < this.plan.times.length && (this.plan.times[slot] as number) < ms) slot++;
    this.slot = slot;
  }

  /** Appends every reading taken before `uptoMs` (exclusive) and not yet returned; returns how many. */
  drain(uptoMs: number, out: GeneratedReading[]): number {
    let added = 0;
    let plan = this.plan as DayPlan;
    for (;;) {
      if (this.slot < plan.times.length) {
        const t = plan.times[this.slot] as number;
        if (t >= uptoMs) break;
        if (plan.lost?.[this.slot] !== 1) {
          out.push({
            deviceIndex: this.model.profile.index,
            trueMs: t,
            payload: this.model.payload(plan, this.slot, this.seqBase + this.slot + 1),
          });
          added++;
        }
        this.slot++;
        continue;
      }
      const nextDayStart = localDayHourToMs(plan.day + 1, 0, this.tzOffsetH);
      if (nextDayStart >= uptoMs) break;
      this.seqBase += plan.times.length;
      const i = plan.day - this.firstDay;
      if (i >= 0 && this.counts.length === i) this.counts.push(plan.times.length);
      plan = this.model.plan(plan.day + 1);
      this.plan = plan;
      this.slot = 0;
    }
    return added;
  }
}
