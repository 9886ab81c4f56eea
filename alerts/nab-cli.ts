import { mkdirSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { PROFILE_NAMES } from './anomaly/nab-scorer.js';
import { evaluateNab, publishedScores } from './nab.js';

/**
 * `npm run eval:nab [dir]`: the streaming detector on a NAB corpus (default ../shared/data/nab-dev) scored with
 * NAB's rules, the three profiles overall and per category, leave-one-category-out, and the published Numenta
 * scores on the same files → reports/nab.json + .md; the last line of output is one JSON object.
 */
const dir = resolve(process.argv[2] ?? '../shared/data/nab-dev');
const started = performance.now();
const report = evaluateNab(dir);
const numenta = publishedScores(dir);
const f1 = (v: number | null | undefined) =>
  v === null || v === undefined || Number.isNaN(v) ? '—' : v.toFixed(1);
const categories = Object.keys(report.profiles.standard.categories);
const md = [
  '# Streaming anomaly detector on NAB',
  '',
  `Data: ${dir} (${report.files.length} series). Normalised NAB score: 0 = null detector, 100 = perfect; one threshold per profile for the whole corpus (NAB's optimiser).`,
  '',
  `| profile | threshold | all | ${categories.join(' | ')} | Numenta HTM (published, same files) |`,
  `| --- | --- | --- | ${categories.map(() => '---').join(' | ')} | --- |`,
  ...PROFILE_NAMES.map((p) => {
    const r = report.profiles[p];
    const cells = categories.map((c) => {
      const k = r.categories[c];
      return k === undefined ? '—' : k.score === null ? `${k.falsePositives} FP` : f1(k.score);
    });
    return `| ${p} | ${r.threshold.toFixed(3)} | ${f1(r.score)} | ${cells.join(' | ')} | ${f1(numenta?.[p])} |`;
  }),
  '',
  'Leave one category out (parameters and thresholds chosen on the other four, this one scored):',
  '',
  `| held out | ${PROFILE_NAMES.join(' | ')} | chosen |`,
  `| --- | ${PROFILE_NAMES.map(() => '---').join(' | ')} | --- |`,
  ...Object.entries(report.loco).map(
    ([c, l]) =>
      `| ${c} | ${PROFILE_NAMES.map((p) => f1(l.scores[p])).join(' | ')} | halfLife ${l.params.halfLifeReadings}, ${JSON.stringify(l.params.tuning ?? {})} |`,
  ),
  `| pooled | ${PROFILE_NAMES.map((p) => f1(report.locoOverall[p])).join(' | ')} | |`,
  '',
  'As the alert engine runs it (`anomaly` rule defaults: flagged readings through a hysteresis, persist 2, clear 6):',
  '',
  '| flag | alerts opened | in a window | false per 1,000 readings | windows opened |',
  '| --- | --- | --- | --- | --- |',
  ...(
    [
      ['score ≥ threshold or \\|z\\| > 5 (rule default)', report.alerts.ruleDefaults],
      ['score ≥ threshold only', report.alerts.scoreOnly],
    ] as const
  ).map(
    ([k, a]) =>
      `| ${k} | ${a.opened} | ${a.openedInWindows} | ${a.falsePer1000Readings.toFixed(2)} | ${a.windowsOpened}/${a.windows} |`,
  ),
  '',
  '| file | rows | windows detected | false positives | raw score (standard) |',
  '| --- | --- | --- | --- | --- |',
  ...report.files.map(
    (f) =>
      `| ${f.file} | ${f.rows} | ${f.detected}/${f.windows} | ${f.falsePositives} | ${f.rawScore.toFixed(2)} |`,
  ),
  '',
].join('\n');
mkdirSync('reports', { recursive: true });
writeFileSync('reports/nab.json', `${JSON.stringify({ ...report, numenta }, null, 2)}\n`);
writeFileSync('reports/nab.md', md);
process.stdout.write(md);
const round = (v: number | null | undefined) =>
  v === null || v === undefined || Number.isNaN(v) ? null : Math.round(v * 10) / 10;
process.stdout.write(
  `${JSON.stringify({
    eval: 'nab',
    files: report.files.length,
    standard: round(report.profiles.standard.score),
    rewardLowFP: round(report.profiles.reward_low_FP_rate.score),
    rewardLowFN: round(report.profiles.reward_low_FN_rate.score),
    categoriesStandard: Object.fromEntries(
      categories.map((c) => [c, round(report.profiles.standard.categories[c]?.score)]),
    ),
    locoStandard: Object.fromEntries(
      Object.entries(report.loco).map(([c, l]) => [c, round(l.scores.standard)]),
    ),
    locoPooled: Object.fromEntries(PROFILE_NAMES.map((p) => [p, round(report.locoOverall[p])])),
    alertsFalsePer1000: Math.round(report.alerts.ruleDefaults.falsePer1000Readings * 100) / 100,
    alertsWindowsOpened: report.alerts.ruleDefaults.windowsOpened,
    numentaPublished:
      numenta === undefined ? null : Object.fromEntries(PROFILE_NAMES.map((p) => [p, round(numenta[p])])),
    elapsedS: Math.round((performance.now() - started) / 100) / 10,
  })}\n`,
);
