/**
 * Anomaly likelihood in the manner of Numenta's HTM detector (Ahmad et al. 2017, "Unsupervised real-time anomaly
 * detection for streaming data", §3.2; NAB `nab/detectors/numenta/numenta_detector.py`): a raw surprise in
 * [0, 1] means little on its own (a noisy series is always surprised), so we ask instead whether its short
 * average is unusual for *this* series: L = 1 − Q((μ̃_short − μ_long) / σ_long), reported on HTM's log scale
 * log(1.0000000001 − L) / log(1e−10), so 0.5 ≈ a 1-in-10⁵ tail. Windows are exponentially weighted (O(1)
 * state: three numbers) instead of HTM's sliding windows.
 */

const Q_LEARNING_READINGS = 50;
const LOG_1E_10 = Math.log(1e-10);

/** Abramowitz–Stegun style complementary error function (Numerical Recipes erfcc), |error| < 1.2e−7. */
function erfc(x: number): number {
  const z = Math.abs(x);
  const t = 1 / (1 + 0.5 * z);
  const r =
    t *
    Math.exp(
      -z * z -
        1.26551223 +
        t *
          (1.00002368 +
            t *
              (0.37409196 +
                t *
                  (0.09678418 +
                    t *
                      (-0.18628806 +
                        t *
                          (0.27886807 +
                            t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))),
    );
  return x >= 0 ? r : 2 - r;
}

/** Upper tail of the standard normal. */
export const normalTail = (z: number): number => 0.5 * erfc(z / Math.SQRT2);

export const alphaOf = (halfLife: number): number => 1 - 2 ** (-1 / Math.max(1, halfLife));

export class AnomalyLikelihood {
  private short = 0;
  private mean = 0;
  private variance = 0;
  private n = 0;
  private readonly aShort: number;
  private readonly aLong: number;

  constructor(shortHalfLife: number, longHalfLife: number) {
    this.aShort = alphaOf(shortHalfLife);
    this.aLong = alphaOf(longHalfLife);
  }

  /** Feeds one raw surprise in [0, 1]; returns the log-scaled likelihood in [0, 1] (0 while learning). */
  step(raw: number): number {
    this.short += this.aShort * (raw - this.short);
    const sd = Math.sqrt(this.variance) + 1e-6;
    const tail = this.n < Q_LEARNING_READINGS ? 0.5 : normalTail((this.short - this.mean) / sd);
    const a = Math.max(this.aLong, 1 / (this.n + 1));
    const d = raw - this.mean;
    this.mean += a * d;
    this.variance = (1 - a) * (this.variance + a * d * d);
    this.n += 1;
    return Math.max(0, Math.log(1.0000000001 - (1 - tail)) / LOG_1E_10);
  }
}
