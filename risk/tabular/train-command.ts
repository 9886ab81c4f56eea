import { createHash } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { EXIT, formatHelp, parseFlags, UsageError, type CommandHelp } from '../../core/cli.js';
import { parseConfig } from '../../core/config.js';
import { errorMessage, RiskfuseError } from '../../core/errors.js';
import { calibrationFlags } from '../calibration-flags.js';
import { initBackend, riskBackendConfigSpec } from '../model/backend.js';
import { DEFAULT_PD_FLOOR, type CalibrationMethod } from '../model/calibration.js';
import { crossValidate, DEFAULT_KINDS, type CvProgress, type TrainSettings } from './cross-validate.js';
import { parseCsv } from './csv.js';
import { TABULAR_KINDS, type TabularKind } from './models.js';
import { buildReport, reportMarkdown, summaryText, type ByoModelFile } from './report.js';
import { parseSpecText, resolveSpec, type TabularSpec } from './spec.js';

/**
 * `riskfuse train`: cross-validates the risk model and its logistic baseline on a lender's own historical
 * table (online inputs only: there is no device data), then trains the final model on all rows and saves it
 * with its encoder, so new rows in the same layout can be scored.
 */
export const trainHelp: CommandHelp = {
  brief: 'train and cross-validate the risk model on your own tabular data (CSV)',
  usage:
    'riskfuse train --data FILE.csv --label COLUMN [--spec spec.json] [--positive VALUE] [--kinds LIST] [--final KIND] [--folds K] [--seed N] [--out DIR] [--quiet]',
  summary: [
    "Train the risk model on a lender's historical tabular data: stratified k-fold cross-validation of the",
    'logistic baseline, the MLP, a WoE scorecard, gradient-boosted trees and their ensemble (pooled out-of-fold',
    'AUC, KS, Brier, ECE and reliability; paired bootstrap CI of the best kind against logistic), then a final',
    'model on all rows, saved with its encoder and recalibration. Hyper-parameters, early stopping and the',
    "recalibration use a holdout of each training fold, never the fold's test rows. Heavy-tailed numbers are",
    'winsorised (and log-scaled); id-like columns (distinct on every row) are left out and named in the report.',
    'The delimiter (, ; tab or runs of spaces) is detected from the header; empty, NA, NaN, null and ? are',
    'missing. Without a spec, a column whose values are all numbers with more than 10 distinct values is',
    'numeric, any other column categorical. The label needs exactly two values; the minority one means',
    'default unless --positive (or "positive" in the spec) says otherwise.',
    'Writes DIR/byo-<name>.json (report), .md (the same as a table) and .model.json (model + encoder).',
  ].join('\n'),
  options: [
    ['--data FILE', 'the table (required)'],
    ['--label COL', 'label column (required unless the spec has "label")'],
    [
      '--spec FILE',
      'JSON spec: label, positive, id, per-column type (numeric|categorical|ignore) and missing',
    ],
    ['--positive VALUE', 'label value meaning default/bad (default: the minority class)'],
    ['--folds K', 'cross-validation folds (default 5)'],
    ['--seed N', 'seed for splits, training and bootstrap (default 42)'],
    ['--kinds LIST', `comma-separated model kinds to cross-validate (default ${DEFAULT_KINDS.join(',')})`],
    [
      '--final KIND',
      `model saved at the end: best (default: highest OOF AUC) or one of ${TABULAR_KINDS.join(', ')}`,
    ],
    [
      '--calibration M',
      'recalibration fitted on the holdout: platt (default), platt-hazard, isotonic or none',
    ],
    ['--pd-floor P', `lowest PD reported (default ${DEFAULT_PD_FLOOR}, the Basel 0.03 % floor)`],
    ['--max-epochs N', 'cap on training epochs per model (default: the model layer’s)'],
    ['--out DIR', 'where to write the report and the model (default reports/)'],
    ['--quiet', 'no progress lines on stderr'],
    ['-h, --help', 'show this help'],
  ],
  env: [riskBackendConfigSpec],
};

