import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  fileGeometry,
  NAB_PROFILES,
  optimiseThreshold,
  perfectScore,
  PROFILE_NAMES,
  scoreFile,
} from '../anomaly/nab-scorer.js';

const DEV = new URL('../../../shared/data/nab-dev', import.meta.url).pathname;

/** NAB's published scoring of the Numenta HTM detector (results/numenta/numenta_<profile>_scores.csv). */
const PUBLISHED = {
  nyc_taxi: {
    standard: { score: 2.43572773247, tp: 7, fp: 1 },
    reward_low_FP_rate: { score: 2.32572773247, tp: 7, fp: 1 },
    reward_low_FN_rate: { score: 1.43572773247, tp: 7, fp: 1 },
  },
  machine_temperature_system_failure: {
    standard: { score: 1.36013273774, tp: 5, fp: 5 },
    reward_low_FP_rate: { score: 1.32453417071, tp: 4, fp: 3 },
    reward_low_FN_rate: { score: 0.360132737738, tp: 5, fp: 5 },
  },
} as const;
/** NAB's corpus-optimal thresholds for the Numenta detector (config/thresholds.json). */
const THRESHOLDS = {
  standard: 0.5421876907348634,
  reward_low_FP_rate: 0.5751955032348636,
  reward_low_FN_rate: 0.5421876907348634,
};

describe('NAB scorer', () => {
  it.skipIf(!existsSync(DEV))(
    "when it scores the Numenta detector's published anomaly scores at NAB's thresholds, then it reproduces NAB's per-file scores and counts for every profile",
    () => {
      const labels = JSON.parse(readFileSync(`${DEV}/labels/combined_windows.json`, 'utf8')) as Record<
        string,
        [string, string][]
      >;
      for (const [file, expected] of Object.entries(PUBLISHED)) {
        const rows = readFileSync(`${DEV}/results/numenta/realKnownCause/numenta_${file}.csv`, 'utf8')
          .trim()
          .split('\n')
          .slice(1);
        const g = fileGeometry(
          rows.map((r) => r.split(',')[0] ?? ''),
          (labels[`realKnownCause/${file}.csv`] ?? []).map(
            ([a, b]) => [a.slice(0, 19), b.slice(0, 19)] as const,
          ),
        );
        const scores = rows.map((r) => Number(r.split(',')[2]));
        for (const p of PROFILE_NAMES) {
          const s = scoreFile(g, scores, THRESHOLDS[p], NAB_PROFILES[p]);
          expect(s.score, `${file} ${p}`).toBeCloseTo(expected[p].score, 9);
          expect({ tp: s.tp, fp: s.fp }).toEqual({ tp: expected[p].tp, fp: expected[p].fp });
        }
      }
    },
  );

  // 20 rows: probation = 3; one window rows 10..13.
  const ts = Array.from({ length: 20 }, (_, i) => `2020-01-01 00:${String(i).padStart(2, '0')}:00`);
  const g = fileGeometry(ts, [[ts[10] as string, ts[13] as string]]);

  it('when a detection falls in the probationary period, then it is not scored', () => {
    const scores = new Array<number>(20).fill(0);
    scores[1] = 1;
    expect(scoreFile(g, scores, 0.5, NAB_PROFILES.standard)).toMatchObject({ score: -1, fp: 0, detected: 0 });
  });

  it('when a window is detected at its first row, then it earns the full tpWeight, later less, and the perfect detector earns 1 per window', () => {
    const early = new Array<number>(20).fill(0);
    early[10] = 1;
    const late = new Array<number>(20).fill(0);
    late[13] = 1;
    expect(scoreFile(g, early, 0.5, NAB_PROFILES.standard).score).toBeCloseTo(1, 12);
    const lateScore = scoreFile(g, late, 0.5, NAB_PROFILES.standard).score;
    expect(lateScore).toBeGreaterThan(0);
    expect(lateScore).toBeLessThan(0.6);
    expect(perfectScore([g], NAB_PROFILES.standard)).toBeCloseTo(1, 12);
  });

  it('when a false positive lies just after a window, then it costs less than one far from any window', () => {
    const near = new Array<number>(20).fill(0);
    near[14] = 1;
    const before = new Array<number>(20).fill(0);
    before[5] = 1;
    const nearFp = scoreFile(g, near, 0.5, NAB_PROFILES.standard).score + 1;
    const beforeFp = scoreFile(g, before, 0.5, NAB_PROFILES.standard).score + 1;
    expect(beforeFp).toBeCloseTo(-0.11, 12);
    expect(nearFp).toBeLessThan(0);
    expect(nearFp).toBeGreaterThan(-0.11);
  });

  it('when the optimiser sweeps thresholds, then it picks the lowest threshold that finds the window without a further false positive', () => {
    const scores = new Array<number>(20).fill(0.1);
    scores[11] = 0.7;
    scores[5] = 0.6;
    scores[6] = 0.9;
    const best = optimiseThreshold([{ g, scores }], NAB_PROFILES.standard);
    // 0.9: one FP, window missed; 0.7: one FP, window found; 0.6: a second FP; 0.1: FPs everywhere.
    expect(best.threshold).toBe(0.7);
    expect(best.score).toBeCloseTo(scoreFile(g, scores, 0.7, NAB_PROFILES.standard).score, 12);
    expect(best.score).toBeGreaterThan(scoreFile(g, scores, 0.6, NAB_PROFILES.standard).score);
    expect(best.score).toBeGreaterThan(scoreFile(g, scores, 0.9, NAB_PROFILES.standard).score);
  });
});
