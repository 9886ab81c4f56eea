import { worstDecileUnderCalibration, type WorstDecileNull } from './calibration-null.js';
import { decileCheck, type DecileCheck } from './decile-check.js';
import { maxDecileRatio } from './evaluate-figures.js';
import {
  auc,
  bootstrapCi,
  expectedCalibrationError,
  pick,
  reliabilityTable,
  type ReliabilityBin,
} from './metrics.js';
import {
  applyCalibration,
  CALIBRATION_METHOD_NAMES,
  fitCalibration,
  type CalibrationJson,
  type CalibrationMethod,
} from './model/calibration.js';

/**
 * The calibration half of one model's evaluation: the recalibration fitted on the calibration slice (held-out
 * rows of the training period, never the test period), the test PDs it gives, and the figures that judge them
 * — ECE, the worst decile's factor with borrower-bootstrap intervals, the per-decile Jeffreys check, the same
 * figures before recalibration, and the other recalibration methods fitted on the same slice (so a reader sees
 * what the method chosen in advance costs or gains, not a method picked on the test rows).
 *
 * The intervals are there because a decile's observed rate rests on a handful of defaulting borrowers: with
 * 20-odd of them in the test period, a perfectly calibrated model's worst decile is often 1.5–2× off by chance.
 * Pinned by risk/test/evaluate-calibration.test.ts.
 */
export const CALIBRATION_METHODS: readonly CalibrationMethod[] = CALIBRATION_METHOD_NAMES;

export interface MethodFigures {
  readonly method: CalibrationMethod;
  readonly ece: number;
  readonly maxDecileRatio: number;
  readonly auc: number;
  readonly meanPd: number;
}

export interface CalibrationFigures {
  readonly calibration: CalibrationJson;
  /** Test PDs after recalibration and floor. */
  readonly p: Float32Array;
  readonly ece: number;
  readonly eceCi: [number, number];
  readonly meanPd: number;
  readonly maxDecileRatio: number;
  readonly maxDecileRatioCi: [number, number];
  readonly eceRaw: number;
  readonly meanPdRaw: number;
  readonly maxDecileRatioRaw: number;
  readonly reliability: ReliabilityBin[];
  readonly deciles: DecileCheck;
  /** Every method of CALIBRATION_METHODS fitted on the same slice, on the same test rows. */
  readonly methods: MethodFigures[];
  /** Rows and defaults of the calibration slice. */
  readonly slice: { readonly rows: number; readonly defaults: number };
  /** The cohort view of the same PDs (when the test rows' dates and a reference date are given). */
  readonly cohort?: CohortFigures;
  /** The worst decile's factor if these PDs were exactly right (risk/calibration-null.ts), with the dates. */
  readonly worstUnderCalibration?: WorstDecileNull;
}

/**
 * The cohort method of PD back-testing (EBA GL/2017/16 § 5.3.2 and the ECB's validation instructions § 2.5.3:
 * the obligors performing at a reference date, each once, their default rate over the following horizon
 * against their PD at that date). The weekly test rows repeat a borrower up to a dozen times, so a decile of
 * rows can rest on a handful of borrowers; the cohort counts each borrower once. An additional view, not a
 * replacement: both are reported.
 */
export interface CohortFigures {
  readonly atMs: number;
  readonly borrowers: number;
  readonly defaults: number;
  readonly meanPd: number;
  readonly observedRate: number;
  readonly ece: number;
  readonly deciles: DecileCheck;
}

export function cohortFigures(
  p: ArrayLike<number>,
  y: ArrayLike<number>,
  t: ArrayLike<number>,
  atMs: number,
): CohortFigures {
  const pc: number[] = [];
  const yc: number[] = [];
  for (let i = 0; i < p.length; i++) {
    if (t[i] !== atMs) continue;
    pc.push(p[i] as number);
    yc.push(y[i] as number);
  }
  const defaults = yc.reduce((a, b) => a + b, 0);
  return {
    atMs,
    borrowers: pc.length,
    defaults,
    meanPd: mean(pc),
    observedRate: defaults / Math.max(1, pc.length),
    ece: pc.length === 0 ? Number.NaN : ece(pc, yc),
    deciles: decileCheck(pc, yc),
  };
}

