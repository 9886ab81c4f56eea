/**
 * From a PD to the numbers risk officers use: a points score (industry convention: 600 points at odds of
 * 50 good to 1 bad, 20 points to double the odds, clamped to 300–900) and a grade band.
 */
export const POINTS_PDO = 20;
export const POINTS_BASE = 600;
export const POINTS_BASE_ODDS = 50;
const FACTOR = POINTS_PDO / Math.LN2;
const OFFSET = POINTS_BASE - FACTOR * Math.log(POINTS_BASE_ODDS);

export function pointsFor(pd: number): number {
  const p = Math.min(1 - 1e-9, Math.max(1e-9, pd));
  return Math.round(Math.min(900, Math.max(300, OFFSET + FACTOR * Math.log((1 - p) / p))));
}

/** Grade bands by PD over the model's horizon: upper bounds, exclusive. */
export const GRADE_BANDS: readonly { grade: string; maxPd: number }[] = [
  { grade: 'A', maxPd: 0.005 },
  { grade: 'B', maxPd: 0.01 },
  { grade: 'C', maxPd: 0.02 },
  { grade: 'D', maxPd: 0.04 },
  { grade: 'E', maxPd: 0.08 },
  { grade: 'F', maxPd: 0.16 },
  { grade: 'G', maxPd: Number.POSITIVE_INFINITY },
];

export function gradeFor(pd: number): string {
  return (GRADE_BANDS.find((b) => pd < b.maxPd) ?? { grade: 'G' }).grade;
}

/** Positive when `to` is a worse grade than `from`. */
export function gradeSteps(from: string, to: string): number {
  const i = (g: string): number => GRADE_BANDS.findIndex((b) => b.grade === g);
  return i(to) - i(from);
}
