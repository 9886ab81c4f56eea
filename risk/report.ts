import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { EvaluationResult, ModelReport } from './evaluation-result.js';
import type { DecileCheck } from './decile-check.js';
import type { CalibrationJson } from './model/calibration.js';
import { FEATURE_NAMES, ONLINE_FEATURES } from './features/spec.js';
import { reliabilitySvg, rocSvg } from './plots.js';

/**
 * Writes the evaluation report: `evaluation.json` (every figure), `evaluation.md` (for people), and the ROC and
 * reliability plots as SVG images. Files are written to a temporary name and renamed, so a reader never sees
 * half a report. Returns the paths.
 */
export interface ReportPaths {
  readonly json: string;
  readonly markdown: string;
  readonly roc: string;
  readonly reliability: string;
}

function writeAtomic(path: string, text: string): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, text);
  renameSync(tmp, path);
}

const pct = (v: number): string => `${(v * 100).toFixed(1)} %`;
const f3 = (v: number): string => (Number.isFinite(v) ? v.toFixed(3) : 'n/a');
const day = (ms: number): string => new Date(ms).toISOString().slice(0, 10);

export function writeEvaluationReport(
  dir: string,
  result: EvaluationResult,
  extra: { title?: string; notes?: string[]; credit?: { json: unknown; markdown: string } } = {},
): ReportPaths {
  const out = resolve(dir);
  mkdirSync(out, { recursive: true });
  const paths: ReportPaths = {
    json: join(out, 'evaluation.json'),
    markdown: join(out, 'evaluation.md'),
    roc: join(out, 'evaluation-roc.svg'),
    reliability: join(out, 'evaluation-reliability.svg'),
  };
  const json = extra.credit === undefined ? result : { ...result, credit: extra.credit.json };
  writeAtomic(paths.json, `${JSON.stringify(json, null, 2)}\n`);
  writeAtomic(
    paths.roc,
    rocSvg(
      result.models.map((m) => ({ name: m.name, fpr: m.roc.fpr, tpr: m.roc.tpr, auc: m.auc })),
      { title: 'ROC, out-of-time test' },
    ),
  );
  const maxP = Math.min(
    1,
    Math.max(
      0.05,
      ...result.models.flatMap((m) => m.reliability.map((b) => Math.max(b.meanPredicted, b.observedRate))),
    ) * 1.1,
  );
  writeAtomic(
    paths.reliability,
    reliabilitySvg(
      result.models.map((m) => ({ name: m.name, table: m.reliability })),
      { title: 'Reliability, out-of-time test', maxProbability: maxP },
    ),
  );
  writeAtomic(paths.markdown, markdown(result, extra));
  return paths;
}

