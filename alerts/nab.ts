import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  fileGeometry,
  NAB_PROFILES,
  normalise,
  nullScore,
  optimiseThreshold,
  perfectScore,
  PROFILE_NAMES,
  scoreFile,
  type FileGeometry,
  type ProfileName,
} from './anomaly/nab-scorer.js';
import { Hysteresis, StreamingDetector, type DetectorParams, type DetectorTuning } from './detector.js';

/**
 * Evaluates the streaming detector on a Numenta Anomaly Benchmark corpus (data files by category, NAB's
 * `labels/combined_windows.json`) with NAB's own scoring (`anomaly/nab-scorer.ts`): the detector sees each
 * series once, in order, and its per-row `score` is the anomaly score NAB thresholds. Reported per profile: the
 * corpus-optimal threshold, the normalised score overall and per category, and — because the one parameter set
 * is itself chosen on this corpus — leave-one-category-out figures: parameters and thresholds picked on four
 * categories, the fifth scored with them.
 */

const DAY_MS = 86_400_000;

/** The one parameter set for every series (chosen on the development set; see `evaluateNab`'s `loco`). */
export const NAB_PARAMS: DetectorParams = {
  zThreshold: 100,
  seasonPeriodMs: DAY_MS,
  seasonBins: 24,
  weekly: true,
  warmupReadings: 0,
  halfLifeReadings: 300,
  direction: 'both',
};

/** The candidates the leave-one-category-out search chooses among (the chosen set is one of them). */
export const NAB_GRID: readonly DetectorParams[] = [300, 1000].flatMap((halfLifeReadings) =>
  [0.005, 0.01, 0.03].flatMap((noveltyTolerance) =>
    [0, 0.6].flatMap((driftWeight) =>
      [50, 100, 200].map((reportHalfLifeReadings): DetectorParams => ({
        ...NAB_PARAMS,
        halfLifeReadings,
        tuning: { noveltyTolerance, driftWeight, reportHalfLifeReadings } satisfies Partial<DetectorTuning>,
      })),
    ),
  ),
);

export interface NabFile {
  readonly name: string;
  readonly category: string;
  readonly ts: readonly number[];
  readonly x: readonly number[];
  readonly g: FileGeometry;
}

const rowTime = (s: string): string => s.trim().slice(0, 19);

export function loadNabCorpus(dir: string): NabFile[] {
  const labelsPath = join(dir, 'labels', 'combined_windows.json');
  if (!existsSync(labelsPath)) throw new Error(`${labelsPath} not found: is ${dir} a NAB corpus?`);
  const labels = JSON.parse(readFileSync(labelsPath, 'utf8')) as Record<string, [string, string][]>;
  return Object.entries(labels)
    .filter(([name]) => existsSync(join(dir, name)))
    .map(([name, windows]) => {
      const rows = readFileSync(join(dir, name), 'utf8').trim().split('\n').slice(1);
      const stamps = rows.map((r) => rowTime(r.split(',')[0] ?? ''));
      const x = rows.map((r) => Number(r.split(',')[1]));
      const ts = stamps.map((s) => Date.parse(`${s.replace(' ', 'T')}Z`));
      if (x.some((v) => !Number.isFinite(v)) || ts.some((t) => !Number.isFinite(t)))
        throw new Error(`${name}: a row without a timestamp or a numeric value`);
      const g = fileGeometry(
        stamps,
        windows.map(([a, b]) => [rowTime(a), rowTime(b)] as const),
      );
      return { name, category: name.split('/')[0] ?? '', ts, x, g };
    });
}

export function runDetector(f: NabFile, p: DetectorParams): Float64Array {
  const det = new StreamingDetector(p);
  const out = new Float64Array(f.x.length);
  for (let i = 0; i < f.x.length; i++) out[i] = det.step(f.ts[i] as number, f.x[i] as number).score;
  return out;
}

export interface AlertFigures {
  /** Alerts opened after each file's probationary period. */
  readonly opened: number;
  readonly openedInWindows: number;
  /** Openings outside every window per 1,000 scored readings. */
  readonly falsePer1000Readings: number;
  readonly windowsOpened: number;
  readonly windows: number;
}

/**
 * The detector as the alert engine runs it: `flagged` through a hysteresis of `persist` flagged readings to
 * open and `clear` normal ones to clear; an opening inside a window finds it, one outside is a false alert.
 */
