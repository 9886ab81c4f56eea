import { alphaOf, AnomalyLikelihood } from './anomaly/likelihood.js';
import { SeasonProfile } from './anomaly/season.js';

/**
 * A streaming anomaly detector for one numeric series: O(1) per reading, ~80 numbers of state with a 24-bin
 * season (~1.5 kB more with the weekly profile), one parameter set for every series. Four plain signals, each
 * calibrated to the series itself:
 *
 * 1. Surprise against the last level: raw = 1 − exp(−|x − p| / (k·e)), p a fast EWMA (half-life 1 reading), e
 *    the EWMA of |x − p| (half-life `halfLifeReadings`). Its HTM-style likelihood (`AnomalyLikelihood`) asks
 *    whether the recent surprise is unusual *for this series*, which is what lets one threshold serve a calm
 *    temperature probe and a spiky CPU meter alike.
 * 2. The same against a seasonal profile (EWMA per bin of `seasonPeriodMs`, e.g. hour of day): catches a missing
 *    daily peak or a holiday that the last level alone cannot see. With `weekly`, also against a profile of the
 *    hour of the week (anomaly/season.ts), from the third week on: a holiday on a weekday looks like a Sunday to
 *    the daily profile, whose error scale is inflated by the weekends, but not to the weekly one. On NAB's
 *    development set that took the known-cause category (NYC taxi: Thanksgiving and Christmas now found) from
 *    52.5 to 68.9 and the corpus from 70.3 to 72.5 standard, 66.6 to 67.7 low FP; leave one category out 59.3 to
 *    62.7 (README "Streaming detector").
 * 3. Drift: the recent mean (half-life 20) against the long-run mean (half-life 1000), through its own
 *    likelihood, counted at 0.6: slow departures that no single reading shows.
 * 4. Range novelty: a value beyond the range seen so far (by `noveltyTolerance` of its span) scores 1, at most
 *    once per `noveltyCooldownReadings` so a trend does not fire on every new high (NAB's Numenta detector
 *    adds the same "spatial anomaly" check on top of HTM).
 *
 * `score` is the strongest of the four, reported only when it rises above its own recent peak (a peak that
 * halves every `reportHalfLifeReadings`): one alarm per episode, as an alert opens once — NAB counts every
 * flagged row outside a window as a false positive. `level` is the same score before that suppression; the
 * engine's hysteresis uses it (`flagged`) so a sustained anomaly keeps the alert open.
 *
 * Constants were chosen on NAB's development set (36 series) and checked leave-one-category-out: `npm run
 * eval:nab`, README "Streaming detector"; pinned by `alerts/test/nab.test.ts` and `alerts/test/detector.test.ts`.
 */
export interface DetectorParams {
  /** Flags also when |x − expected| exceeds this many σ (a magnitude a person would call off). */
  readonly zThreshold: number;
  readonly seasonPeriodMs: number;
  readonly seasonBins: number;
  /**
   * Also a profile over seven seasonal periods (with a daily season: hour of the week, `seasonBins` × 7 bins), for
   * series whose weekdays differ (traffic, shifts, holidays on a weekday); it counts once each of its bins has been
   * seen SEASON_MIN_VISITS times, so three weeks in.
   */
  readonly weekly?: boolean;
  readonly warmupReadings: number;
  /** Half-life of the surprise scale (mean absolute error), readings. */
  readonly halfLifeReadings: number;
  /** 'low': only values below expectation are anomalies. */
  readonly direction?: 'low' | 'both';
  /** The anomaly score (0..1) at and above which a reading is flagged; default `SCORE_THRESHOLD`. */
  readonly scoreThreshold?: number;
  /** Overrides of the constants below, for evaluation only (the leave-one-category-out search). */
  readonly tuning?: Partial<DetectorTuning>;
}

export interface DetectorTuning {
  /** Raw surprise = 1 − exp(−err / (k·mean err)). */
  readonly surpriseK: number;
  readonly likelihoodShortHalfLife: number;
  readonly likelihoodLongHalfLife: number;
  /** Seasonal bin half-life, in visits of the bin. */
  readonly seasonHalfLifeVisits: number;
  readonly noveltyTolerance: number;
  readonly noveltyCooldownReadings: number;
  readonly reportHalfLifeReadings: number;
  /** Drift: half-life of the recent mean and of the long-run mean it is compared with, readings. */
  readonly driftHalfLife: number;
  readonly driftSlowHalfLife: number;
  /** Drift evidence counts at this fraction (0 = off): a drift alone must be the more unusual to alarm. */
  readonly driftWeight: number;
}

