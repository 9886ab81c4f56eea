/**
 * A streaming anomaly detector for one numeric series: robust, seasonal-aware, O(1) per reading.
 *
 * expected(t) = level + season[bin(t)], where `level` is an exponentially weighted mean and `season` an
 * exponentially weighted profile over `seasonBins` bins of `seasonPeriodMs` (hour of day, week of year, …).
 * The scale is an exponentially weighted mean absolute residual (× 1.2533 ≈ σ for Gaussian noise). Updates
 * are Huber-clipped at 3σ, so an anomaly barely moves the baseline it is measured against (the streaming
 * analogue of median/MAD). The score is the robust z = residual / σ; a `Hysteresis` turns flags into
 * open/clear decisions so one spike does not open and one normal reading does not clear.
 */
export interface DetectorParams {
  readonly zThreshold: number;
  readonly seasonPeriodMs: number;
  readonly seasonBins: number;
  readonly warmupReadings: number;
  readonly halfLifeReadings: number;
  /** 'low': only values below expectation are anomalies. */
  readonly direction?: 'low' | 'both';
}

const CLIP_SIGMAS = 3;
/** Each season bin forgets with this half-life, in visits of the bin. */
const SEASON_HALF_LIFE_VISITS = 4;
const alphaOf = (halfLife: number): number => 1 - 2 ** (-1 / Math.max(1, halfLife));

export interface DetectorStep {
  readonly expected: number;
  readonly z: number;
  readonly flagged: boolean;
}

export class StreamingDetector {
  private n = 0;
  private level = 0;
  private scale = 0;
  private readonly season: Float64Array;
  private readonly seen: Uint32Array;
  private readonly alpha: number;
  private readonly beta = alphaOf(SEASON_HALF_LIFE_VISITS);

  constructor(private readonly p: DetectorParams) {
    const bins = p.seasonPeriodMs > 0 ? Math.max(1, p.seasonBins) : 1;
    this.season = new Float64Array(bins);
    this.seen = new Uint32Array(bins);
    this.alpha = alphaOf(p.halfLifeReadings);
  }

  get readings(): number {
    return this.n;
  }

  private bin(ts: number): number {
    const { seasonPeriodMs: period } = this.p;
    if (period <= 0) return 0;
    const phase = (((ts % period) + period) % period) / period;
    return Math.min(this.season.length - 1, Math.floor(phase * this.season.length));
  }

  step(ts: number, x: number): DetectorStep {
    const b = this.bin(ts);
    const seasonal = this.p.seasonPeriodMs > 0 && (this.seen[b] ?? 0) > 0;
    if (this.n === 0) this.level = x;
    const s = seasonal ? (this.season[b] ?? 0) : 0;
    const expected = this.level + s;
    const r = x - expected;
    // σ floor: a perfectly flat series would otherwise flag its first wiggle at infinite z.
    const sigma = Math.max(this.scale * 1.2533, 1e-6 * Math.max(1, Math.abs(this.level)));
    const z = this.n < 2 ? 0 : r / sigma;
    const dir = this.p.direction ?? 'both';
    const flagged =
      this.n >= this.p.warmupReadings &&
      (dir === 'low' ? z < -this.p.zThreshold : Math.abs(z) > this.p.zThreshold);

    // Learn, with the residual clipped once the scale is known.
    const warm = this.n >= Math.min(this.p.warmupReadings, 10);
    const rc = warm ? Math.max(-CLIP_SIGMAS * sigma, Math.min(CLIP_SIGMAS * sigma, r)) : r;
    const xc = expected + rc;
    const a = this.n < this.p.warmupReadings ? Math.max(this.alpha, 1 / (this.n + 1)) : this.alpha;
    this.level += a * (xc - s - this.level);
    if (this.p.seasonPeriodMs > 0) {
      const prev = this.season[b] ?? 0;
      const target = xc - this.level;
      this.season[b] = (this.seen[b] ?? 0) === 0 ? target : prev + this.beta * (target - prev);
      this.seen[b] = (this.seen[b] ?? 0) + 1;
    }
    this.scale = this.n === 0 ? 0 : this.scale + a * (Math.abs(rc) - this.scale);
    this.n += 1;
    return { expected, z, flagged };
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