const FLAGS = {
  data: { type: 'string' },
  label: { type: 'string' },
  spec: { type: 'string' },
  positive: { type: 'string' },
  folds: { type: 'string' },
  seed: { type: 'string' },
  final: { type: 'string' },
  kinds: { type: 'string' },
  calibration: { type: 'string' },
  'pd-floor': { type: 'string' },
  'max-epochs': { type: 'string' },
  out: { type: 'string' },
  quiet: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

export interface TrainCommandOptions {
  readonly stdout?: (text: string) => void;
  readonly stderr?: (text: string) => void;
  /** Extra training settings (tests use them to keep runs short). */
  readonly train?: TrainSettings;
  /** Paired bootstrap resamples; default 1000. */
  readonly bootstrapIterations?: number;
  readonly now?: () => Date;
}

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

function intFlag(name: string, raw: string | undefined, min: number): number | undefined {
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (raw.trim() === '' || !Number.isInteger(n) || n < min)
    throw new UsageError(`--${name} must be an integer ≥ ${min}, got ${JSON.stringify(raw)}`);
  return n;
}

interface Args {
  readonly data: string;
  readonly label?: string;
  readonly spec?: string;
  readonly positive?: string;
  readonly folds: number;
  readonly seed: number;
  readonly final: TabularKind | 'best';
  readonly kinds: readonly TabularKind[];
  readonly calibration: CalibrationMethod;
  readonly pdFloor: number;
  readonly maxEpochs?: number;
  readonly out: string;
  readonly quiet: boolean;
}

function parseArgs(argv: string[]): Args | 'help' {
  const { values, positionals } = parseFlags(argv, FLAGS);
  if (values.help === true) return 'help';
  if (positionals.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[0])}`);
  const data = str(values.data);
  if (data === undefined || data === '') throw new UsageError('--data FILE is required');
  const isKind = (k: string): k is TabularKind => (TABULAR_KINDS as readonly string[]).includes(k);
  const final = str(values.final) ?? 'best';
  if (final !== 'best' && !isKind(final))
    throw new UsageError(
      `--final must be best or one of ${TABULAR_KINDS.join(', ')}, got ${JSON.stringify(final)}`,
    );
  const kindList = str(values.kinds)
    ?.split(',')
    .map((k) => k.trim()) ?? [...DEFAULT_KINDS];
  const badKind = kindList.find((k) => !isKind(k));
  if (badKind !== undefined || kindList.length === 0)
    throw new UsageError(
      `--kinds takes a comma-separated list of ${TABULAR_KINDS.join(', ')}, got ${JSON.stringify(str(values.kinds))}`,
    );
  const { calibration, pdFloor } = calibrationFlags(str(values.calibration), str(values['pd-floor']));
  const label = str(values.label);
  const spec = str(values.spec);
  const positive = str(values.positive);
  const maxEpochs = intFlag('max-epochs', str(values['max-epochs']), 1);
  return {
    data,
    ...(label === undefined ? {} : { label }),
    ...(spec === undefined ? {} : { spec }),
    ...(positive === undefined ? {} : { positive }),
    folds: intFlag('folds', str(values.folds), 2) ?? 5,
    seed: intFlag('seed', str(values.seed), 0) ?? 42,
    final,
    kinds: [...new Set(kindList as TabularKind[])],
    calibration,
    pdFloor,
    ...(maxEpochs === undefined ? {} : { maxEpochs }),
    out: str(values.out) ?? 'reports',
    quiet: values.quiet === true,
  };
}

async function readText(file: string, what: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    throw new RiskfuseError('VALIDATION_FAILED', `cannot read ${what} ${file}: ${errorMessage(err)}`, {
      cause: err,
    });
  }
}

function progressLine(p: CvProgress): string | undefined {
  const where = p.phase === 'fold' ? `fold ${p.fold}/${p.folds}` : 'final';
  if ('note' in p) return `${where} ${p.kind.padEnd(9)} ${p.note}`;
  const e = p.epoch;
  // The first and every 10th epoch, so a run prints tens of lines, not thousands.
  if (e.epoch % 10 !== 0 && e.epoch !== 1) return undefined;
  return `${where} ${p.kind.padEnd(8)} epoch ${String(e.epoch).padStart(3)}  loss ${e.loss.toFixed(4)}  val loss ${e.valLoss.toFixed(4)}  val AUC ${e.valAuc.toFixed(3)}${e.best ? ' *' : ''}`;
}

export async function trainCommand(
  argv: string[],
  env: Record<string, string | undefined>,
  options: TrainCommandOptions = {},
): Promise<number> {
  const stdout = options.stdout ?? ((t: string) => void process.stdout.write(t));
  const stderr = options.stderr ?? ((t: string) => void process.stderr.write(t));

  let args: Args;
  try {
    const parsed = parseArgs(argv);
    if (parsed === 'help') {
      stdout(`${formatHelp(trainHelp)}\n`);
      return EXIT.ok;
    }
    args = parsed;
  } catch (err) {
    if (err instanceof UsageError) {
      stderr(`riskfuse train: ${err.message}\n(run with --help for usage)\n`);
      return EXIT.usage;
    }
    throw err;
  }

  try {
    const config = parseConfig(riskBackendConfigSpec, env);
    const text = await readText(args.data, 'data file');
    const table = parseCsv(text, args.data);
    let spec: TabularSpec = {};
    if (args.spec !== undefined) spec = parseSpecText(await readText(args.spec, 'spec'), args.spec);
    if (args.label === undefined && spec.label === undefined) {
      stderr(
        'riskfuse train: --label COLUMN is required (or "label" in the spec)\n(run with --help for usage)\n',
      );
      return EXIT.usage;
    }
    const labelled = resolveSpec(table, spec, {
      ...(args.label === undefined ? {} : { label: args.label }),
      ...(args.positive === undefined ? {} : { positive: args.positive }),
    });

    const backend = await initBackend(config.tfBackend, (note) => stderr(`riskfuse train: ${note}\n`));
    if (!args.quiet) {
      const { spec: s } = labelled;
      const numeric = s.features.filter((f) => f.type === 'numeric').length;
      stderr(
        `riskfuse train: ${table.rows.length} rows from ${args.data}; label ${s.label} (default = "${s.positive}"); ${numeric} numeric and ${s.features.length - numeric} categorical columns; backend ${backend}\n`,
      );
    }

    const cv = await crossValidate({
      table,
      labelled,
      folds: args.folds,
      seed: args.seed,
      finalKind: args.final,
      kinds: args.kinds,
      calibration: args.calibration,
      pdFloor: args.pdFloor,
      train: { ...options.train, ...(args.maxEpochs === undefined ? {} : { maxEpochs: args.maxEpochs }) },
      ...(options.bootstrapIterations === undefined
        ? {}
        : { bootstrapIterations: options.bootstrapIterations }),
      onProgress: (p) => {
        if (args.quiet) return;
        const line = progressLine(p);
        if (line !== undefined) stderr(`${line}\n`);
      },
    });

    const final = cv.final;
    if (final === undefined) throw new RiskfuseError('INTERNAL', 'cross-validation returned no final model');
    try {
      const createdAt = (options.now?.() ?? new Date()).toISOString();
      const data = {
        file: path.basename(args.data),
        sha256: createHash('sha256').update(text).digest('hex'),
        rows: table.rows.length,
        delimiter: table.delimiter,
      };
      const report = buildReport({ ...cv, final }, labelled.spec, data, createdAt);
      const modelFile: ByoModelFile = {
        format: 'riskfuse-byo-model/2',
        createdAt,
        data,
        label: labelled.spec.label,
        positive: labelled.spec.positive,
        negative: labelled.spec.negative,
        ...(labelled.spec.id === undefined ? {} : { id: labelled.spec.id }),
        encoder: final.encoder.toJSON(),
        model: final.model.toJSON(),
        calibration: final.calibration,
        pdFloor: cv.pdFloor,
      };
      const base = path.join(args.out, `byo-${path.basename(args.data).replace(/\.[^.]*$/, '')}`);
      await mkdir(args.out, { recursive: true });
      const files = [`${base}.json`, `${base}.md`, `${base}.model.json`] as const;
      await writeFile(files[0], `${JSON.stringify(report, null, 2)}\n`);
      await writeFile(files[1], reportMarkdown(report));
      await writeFile(files[2], `${JSON.stringify(modelFile)}\n`);
      stdout(`${summaryText(report)}\n\nwrote ${files.join(', ')}\n`);
    } finally {
      final.model.dispose();
    }
    return EXIT.ok;
  } catch (err) {
    if (err instanceof RiskfuseError) {
      stderr(`riskfuse train: ${err.message}\n`);
      return EXIT.failure;
    }
    throw err;
  }
}