function markdown(
  r: EvaluationResult,
  extra: { title?: string; notes?: string[]; credit?: { markdown: string } },
): string {
  const s = r.setup;
  const lines: string[] = [];
  lines.push(`# ${extra.title ?? 'riskfuse model evaluation'}`, '');
  lines.push(`Generated ${r.generatedAt}. Data hash \`${s.dataHash}\`, seed ${s.seed}.`, '');
  lines.push('## Setup', '');
  lines.push(
    `- Event: default (90 days past due) within **${s.horizonDays} days** of the observation date; population: **${s.population}**` +
      (s.population === 'performing'
        ? ' (no instalment more than 30 days past due at the observation date).'
        : ' (every borrower not yet in default).'),
    `- History ${day(s.fromMs)} → ${day(s.toMs)}; split date ${day(s.splitMs)}. Train/validation rows are observed before it every ${s.stepDays} days, test rows weekly from it, on borrowers none of the models trained on.`,
    `- Rows: train ${s.rows.train} (${s.positives.train} positive, ${s.borrowers.train} borrowers), validation ${s.rows.validation} (${s.positives.validation}, ${s.borrowers.validation}), test ${s.rows.test} (${s.positives.test}, ${s.borrowers.test}); ${s.testDefaulters} test borrowers default within the horizon.`,
    `- Alert threshold per model: the PD at which ${pct(s.alertFpr)} of non-defaulting test rows alert.`,
    '',
  );
  lines.push('## Out-of-time test', '');
  lines.push(
    '| model | inputs | AUC (95 % CI) | KS | Gini | Brier | PR-AUC | ECE | mean PD | worst decile × | epochs (best) |',
  );
  lines.push('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const m of r.models) {
    lines.push(
      `| ${m.name} | ${m.inputs} (${m.features}) | ${f3(m.auc)} (${f3(m.aucCi[0])}–${f3(m.aucCi[1])}) | ${f3(m.ks)} | ${f3(m.gini)} | ${m.brier.toFixed(4)} | ${f3(m.prAuc)} | ${m.ece.toFixed(4)} | ${m.meanPd.toFixed(4)} | ${m.maxDecileRatio.toFixed(2)} | ${m.epochs} (${m.bestEpoch}) |`,
    );
  }
  const observed = s.positives.test / Math.max(1, s.rows.test);
  const first = r.models[0];
  lines.push(
    '',
    `PDs are recalibrated (${first?.calibration.method ?? 'none'}) on the calibration slice — the validation borrowers' rows at every weekly date before the split; for the fused network, every non-test borrower's rows before the split, each scored by a network that never saw the borrower (cross-fitted, risk/cross-fit.ts)` +
      (first === undefined
        ? ''
        : ` (${first.calibrationSlice.rows} rows, ${first.calibrationSlice.defaults} positive)`) +
      ` — and floored at ${((first?.pdFloor ?? 0) * 100).toFixed(2)} %; observed test default rate ${observed.toFixed(4)}. Worst decile × = the largest factor between predicted and observed default rate over the test PD deciles (deciles with a default); intervals are 95 % bootstrap intervals by borrower (a resample's ECE carries its own sampling noise, so the ECE interval can sit above the estimate). Before recalibration (the network's own PD) and after:`,
    '',
    '| model | ECE before | mean PD before | worst decile × before | ECE after (95 % CI) | mean PD after | worst decile × after (95 % CI) |',
    '| --- | --- | --- | --- | --- | --- | --- |',
    ...r.models.map(
      (m) =>
        `| ${m.name} | ${m.eceRaw.toFixed(4)} | ${m.meanPdRaw.toFixed(4)} | ${m.maxDecileRatioRaw.toFixed(2)} | ${m.ece.toFixed(4)} (${m.eceCi[0].toFixed(4)}–${m.eceCi[1].toFixed(4)}) | ${m.meanPd.toFixed(4)} | ${m.maxDecileRatio.toFixed(2)} (${m.maxDecileRatioCi[0].toFixed(2)}–${m.maxDecileRatioCi[1].toFixed(2)}) |`,
    ),
    '',
    'Every recalibration method fitted on the same slice, on the same test rows (the method is chosen before the test, with `--calibration`; this table shows what another would have given):',
    '',
    '| model | method | ECE | worst decile × | AUC | mean PD |',
    '| --- | --- | --- | --- | --- | --- |',
    ...r.models.flatMap((m) =>
      m.calibrationMethods.map(
        (c) =>
          `| ${m.name} | ${c.method}${c.method === m.calibration.method ? ' (used)' : ''} | ${c.ece.toFixed(4)} | ${c.maxDecileRatio.toFixed(2)} | ${f3(c.auc)} | ${c.meanPd.toFixed(4)} |`,
      ),
    ),
    '',
  );
  lines.push(
    `**Fusion lift** (fused-mlp − online-mlp AUC): **${r.lift.estimate.toFixed(3)}**, 95 % paired bootstrap interval by borrower ` +
      `[${r.lift.lo.toFixed(3)}, ${r.lift.hi.toFixed(3)}] (${r.lift.iterations} resamples)` +
      (r.lift.lo > 0 ? ' — excludes zero.' : ' — does NOT exclude zero.'),
    '',
  );
  lines.push('## Early warning: lead time before default', '');
  lines.push(
    'For test borrowers who default inside the test period, scored weekly from the split date: days before default when the score ' +
      'first crossed the alert threshold, and when the last uninterrupted run above it began (0 = no alert before default).',
    '',
  );
  lines.push(
    '| model | defaulters | median first crossing (d) | median sustained (d) | missed | 1–30 | 31–60 | 61–90 | 91–180 | >180 |',
  );
  lines.push('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const m of r.models) {
    const h = m.leadTime.histogram;
    lines.push(
      `| ${m.name} | ${m.leadTime.defaulters} | ${m.leadTime.medianFirstDays} | ${m.leadTime.medianSustainedDays} | ${m.leadTime.missed} | ${h['1-30'] ?? 0} | ${h['31-60'] ?? 0} | ${h['61-90'] ?? 0} | ${h['91-180'] ?? 0} | ${h['>180'] ?? 0} |`,
    );
  }
  lines.push('', `Median sustained lead-time gain of fusion: **${r.leadTimeGainDays} days**.`, '');
  lines.push('## Calibration per decile (quantile bins of the test PDs)', '');
  lines.push(
    'Each decile of the test PDs: defaults seen against the mean PD, the 95 % Jeffreys interval of the default rate ' +
      '(Beta(D + ½, N − D + ½), the ECB’s per-grade test) and whether the PD lies inside it (`under` = PD too low), ' +
      'and whether the observed rate rises with the deciles.',
    '',
  );
  for (const m of r.models) lines.push(...reliabilityLines(m));
  lines.push(...cohortLines(r));
  lines.push(...pooledLines(r));
  lines.push('Plots: `evaluation-roc.svg`, `evaluation-reliability.svg`.', '');
  if (extra.credit !== undefined) lines.push(extra.credit.markdown);
  if (extra.notes !== undefined && extra.notes.length > 0)
    lines.push('## Notes', '', ...extra.notes.map((n) => `- ${n}`), '');
  lines.push('## For the README', '', ...readmeTable(r), '');
  return lines.join('\n');
}

