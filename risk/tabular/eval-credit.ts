import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { errorMessage } from '../../core/errors.js';
import { parseConfig } from '../../core/config.js';
import { initBackend, riskBackendConfigSpec } from '../model/backend.js';
import { crossValidate } from './cross-validate.js';
import { parseCsv, type CsvTable } from './csv.js';
import { TABULAR_KINDS } from './models.js';
import { resolveSpec } from './spec.js';

/**
 * `npm run eval:credit`: every credit data set under the shared data folder (default ../shared/data/credit,
 * or CREDIT_DATA_DIR), every model kind, as a new user would run `riskfuse train --data FILE --label COL`
 * with no spec: 5-fold stratified cross-validation, pooled out-of-fold AUC, KS, Brier and ECE of the
 * recalibrated PDs (and ECE before recalibration). The label is found by name (credit_risk, SeriousDlqin2yrs,
 * default, target, …) or as the last two-valued column. Data sets are read in place and never copied (Give Me
 * Some Credit has no open licence). Ends with one JSON line holding every figure.
 *
 * Usage: npm run eval:credit [-- --folds K] [--seed N] [--only NAME] [--kinds LIST]
 */

const LABEL_NAMES = [
  'credit_risk',
  'seriousdlqin2yrs',
  'default',
  'default_flag',
  'default.payment.next.month',
  'default payment next month',
  'bad',
  'bad_flag',
  'target',
  'label',
  'loan_status',
  'class',
  'risk',
  'y',
];
const DATA_FILE = /\.(csv|asc|data|dat|tsv)(\.gz)?$/i;

function readTable(file: string): CsvTable {
  const raw = readFileSync(file);
  const text = file.endsWith('.gz') ? gunzipSync(raw).toString('utf8') : raw.toString('utf8');
  return parseCsv(text, path.basename(file));
}

function twoValued(table: CsvTable, col: number): boolean {
  const seen = new Set<string>();
  for (const r of table.rows) {
    const v = r[col];
    if (v === null || v === undefined) return false;
    seen.add(v);
    if (seen.size > 2) return false;
  }
  return seen.size === 2;
}

/** The label column: a known name that is two-valued, else the last two-valued column. */
export function guessLabel(table: CsvTable): string | undefined {
  const lower = table.header.map((h) => h.toLowerCase());
  for (const name of LABEL_NAMES) {
    const i = lower.indexOf(name);
    if (i >= 0 && twoValued(table, i)) return table.header[i];
  }
  for (let i = table.header.length - 1; i >= 0; i--) if (twoValued(table, i)) return table.header[i];
  return undefined;
}

function dataFiles(root: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(root).sort()) {
    const p = path.join(root, entry);
    if (statSync(p).isDirectory()) out.push(...dataFiles(p));
    else if (DATA_FILE.test(entry)) out.push(p);
  }
  return out;
}

function flag(argv: string[], name: string): string | undefined {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : undefined;
}

async function main(): Promise<number> {
  const argv = process.argv.slice(2);
  const root = path.resolve(
    process.env.CREDIT_DATA_DIR ?? path.join(process.cwd(), '..', 'shared', 'data', 'credit'),
  );
  const folds = Number(flag(argv, 'folds') ?? 5);
  const seed = Number(flag(argv, 'seed') ?? 42);
  const only = flag(argv, 'only');
  const kinds = (flag(argv, 'kinds')?.split(',') ?? [...TABULAR_KINDS]).filter((k) =>
    (TABULAR_KINDS as readonly string[]).includes(k),
  ) as (typeof TABULAR_KINDS)[number][];
  const say = (line: string): void => void process.stderr.write(`${line}\n`);
  const backend = await initBackend(parseConfig(riskBackendConfigSpec, process.env).tfBackend, say);
  let files: string[];
  try {
    files = dataFiles(root).filter((f) => only === undefined || f.includes(only));
  } catch (err) {
    say(`eval:credit: cannot read ${root}: ${errorMessage(err)}`);
    return 1;
  }
  if (files.length === 0) {
    say(`eval:credit: no data files under ${root}`);
    return 1;
  }
  const started = Date.now();
  const results: Record<string, unknown> = {};
  for (const file of files) {
    const name = path.basename(path.dirname(file));
    const t0 = Date.now();
    const table = readTable(file);
    const label = guessLabel(table);
    if (label === undefined) {
      say(`${name}: no two-valued label column; skipped`);
      continue;
    }
    const labelled = resolveSpec(table, {}, { label });
    say(
      `${name}: ${table.rows.length} rows, label ${label} (default = "${labelled.spec.positive}"), ${labelled.spec.features.length} feature columns; left out: ${labelled.spec.excluded.map((e) => `${e.name} (${e.reason})`).join(', ')}`,
    );
    let lastNote = 0;
    const cv = await crossValidate({
      table,
      labelled,
      folds,
      seed,
      kinds,
      finalKind: 'none',
      bootstrapIterations: 200,
      onProgress: (p) => {
        // One line per fold and kind start, and GBDT progress at most every 15 s.
        if ('note' in p && Date.now() - lastNote > 15_000) {
          lastNote = Date.now();
          say(`  fold ${p.fold}/${p.folds} ${p.kind}: ${p.note}`);
        } else if ('epoch' in p && p.epoch.epoch === 1) say(`  fold ${p.fold}/${p.folds} ${p.kind} training`);
      },
    });
    const seconds = (Date.now() - t0) / 1000;
    const models: Record<string, unknown> = {};
    say(`\n${name} (${seconds.toFixed(0)} s)`);
    say(
      `${'model'.padEnd(10)} ${'AUC'.padStart(6)} ${'KS'.padStart(6)} ${'Brier'.padStart(7)} ${'ECE'.padStart(7)} ${'ECE raw'.padStart(8)}`,
    );
    for (const m of cv.models) {
      say(
        `${m.kind.padEnd(10)} ${m.oofAuc.toFixed(4).padStart(6)} ${m.oofKs.toFixed(4).padStart(6)} ${m.oofBrier.toFixed(4).padStart(7)} ${m.oofEce.toFixed(4).padStart(7)} ${m.oofEceRaw.toFixed(4).padStart(8)}`,
      );
      models[m.kind] = {
        auc: round(m.oofAuc),
        ks: round(m.oofKs),
        brier: round(m.oofBrier),
        ece: round(m.oofEce),
        ece_raw: round(m.oofEceRaw),
        fold_auc_sd: round(m.sdFoldAuc),
      };
    }
    say('');
    results[name] = {
      file: path.basename(file),
      rows: cv.rows,
      positives: cv.positives,
      label,
      excluded: labelled.spec.excluded.filter((e) => e.name !== label).map((e) => e.name),
      duration_s: Math.round(seconds),
      models,
    };
  }
  process.stdout.write(
    `${JSON.stringify({ folds, seed, backend, duration_s: Math.round((Date.now() - started) / 1000), datasets: results })}\n`,
  );
  return 0;
}

const round = (x: number): number => Math.round(x * 1e4) / 1e4;

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`eval:credit: ${errorMessage(err)}\n`);
    process.exit(1);
  },
);
