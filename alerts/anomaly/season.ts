import { alphaOf, AnomalyLikelihood } from './likelihood.js';

/** A seasonal bin's expectation counts once the bin has been visited this often. */
export const SEASON_MIN_VISITS = 3;

/**
 * One seasonal profile of the streaming detector (detector.ts): an EWMA per bin of a period (hour of the day, hour
 * of the week), the mean absolute error against it, and the HTM-style likelihood of that error — the signal that
 * sees a missing daily peak or a holiday, which the last level alone cannot. O(bins) state, O(1) per reading.
 */
export class SeasonProfile {
  /** The expectation of the last reading's bin and whether it counted (its bin seen SEASON_MIN_VISITS times). */
  expected = 0;
  active = false;
  /** Mean absolute error of readings against their bin; `scale`: its value the last reading was judged against. */
  err = 0;
  scale = 0;
  /** Bins visited at least once. */
  binsSeen = 0;
  readonly #bins: Float64Array | Float32Array;
  /** Visits per bin, saturating: only the first SEASON_MIN_VISITS matter. */
  readonly #visits: Uint16Array | Uint8Array;
  readonly #periodMs: number;
  readonly #aBin: number;
  readonly #aErr: number;
  readonly #lik: AnomalyLikelihood;
  readonly #perPass: boolean;
  #lastBin = -1;

  /** `binHalfLifeVisits`: a bin's EWMA half-life in visits; `errHalfLife`: the error scale's, in readings. */
  constructor(
    periodMs: number,
    bins: number,
    opts: {
      binHalfLifeVisits: number;
      errHalfLife: number;
      likShort: number;
      likLong: number;
      /** Count a bin's visits per pass through it (periods seen), not per reading. */
      perPass?: boolean;
    },
  ) {
    this.#perPass = opts.perPass === true;
    this.#periodMs = periodMs;
    // A per-pass (weekly) profile has 7× the bins: single precision and byte counts keep it at ~5 bytes a bin.
    this.#bins = this.#perPass ? new Float32Array(bins) : new Float64Array(bins);
    this.#visits = this.#perPass ? new Uint8Array(bins) : new Uint16Array(bins);
    this.#aBin = alphaOf(opts.binHalfLifeVisits);
    this.#aErr = alphaOf(opts.errHalfLife);
    this.#lik = new AnomalyLikelihood(opts.likShort, opts.likLong);
  }

  get size(): number {
    return this.#bins.length;
  }

  /**
   * Feeds reading number `n` (0-based) of the series; returns its likelihood level (0 until its bin counts).
   * `surprise(error, scale)` is the detector's raw surprise in [0, 1].
   */
  step(ts: number, x: number, n: number, surprise: (e: number, scale: number) => number): number {
    const size = this.#bins.length;
    const period = this.#periodMs;
    const phase = (((ts % period) + period) % period) / period;
    const b = Math.min(size - 1, Math.floor(phase * size));
    const visits = this.#visits[b] ?? 0;
    const s = this.#bins[b] ?? 0;
    const err = visits > 0 ? Math.abs(x - s) : 0;
    this.active = visits >= SEASON_MIN_VISITS;
    // A profile counting passes is inactive for weeks: its likelihood learns only from readings it judges, or the
    // first surprises after weeks of zeros would all look unheard of.
    const level = this.active
      ? this.#lik.step(surprise(err, this.err))
      : this.#perPass
        ? 0
        : this.#lik.step(0);
    this.expected = s;
    this.scale = this.err;
    if (visits >= 1) this.err += Math.max(this.#aErr, 1 / (n + 1)) * (err - this.err);
    this.#bins[b] = visits === 0 ? x : s + this.#aBin * (x - s);
    if (!this.#perPass || b !== this.#lastBin)
      this.#visits[b] = Math.min(visits + 1, this.#perPass ? 0xff : 0xffff);
    this.#lastBin = b;
    if (visits === 0) this.binsSeen += 1;
    return level;
  }
}
