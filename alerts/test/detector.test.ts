import { describe, expect, it } from 'vitest';
import { Hysteresis, SCORE_THRESHOLD, StreamingDetector, type DetectorParams } from '../detector.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const params: DetectorParams = {
  zThreshold: 100,
  seasonPeriodMs: DAY,
  seasonBins: 24,
  warmupReadings: 0,
  halfLifeReadings: 300,
};
/** Deterministic noise in [−1, 1]. */
const noise = (i: number) => Math.sin(i * 12.9898) * 0.5 + Math.sin(i * 78.233) * 0.5;

function run(xs: (i: number) => number, n: number, stepMs = HOUR, p = params) {
  const d = new StreamingDetector(p);
  return Array.from({ length: n }, (_, i) => d.step(i * stepMs, xs(i)));
}

describe('StreamingDetector', () => {
  it('when a noisy stationary series runs for weeks, then no alert opens and a new record is reported at most once', () => {
    const steps = run((i) => 50 + 3 * noise(i), 2000);
    const hysteresis = new Hysteresis(2, 6);
    expect(steps.slice(100).filter((s) => hysteresis.step(s.flagged) === 'open')).toEqual([]);
    // A stationary series still sets a new record now and then (≈ 1/n of readings): one report at most here.
    expect(steps.slice(100).filter((s) => s.score >= SCORE_THRESHOLD).length).toBeLessThanOrEqual(1);
  });

  it('when a series jumps to a level never seen, then the first jumped reading scores 1, the next ones are not reported again but stay flagged', () => {
    const steps = run((i) => (i < 1500 ? 50 + 3 * noise(i) : 90 + 3 * noise(i)), 1510);
    expect(steps[1500]?.score).toBe(1);
    expect(steps.slice(1501).filter((s) => s.score > 0.2)).toEqual([]);
    // The engine's hysteresis needs consecutive flags: the readings that stay beyond the old range keep flagging.
    expect(steps.slice(1500, 1503).map((s) => s.flagged)).toEqual([true, true, true]);
  });

  it('when a daily peak goes missing, then the seasonal profile flags it though every value is within the usual range', () => {
    const daily = (i: number) =>
      10 + 8 * Math.max(0, Math.sin((2 * Math.PI * (i % 24)) / 24)) + 0.2 * noise(i);
    const missing = (i: number) => (i >= 40 * 24 && i < 40 * 24 + 24 ? 10 + 0.2 * noise(i) : daily(i));
    const steps = run(missing, 42 * 24);
    const plain = run(daily, 42 * 24);
    const day40 = (xs: typeof steps) => xs.slice(40 * 24, 41 * 24).filter((s) => s.flagged).length;
    expect(day40(steps)).toBeGreaterThan(0);
    expect(day40(plain)).toBe(0);
  });

  it('when a weekday drops to its weekend level (a holiday), then the weekly profile flags it and ordinary weekends stay quiet', () => {
    // Busy weekdays, quiet weekends (days 5 and 6 of each week), a daily shape on top; day 7·8 + 2, a weekday,
    // looks like a Sunday. The daily profile blends weekdays with weekends, so its error scale is wide.
    const level = (day: number) => (day % 7 >= 5 ? 30 : 100);
    const shape = (i: number) => 1 + 0.5 * Math.max(0, Math.sin((2 * Math.PI * (i % 24)) / 24));
    const usual = (i: number) => level(Math.floor(i / 24)) * shape(i) + noise(i);
    const holiday = 7 * 8 + 2;
    const withHoliday = (i: number) => (Math.floor(i / 24) === holiday ? 30 * shape(i) + noise(i) : usual(i));
    const n = 10 * 7 * 24;
    const day = (xs: ReturnType<typeof run>, d: number) => xs.slice(d * 24, (d + 1) * 24);
    const flags = (xs: ReturnType<typeof run>) => xs.filter((s) => s.flagged).length;
    const weekly = { ...params, zThreshold: 4, weekly: true };
    const daily = { ...params, zThreshold: 4 };
    const ordinary = run(usual, n, HOUR, weekly);
    // The weekly profile counts from the third week: every weekend after that is quiet.
    for (let d = 21; d < 70; d++) if (d % 7 >= 5) expect(flags(day(ordinary, d)), `day ${d}`).toBe(0);
    expect(flags(day(run(withHoliday, n, HOUR, weekly), holiday))).toBeGreaterThan(0);
    expect(flags(day(run(withHoliday, n, HOUR, daily), holiday))).toBe(0);
  });

  it('when a spiky series keeps spiking as usual, then it stays quiet, but a calm series with a burst of the same size alarms', () => {
    const spiky = (i: number) => 20 + noise(i) + (i % 37 === 0 ? 30 : 0);
    // The calm series saw larger excursions both ways early on, so its later burst stays within the range: only
    // the likelihood of its surprise, relative to this series' own history, can call it.
    const burst = (i: number) => (i >= 1800 && i < 1806 ? (i % 2 === 0 ? 10 : -10) : 0);
    const calm = (i: number) => 20 + noise(i) + (i === 100 ? 40 : i === 120 ? -40 : 0) + burst(i);
    const s = run(spiky, 2000, HOUR, { ...params, seasonPeriodMs: 0 });
    const c = run(calm, 2000, HOUR, { ...params, seasonPeriodMs: 0 });
    expect(s.slice(1000).filter((x) => x.flagged)).toEqual([]);
    expect(c.slice(1800, 1806).some((x) => x.flagged)).toBe(true);
    expect(c.slice(1000, 1800).filter((x) => x.flagged)).toEqual([]);
  });

  it("when the direction is 'low', then a rise is never flagged but a drop is", () => {
    const p = { ...params, direction: 'low' as const, seasonPeriodMs: 0 };
    const up = run((i) => (i < 500 ? 5 + noise(i) : 40), 503, HOUR, p);
    const down = run((i) => (i < 500 ? 5 + noise(i) : -30), 503, HOUR, p);
    expect(up.slice(500).some((s) => s.flagged)).toBe(false);
    expect(down.slice(500).some((s) => s.flagged)).toBe(true);
  });
});