export const DETECTOR_TUNING: DetectorTuning = {
  surpriseK: 3,
  likelihoodShortHalfLife: 5,
  likelihoodLongHalfLife: 1000,
  seasonHalfLifeVisits: 3,
  noveltyTolerance: 0.005,
  noveltyCooldownReadings: 50,
  reportHalfLifeReadings: 100,
  driftHalfLife: 20,
  driftSlowHalfLife: 1000,
  driftWeight: 0.6,
};

/** The NAB-optimal threshold of the standard profile on the development set (`npm run eval:nab`). */
export const SCORE_THRESHOLD = 0.22;
/** Range novelty is judged only once this many readings have shaped the range. */
const NOVELTY_MIN_READINGS = 50;
/** During a novelty episode, readings this far (× span) beyond the old range keep `level` at 1. A new record of
 * a noisy or still-unfolding series rarely stays 10 % of its span beyond the old range (alerts/test/detector.test.ts). */
const NOVELTY_HOLD_TOLERANCE = 0.1;
const GAUSS_SIGMA_PER_MAD = 1.2533;

export interface DetectorStep {
  readonly expected: number;
  /** (x − expected) in σ of the series' recent surprise. */
  readonly z: number;
  /** Anomaly score 0..1, reported once per episode (NAB's output). */
  readonly score: number;
  /** The score before per-episode suppression. */
  readonly level: number;
  readonly flagged: boolean;
}

export class StreamingDetector {
  private n = 0;
  private last = 0;
  private err = 0;
  private lo = Infinity;
  private hi = -Infinity;
  private noveltyQuiet = 0;
  private pendingLo = Infinity;
  private pendingHi = -Infinity;
  private peak = 0;
  private recentMean = 0;
  private longMean = 0;
  private driftErr = 0;
  private readonly aRecent: number;
  private readonly aLong: number;
  private readonly driftLik: AnomalyLikelihood;
  private readonly daily: SeasonProfile | undefined;
  private readonly weekly: SeasonProfile | undefined;
  private readonly t: DetectorTuning;
  private readonly aErr: number;
  private readonly peakDecay: number;
  private readonly lastLik: AnomalyLikelihood;

  constructor(private readonly p: DetectorParams) {
    // Detectors without overrides share one tuning object: 100k series should not hold 100k copies.
    this.t = p.tuning === undefined ? DETECTOR_TUNING : { ...DETECTOR_TUNING, ...p.tuning };
    const season = {
      binHalfLifeVisits: this.t.seasonHalfLifeVisits,
      errHalfLife: p.halfLifeReadings,
      likShort: this.t.likelihoodShortHalfLife,
      likLong: this.t.likelihoodLongHalfLife,
    };
    const bins = Math.max(1, p.seasonBins);
    this.daily = p.seasonPeriodMs > 0 ? new SeasonProfile(p.seasonPeriodMs, bins, season) : undefined;
    this.weekly =
      p.seasonPeriodMs > 0 && p.weekly === true
        ? new SeasonProfile(7 * p.seasonPeriodMs, 7 * bins, { ...season, perPass: true })
        : undefined;
    this.aErr = alphaOf(p.halfLifeReadings);
    this.peakDecay = 2 ** (-1 / Math.max(1, this.t.reportHalfLifeReadings));
    this.lastLik = new AnomalyLikelihood(this.t.likelihoodShortHalfLife, this.t.likelihoodLongHalfLife);
    this.aRecent = alphaOf(this.t.driftHalfLife);
    this.aLong = alphaOf(this.t.driftSlowHalfLife);
    this.driftLik = new AnomalyLikelihood(this.t.likelihoodShortHalfLife, this.t.likelihoodLongHalfLife);
  }

  get readings(): number {
    return this.n;
  }