function reliabilityLines(m: ModelReport): string[] {
  const d = m.deciles;
  return [
    `**${m.name}** — ECE ${m.ece.toFixed(4)}, worst decile × ${d.worstRatio.toFixed(2)}; observed rate rises with the deciles: ` +
      decileVerdict(d),
    '',
    ...nullLines(m),
    ...decileTable(d),
  ];
}

function calibrationLabel(c: CalibrationJson | undefined): string {
  if (c === undefined) return '–';
  if (c.method === 'platt-hazard') return `platt-hazard, h0 ${(100 * c.h0).toFixed(2)} %`;
  return c.method;
}

/** Whether the observed rate rises with the deciles and how many deciles' PDs lie outside their interval. */
function decileVerdict(d: DecileCheck): string {
  return (
    (d.monotone
      ? 'yes'
      : `no (${d.inversions} inversion${d.inversions === 1 ? '' : 's'}, ${d.significantInversions} with disjoint intervals)`) +
    `; PD outside the interval: ${d.under} decile${d.under === 1 ? '' : 's'} under, ${d.over} over`
  );
}

/** The per-decile table of a decile check (risk/decile-check.ts). */
function decileTable(d: DecileCheck): string[] {
  return [
    '| PD bin | rows | defaults | mean predicted | observed | 95 % Jeffreys interval | × | check |',
    '| --- | --- | --- | --- | --- | --- | --- | --- |',
    ...d.deciles.map(
      (b) =>
        `| ${b.lo.toFixed(4)}–${b.hi.toFixed(4)} | ${b.count} | ${b.defaults} | ${b.meanPredicted.toFixed(4)} | ${b.observedRate.toFixed(4)} | ${b.interval[0].toFixed(4)}–${b.interval[1].toFixed(4)} | ${b.ratio === undefined ? '–' : b.ratio.toFixed(2)} | ${b.verdict} |`,
    ),
    '',
  ];
}

/** The worst decile if the PDs were exactly right (risk/calibration-null.ts), beside the observed one. */
function nullLines(m: Pick<ModelReport, 'worstUnderCalibration'>): string[] {
  const w = m.worstUnderCalibration;
  if (w === undefined) return [];
  return [
    `If these PDs were exactly right, the worst decile of these rows would be off by a median ${w.median.toFixed(2)}× ` +
      `(95th percentile ${w.p95.toFixed(2)}×; more than 2× in ${(100 * w.shareOver2x).toFixed(1)} % of ${w.draws} draws, ` +
      `each row a default with exactly its PD, one uniform draw per borrower). Draws at least as far off as the observed ${w.observed.toFixed(2)}×: ` +
      `${(100 * w.pValue).toFixed(1)} %${w.pValue < 0.05 ? ' — more than chance: the PDs miss somewhere' : ' — within chance'}.`,
    '',
  ];
}

/**
 * The cohort view (risk/evaluate-calibration.ts cohortFigures): each test borrower once, at the split date.
 * Shown beside the weekly rows' deciles, never instead of them.
 */
function cohortLines(r: EvaluationResult): string[] {
  const withCohort = r.models.filter((m) => m.cohort !== undefined);
  if (withCohort.length === 0) return [];
  const at = new Date(r.setup.splitMs).toISOString().slice(0, 10);
  const out = [
    `## Calibration per borrower (cohort at ${at})`,
    '',
    `The weekly test rows repeat a borrower up to a dozen times, so a decile of rows can rest on a few borrowers. The cohort method (EBA GL/2017/16 § 5.3.2) counts each borrower performing at ${at} once: its PD that day against default within the horizon.`,
    '',
    '| model | borrowers | defaults | mean PD | observed | ECE | worst decile × | deciles under / over |',
    '| --- | --- | --- | --- | --- | --- | --- | --- |',
    ...withCohort.map((m) => {
      const c = m.cohort as NonNullable<ModelReport['cohort']>;
      return `| ${m.name} | ${c.borrowers} | ${c.defaults} | ${c.meanPd.toFixed(4)} | ${c.observedRate.toFixed(4)} | ${c.ece.toFixed(4)} | ${c.deciles.worstRatio.toFixed(2)} | ${c.deciles.under} / ${c.deciles.over} |`;
    }),
    '',
  ];
  const fused = withCohort[0];
  if (fused?.cohort !== undefined) {
    out.push(
      `**${fused.name}**, cohort deciles:`,
      '',
      '| PD bin | borrowers | defaults | mean predicted | observed | 95 % Jeffreys interval | × | check |',
      '| --- | --- | --- | --- | --- | --- | --- | --- |',
      ...fused.cohort.deciles.deciles.map(
        (b) =>
          `| ${b.lo.toFixed(4)}–${b.hi.toFixed(4)} | ${b.count} | ${b.defaults} | ${b.meanPredicted.toFixed(4)} | ${b.observedRate.toFixed(4)} | ${b.interval[0].toFixed(4)}–${b.interval[1].toFixed(4)} | ${b.ratio === undefined ? '–' : b.ratio.toFixed(2)} | ${b.verdict} |`,
      ),
      '',
    );
  }
  return out;
}