export function alertFigures(
  corpus: readonly NabFile[],
  p: DetectorParams,
  persist: number,
  clear: number,
): AlertFigures {
  let opened = 0;
  let openedInWindows = 0;
  let scored = 0;
  let windowsOpened = 0;
  let windows = 0;
  for (const f of corpus) {
    const det = new StreamingDetector(p);
    const hyst = new Hysteresis(persist, clear);
    const found = new Set<number>();
    for (let i = 0; i < f.x.length; i++) {
      const opens = hyst.step(det.step(f.ts[i] as number, f.x[i] as number).flagged) === 'open';
      if (!opens || i < f.g.probation) continue;
      opened++;
      const w = f.g.window[i - f.g.probation] as number;
      if (w >= 0) {
        openedInWindows++;
        found.add(w);
      }
    }
    scored += f.g.window.length;
    windowsOpened += found.size;
    windows += f.g.windows;
  }
  return {
    opened,
    openedInWindows,
    falsePer1000Readings: (1000 * (opened - openedInWindows)) / Math.max(1, scored),
    windowsOpened,
    windows,
  };
}

interface Run {
  readonly f: NabFile;
  readonly g: FileGeometry;
  readonly scores: Float64Array;
}

export interface ProfileResult {
  readonly threshold: number;
  /** Normalised: 0 = null detector, 100 = perfect. */
  readonly score: number;
  /** Per category: normalised score, or null for a category without windows (see `falsePositives`). */
  readonly categories: Record<
    string,
    { score: number | null; falsePositives: number; windows: number; detected: number }
  >;
}

/** Scores `runs` at a fixed threshold; normalised over exactly these files. */
function scoreAt(runs: readonly Run[], profile: ProfileName, threshold: number) {
  const cost = NAB_PROFILES[profile];
  const per = runs.map((r) => scoreFile(r.g, r.scores, threshold, cost));
  const raw = per.reduce((s, x) => s + x.score, 0);
  const gs = runs.map((r) => r.g);
  const score = normalise(raw, perfectScore(gs, cost), nullScore(gs, cost));
  return { per, raw, score: Number.isNaN(score) ? null : score };
}

function profileResult(runs: readonly Run[], profile: ProfileName, threshold: number): ProfileResult {
  const categories: ProfileResult['categories'] = {};
  for (const c of [...new Set(runs.map((r) => r.f.category))]) {
    const s = scoreAt(
      runs.filter((r) => r.f.category === c),
      profile,
      threshold,
    );
    categories[c] = {
      score: s.score,
      falsePositives: s.per.reduce((n, x) => n + x.fp, 0),
      windows: s.per.reduce((n, x) => n + x.windows, 0),
      detected: s.per.reduce((n, x) => n + x.detected, 0),
    };
  }
  return { threshold, score: scoreAt(runs, profile, threshold).score ?? NaN, categories };
}

export interface NabReport {
  readonly params: DetectorParams;
  readonly files: readonly {
    file: string;
    rows: number;
    windows: number;
    detected: number;
    falsePositives: number;
    rawScore: number;
  }[];
  readonly profiles: Record<ProfileName, ProfileResult>;
  /** Held-out category → its normalised score per profile with parameters and thresholds chosen on the others. */
  readonly loco: Record<string, { params: DetectorParams; scores: Record<ProfileName, number | null> }>;
  /** All five held-out categories' raw scores pooled and normalised over the corpus. */
  readonly locoOverall: Record<ProfileName, number>;
  /** The shared detector defaults (z 5, persist 2, clear 6), and the same without the z path. */
  readonly alerts: { readonly ruleDefaults: AlertFigures; readonly scoreOnly: AlertFigures };
}

/**
 * The shared detector parameters' defaults (alerts/rules/params.ts detectorParams: z 5, persist 2, clear 6, score
 * path on). The `anomaly` rule's own defaults on heated-plant temperature are z 6 alone over 4 readings (README
 * "Alert rules"): what NAB rewards, any change of a series, is not what a lender acts on there.
 */
const RULE_DEFAULTS = { zThreshold: 5, halfLifeReadings: 200, warmupReadings: 48, persist: 2, clear: 6 };

const PROFILE_LIST = PROFILE_NAMES;

