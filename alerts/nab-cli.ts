import { mkdirSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { evaluateNab } from './nab.js';

/** `npm run eval:nab [dir]`: the streaming detector on NAB (default ../shared/data/nab) → reports/nab.json + .md. */
const dir = resolve(process.argv[2] ?? '../shared/data/nab');
const report = evaluateNab(dir);
mkdirSync('reports', { recursive: true });
writeFileSync('reports/nab.json', `${JSON.stringify(report, null, 2)}\n`);
const rows = report.files.map(
  (f) =>
    `| ${f.file} | ${f.rows} | ${f.windowsDetected}/${f.windows} | ${f.alarmsInWindows}/${f.alarms} | ${((100 * (f.rawScore - f.nullScore)) / (f.perfectScore - f.nullScore)).toFixed(1)} |`,
);
const md = [
  '# Streaming anomaly detector on NAB',
  '',
  `Data: ${dir}. Parameters: ${JSON.stringify(report.params)}.`,
  '',
  '| file | rows | windows detected | alarms in windows | NAB score (standard) |',
  '| --- | --- | --- | --- | --- |',
  ...rows,
  '',
  `Overall: recall ${(report.recall * 100).toFixed(0)} % of windows, precision ${(report.precision * 100).toFixed(0)} % of alarms, normalised NAB score ${report.nabScore.toFixed(1)} (0 = null detector, 100 = perfect).`,
  'Parameters were picked on these same two files: in-sample figures, not comparable to the NAB scoreboard (58 files).',
  '',
].join('\n');
writeFileSync('reports/nab.md', md);
process.stdout.write(md);
process.stdout.write(
  `${JSON.stringify({ eval: 'nab', nabScore: report.nabScore, recall: report.recall, precision: report.precision })}\n`,
);