export interface CalibrationInput {
  readonly method: CalibrationMethod;
  readonly pdFloor: number;
  /** Raw logits and labels of the calibration slice. */
  readonly zCal: ArrayLike<number>;
  readonly yCal: ArrayLike<number>;
  /** Raw logits, labels and borrower ids of the test rows. */
  readonly zTest: ArrayLike<number>;
  readonly yTest: ArrayLike<number>;
  readonly groups: readonly string[];
  readonly seed: number;
  readonly iterations: number;
  /** The test rows' dates and the cohort's reference date (one row per borrower at that date). */
  readonly cohort?: { readonly t: ArrayLike<number>; readonly atMs: number };
}

const mean = (p: ArrayLike<number>): number => {
  let s = 0;
  for (let i = 0; i < p.length; i++) s += p[i] as number;
  return s / Math.max(1, p.length);
};

const ece = (p: ArrayLike<number>, y: ArrayLike<number>): number =>
  expectedCalibrationError(p, y, 10, 'quantile');
const worst = (p: ArrayLike<number>, y: ArrayLike<number>): number =>
  maxDecileRatio(reliabilityTable(p, y, 10, 'quantile'));

export function calibrationFigures(input: CalibrationInput): CalibrationFigures {
  const { zCal, yCal, zTest, yTest, pdFloor } = input;
  const fitted = (method: CalibrationMethod): { calibration: CalibrationJson; p: Float32Array } => {
    const calibration = fitCalibration(method, zCal, yCal);
    return { calibration, p: Float32Array.from(applyCalibration(zTest, calibration, pdFloor)) };
  };
  const chosen = fitted(input.method);
  const p = chosen.p;
  // Before recalibration: the network's own PD, unfloored (what the model said before this step existed).
  const pRaw = Float32Array.from(applyCalibration(zTest, undefined));
  const boot = { seed: input.seed, iterations: input.iterations, groups: input.groups };
  const eceCi = bootstrapCi((rows) => ece(pick(p, rows), pick(yTest, rows)), p.length, boot);
  const worstCi = bootstrapCi((rows) => worst(pick(p, rows), pick(yTest, rows)), p.length, boot);
  const maxDecileRatio = worst(p, yTest);
  let defaults = 0;
  for (let i = 0; i < yCal.length; i++) defaults += yCal[i] as number;
  return {
    calibration: chosen.calibration,
    p,
    ece: ece(p, yTest),
    eceCi: [eceCi.lo, eceCi.hi],
    meanPd: mean(p),
    maxDecileRatio,
    maxDecileRatioCi: [worstCi.lo, worstCi.hi],
    eceRaw: ece(pRaw, yTest),
    meanPdRaw: mean(pRaw),
    maxDecileRatioRaw: worst(pRaw, yTest),
    reliability: reliabilityTable(p, yTest, 10, 'quantile'),
    deciles: decileCheck(p, yTest),
    methods: CALIBRATION_METHODS.map((method) => {
      const q = method === input.method ? p : fitted(method).p;
      return {
        method,
        ece: ece(q, yTest),
        maxDecileRatio: worst(q, yTest),
        auc: auc(q, yTest),
        meanPd: mean(q),
      };
    }),
    slice: { rows: yCal.length, defaults },
    ...(input.cohort === undefined
      ? {}
      : { cohort: cohortFigures(p, yTest, input.cohort.t, input.cohort.atMs) }),
    ...(input.cohort === undefined
      ? {}
      : {
          worstUnderCalibration: worstDecileUnderCalibration({
            p,
            groups: input.groups,
            observed: maxDecileRatio,
            draws: input.iterations,
            seed: input.seed,
          }),
        }),
  };
}