export function evaluateNab(
  dir: string,
  p: DetectorParams = NAB_PARAMS,
  grid: readonly DetectorParams[] = NAB_GRID,
): NabReport {
  const corpus = loadNabCorpus(dir);
  const runsOf = (params: DetectorParams): Run[] =>
    corpus.map((f) => ({ f, g: f.g, scores: runDetector(f, params) }));
  const runs = runsOf(p);
  const profiles = Object.fromEntries(
    PROFILE_LIST.map((prof) => [
      prof,
      profileResult(runs, prof, optimiseThreshold(runs, NAB_PROFILES[prof]).threshold),
    ]),
  ) as Record<ProfileName, ProfileResult>;
  const std = profiles.standard.threshold;
  const files = runs.map((r) => {
    const s = scoreFile(r.g, r.scores, std, NAB_PROFILES.standard);
    return {
      file: r.f.name,
      rows: r.f.x.length,
      windows: s.windows,
      detected: s.detected,
      falsePositives: s.fp,
      rawScore: s.score,
    };
  });

  // Leave one category out: every grid candidate is run once; per fold, the candidate with the best standard
  // score on the other categories (at their own optimal threshold) is kept, and each profile's threshold is
  // optimised on those categories too; the held-out category is then scored as it stands.
  const gridRuns = grid.map((params) => ({ params, runs: runsOf(params) }));
  const loco: NabReport['loco'] = {};
  const pooled = Object.fromEntries(PROFILE_LIST.map((prof) => [prof, 0])) as Record<ProfileName, number>;
  for (const held of [...new Set(corpus.map((f) => f.category))]) {
    let best = gridRuns[0];
    let bestScore = -Infinity;
    for (const c of gridRuns) {
      const train = c.runs.filter((r) => r.f.category !== held);
      const s = optimiseThreshold(train, NAB_PROFILES.standard).score;
      if (s > bestScore) {
        bestScore = s;
        best = c;
      }
    }
    if (best === undefined) throw new Error('the parameter grid is empty');
    const train = best.runs.filter((r) => r.f.category !== held);
    const test = best.runs.filter((r) => r.f.category === held);
    const scores = {} as Record<ProfileName, number | null>;
    for (const prof of PROFILE_LIST) {
      const t = optimiseThreshold(train, NAB_PROFILES[prof]).threshold;
      const s = scoreAt(test, prof, t);
      scores[prof] = s.score;
      pooled[prof] += s.raw;
    }
    loco[held] = { params: best.params, scores };
  }
  const gs = corpus.map((f) => f.g);
  const locoOverall = Object.fromEntries(
    PROFILE_LIST.map((prof) => [
      prof,
      normalise(pooled[prof], perfectScore(gs, NAB_PROFILES[prof]), nullScore(gs, NAB_PROFILES[prof])),
    ]),
  ) as Record<ProfileName, number>;
  const rule = { ...NAB_PARAMS, ...RULE_DEFAULTS };
  const alerts = {
    ruleDefaults: alertFigures(corpus, rule, RULE_DEFAULTS.persist, RULE_DEFAULTS.clear),
    scoreOnly: alertFigures(
      corpus,
      { ...rule, zThreshold: Infinity },
      RULE_DEFAULTS.persist,
      RULE_DEFAULTS.clear,
    ),
  };
  return { params: p, files, profiles, loco, locoOverall, alerts };
}

/**
 * NAB's published per-file scores of a detector (`results/<name>/<name>_<profile>_scores.csv`) summed over the
 * corpus's files and normalised the same way: the reference our figures stand beside.
 */
export function publishedScores(dir: string, detector = 'numenta'): Record<ProfileName, number> | undefined {
  const base = join(dir, 'results', detector);
  if (!existsSync(base)) return undefined;
  const corpus = loadNabCorpus(dir);
  const names = new Set(corpus.map((f) => f.name));
  const gs = corpus.map((f) => f.g);
  const out = {} as Record<ProfileName, number>;
  for (const prof of PROFILE_LIST) {
    const file = readdirSync(base).find((n) => n === `${detector}_${prof}_scores.csv`);
    if (file === undefined) return undefined;
    const raw = readFileSync(join(base, file), 'utf8')
      .trim()
      .split('\n')
      .slice(1)
      .map((l) => l.split(','))
      .filter((c) => names.has(c[2] ?? ''))
      .reduce((s, c) => s + Number(c[4]), 0);
    out[prof] = normalise(raw, perfectScore(gs, NAB_PROFILES[prof]), nullScore(gs, NAB_PROFILES[prof]));
  }
  return out;
}