/**
 * The fused network's calibration on every borrower once, out of time and out of fold (risk/evaluate-pooled.ts):
 * the same aim judged on about three times the defaulting borrowers of the test period.
 */
function pooledLines(r: EvaluationResult): string[] {
  const q = r.pooled;
  if (q === undefined) return [];
  const d = q.deciles;
  return [
    '## Calibration on every borrower (out of time, out of fold)',
    '',
    `The test borrowers are ${r.setup.borrowers.test} of the book, so the test period holds only ${r.setup.testDefaulters} defaulting borrowers. ` +
      `Here every borrower's rows from the split date on are scored once by a fused network trained and recalibrated, as the main one, on other borrowers' rows before the split: ` +
      `the main split's test borrowers with its network, the other borrowers in ${q.folds - 1} more folds.`,
    '',
    '| fold | rows | positive | defaulting borrowers | AUC | recalibration |',
    '| --- | --- | --- | --- | --- | --- |',
    ...q.perFold.map(
      (f, i) =>
        `| ${i === 0 ? 'test period (main split)' : `fold ${i + 1}`} | ${f.rows} | ${f.defaults} | ${f.defaultingBorrowers} | ${f3(f.auc)} | ${calibrationLabel(f.calibration)} |`,
    ),
    '',
    `**fused-mlp, pooled** (${q.rows} rows, ${q.defaults} positive, ${q.defaultingBorrowers} of ${q.borrowers} borrowers defaulting): ` +
      `AUC ${f3(q.auc)}, mean PD ${q.meanPd.toFixed(4)} against ${q.observedRate.toFixed(4)} observed, ` +
      `ECE ${q.ece.toFixed(4)} (${q.eceCi[0].toFixed(4)}–${q.eceCi[1].toFixed(4)}), ` +
      `worst decile × ${q.maxDecileRatio.toFixed(2)} (${q.maxDecileRatioCi[0].toFixed(2)}–${q.maxDecileRatioCi[1].toFixed(2)}); observed rate rises with the deciles: ` +
      decileVerdict(d),
    '',
    ...nullLines({ worstUnderCalibration: q.worstUnderCalibration }),
    ...decileTable(d),
  ];
}

const README_NAMES: Record<string, string> = {
  'fused-mlp': 'fused network',
  'online-mlp': 'online-only network',
  'fused-logistic': 'fused logistic regression',
  'online-logistic': 'online logistic regression',
};

/**
 * The README's evaluation table in its own shape, every figure from this run, so the front door is updated by
 * copying rather than retyping.
 */
export function readmeTable(r: EvaluationResult): string[] {
  const s = r.setup;
  return [
    `| model (out-of-time test: ${s.rows.test.toLocaleString('en')} rows, ${s.positives.test} positive, ${s.testDefaulters} defaulting borrowers) | AUC (95 % CI by borrower) | KS | Brier | PR-AUC | ECE |`,
    '| --- | --- | --- | --- | --- | --- |',
    ...r.models.map((m, i) => {
      const name = README_NAMES[m.name] ?? m.name;
      const label = m.kind === 'mlp' ? `${name} (${inputsLabel(m)})` : name;
      const a = i === 0 ? `**${f3(m.auc)}**` : f3(m.auc);
      return `| ${label} | ${a} (${f3(m.aucCi[0])}–${f3(m.aucCi[1])}) | ${f3(m.ks)} | ${m.brier.toFixed(4)} | ${f3(m.prAuc)} | ${m.ece.toFixed(4)} |`;
    }),
  ];
}

function inputsLabel(m: ModelReport): string {
  const base = (m.inputs === 'fused' ? FEATURE_NAMES : ONLINE_FEATURES).length;
  const flags = m.features - base;
  return flags > 0 ? `${base} features + ${flags} missing flags` : `${m.features} features`;
}