  step(ts: number, x: number): DetectorStep {
    if (this.n === 0) this.last = x;
    const floor = 1e-9 * Math.max(1, Math.abs(this.last));
    const surprise = (e: number, scale: number) => 1 - Math.exp(-e / (this.t.surpriseK * (scale + floor)));

    const errLast = Math.abs(x - this.last);
    let level = this.lastLik.step(this.n < 5 ? 0 : surprise(errLast, this.err));
    let expected = this.last;
    let sigma = this.err;

    // Drift: the recent mean (half-life `driftHalfLife`) against the long-run mean, counted at `driftWeight`.
    if (this.n === 0) this.recentMean = this.longMean = x;
    this.recentMean += this.aRecent * (x - this.recentMean);
    const drift = Math.abs(this.recentMean - this.longMean);
    const driftLevel = this.driftLik.step(this.n < 5 ? 0 : surprise(drift, this.driftErr));
    level = Math.max(level, this.t.driftWeight * driftLevel);
    this.driftErr += Math.max(this.aErr, 1 / (this.n + 1)) * (drift - this.driftErr);
    this.longMean += this.aLong * (x - this.longMean);

    const daily = this.daily;
    if (daily !== undefined) {
      level = Math.max(level, daily.step(ts, x, this.n, surprise));
      if (daily.active) {
        expected = daily.expected;
        sigma = daily.scale;
      }
    }
    const weekly = this.weekly;
    if (weekly !== undefined) {
      level = Math.max(level, weekly.step(ts, x, this.n, surprise));
      if (weekly.active && (daily === undefined || !daily.active || weekly.scale < daily.scale)) {
        expected = weekly.expected;
        sigma = weekly.scale;
      }
    }

    // The range is frozen during a novelty episode (its readings wait in pendingLo/Hi), so a series that stays
    // well beyond its old range keeps `level` at 1 for the engine's hysteresis, while NAB's score reports it once.
    const span = this.hi - this.lo;
    const tol = this.t.noveltyTolerance * span;
    const outside = this.n > NOVELTY_MIN_READINGS && (x > this.hi + tol || x < this.lo - tol);
    let novel = false;
    if (this.noveltyQuiet > 0) this.noveltyQuiet -= 1;
    else if (outside) {
      novel = true;
      this.noveltyQuiet = this.t.noveltyCooldownReadings;
    }
    const score = novel ? 1 : level > this.peak ? level : 0;
    this.peak = Math.max(this.peak * this.peakDecay, novel ? 1 : level);
    const held = NOVELTY_HOLD_TOLERANCE * span;
    // Held only once the range has seen a whole season (every bin): the second half of a first day is not news.
    const rangeKnown = this.daily === undefined || this.daily.binsSeen === this.daily.size;
    if (novel || (rangeKnown && this.noveltyQuiet > 0 && (x > this.hi + held || x < this.lo - held)))
      level = 1;

    const z = this.n < 2 ? 0 : (x - expected) / Math.max(sigma * GAUSS_SIGMA_PER_MAD, floor);
    const wayOff = this.p.direction === 'low' ? x < expected : true;
    const flagged =
      this.n >= this.p.warmupReadings &&
      wayOff &&
      (level >= (this.p.scoreThreshold ?? SCORE_THRESHOLD) || Math.abs(z) > this.p.zThreshold);

    this.pendingLo = Math.min(this.pendingLo, x);
    this.pendingHi = Math.max(this.pendingHi, x);
    if (this.noveltyQuiet === 0) {
      this.lo = this.pendingLo;
      this.hi = this.pendingHi;
    }
    this.last += Math.max(0.5, 1 / (this.n + 1)) * (x - this.last);
    this.err += Math.max(this.aErr, 1 / (this.n + 1)) * (errLast - this.err);
    this.n += 1;
    return { expected, z, score, level, flagged };
  }
}

/** N consecutive `true` to open, M consecutive `false` to clear. */
export class Hysteresis {
  private run = 0;
  active = false;

  constructor(
    private readonly toOpen: number,
    private readonly toClear: number,
  ) {}

  /** Returns 'open' or 'clear' on a transition, else undefined. */
  step(condition: boolean): 'open' | 'clear' | undefined {
    if (condition !== this.active) this.run += 1;
    else this.run = 0;
    if (!this.active && this.run >= this.toOpen) {
      this.active = true;
      this.run = 0;
      return 'open';
    }
    if (this.active && this.run >= this.toClear) {
      this.active = false;
      this.run = 0;
      return 'clear';
    }
    return undefined;
  }
}
