import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { EXIT, formatHelp, parseFlags, UsageError, type CommandHelp } from '../core/cli.js';
import { parseConfig } from '../core/config.js';
import { errorMessage, RiskfuseError } from '../core/errors.js';
import { silentLogger } from '../core/logger.js';
import { openState, stateConfigSpec } from '../core/state/index.js';
import { calibrationFlags } from '../risk/calibration-flags.js';
import { DEFAULT_CALIBRATION, DEFAULT_PD_FLOOR } from '../risk/model/calibration.js';
import { creditGroundTruth } from '../simulators/index.js';
import {
  creditConfigSpec,
  creditMarkdown,
  creditParams,
  evaluate,
  evaluateCredit,
  FEATURE_NAMES,
  FEATURE_SPEC_VERSION,
  initBackend,
  loadPortfolio,
  ModelRegistry,
  riskBackendConfigSpec,
  riskConfigSpec,
  modelDir,
  RISK_MODEL_FORMAT,
  writeEvaluationReport,
  type FeatureRow,
  type RiskModelFile,
} from '../risk/index.js';
import { DEFAULT_FRAUD_RATE_PER_YEAR, openTrainingWorld } from './training-world.js';

function writeRows(path: string, rows: readonly FeatureRow[]): void {
  const tmp = `${path}.tmp`;
  writeFileSync(
    tmp,
    JSON.stringify(
      rows.map((r) => ({ ...r, values: Array.from(r.values, (v) => (Number.isNaN(v) ? null : v)) })),
    ),
  );
  renameSync(tmp, path);
}

function readRows(path: string): FeatureRow[] {
  const raw = JSON.parse(readFileSync(path, 'utf8')) as (Omit<FeatureRow, 'values'> & {
    values: (number | null)[];
  })[];
  return raw.map((r) => ({ ...r, values: Float64Array.from(r.values, (v) => v ?? Number.NaN) }));
}

/**
 * `riskfuse evaluate`: builds (or reuses) a simulated lender's history, extracts point-in-time features from
 * its stores, trains the fused, online-only and logistic models on one split and writes the report.
 */
export const evaluateHelp: CommandHelp = {
  usage:
    'riskfuse evaluate [--borrowers N] [--months M] [--seed N] [--horizon-days H] [--population performing|all]\n' +
    '                         [--fraud-rate X] [--calibration platt-hazard|platt|isotonic|none] [--pd-floor P]\n' +
    '                         [--out DIR] [--cache-dir DIR] [--register] [--write-default FILE]',
  brief:
    'train the fused, online-only and logistic models on a simulated history and write the evaluation report',
  summary:
    'Simulates a lender (default 2,000 borrowers × 18 months, built once and cached), extracts features from its\n' +
    'stores at weekly dates, trains the models on one borrower/out-of-time split and writes\n' +
    'reports/evaluation.json, .md and ROC/reliability plots (SVG). --register adds the models to the registry\n' +
    'under DATA_DIR (the fused one becomes champion when there is none).',
  options: [
    ['--borrowers N', 'simulated borrowers (default 2000)'],
    ['--months M', 'months of history (default 18)'],
    ['--seed N', 'world and training seed (default 42)'],
    ['--horizon-days H', 'default within H days is the event (default 180)'],
    ['--fraud-rate X', 'collateral frauds per borrower-year in the simulated world (default 0.05; 0 = none)'],
    ['--population P', 'performing (≤ 30 days past due at t, default) or all (not yet in default)'],
    ['--out DIR', 'report folder (default reports)'],
    ['--cache-dir DIR', 'where simulated histories are kept (default DATA_DIR/eval)'],
    ['--max-epochs N', 'cap on training epochs (default 100, early stopping usually ends sooner)'],
    ['--hidden A,B', 'hidden layer widths of the networks (default 32,16)'],
    ['--l2 X', 'L2 penalty on the networks’ weights (default 1e-4)'],
    ['--dropout X', 'dropout rate of the networks (default 0)'],
    [
      '--calibration M',
      'recalibration fitted on the validation borrowers before the split: platt-hazard (Platt with a background hazard for causes not yet visible at t; default), platt, isotonic or none',
    ],
    ['--pd-floor P', 'lowest PD the models report (default RISK_PD_FLOOR: 0.0003, the Basel 0.03 % floor)'],
    ['--register', 'add the trained models to the registry'],
    ['--write-default FILE', 'also write the fused model file (the shipped default model)'],
    ['-h, --help', 'show this help'],
  ],
  env: [stateConfigSpec, riskConfigSpec, riskBackendConfigSpec, creditConfigSpec],
};

const FLAGS = {
  borrowers: { type: 'string' },
  months: { type: 'string' },
  seed: { type: 'string' },
  'horizon-days': { type: 'string' },
  'fraud-rate': { type: 'string' },
  population: { type: 'string' },
  out: { type: 'string' },
  'cache-dir': { type: 'string' },
  'max-epochs': { type: 'string' },
  hidden: { type: 'string' },
  l2: { type: 'string' },
  dropout: { type: 'string' },
  calibration: { type: 'string' },
  'pd-floor': { type: 'string' },
  register: { type: 'boolean' },
  'write-default': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

const pct = (x: number): string => (Number.isFinite(x) ? `${(x * 100).toFixed(1)} %` : '–');

function intFlag(name: string, v: unknown, dflt: number, min: number, max: number): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (typeof v !== 'string' || !Number.isInteger(n) || n < min || n > max) {
    throw new UsageError(`--${name} must be an integer from ${min} to ${max}, got ${JSON.stringify(v)}`);
  }
  return n;
}

export async function evaluateCommand(
  argv: string[],
  env: Record<string, string | undefined>,
): Promise<number> {
  const err = (s: string): boolean => process.stderr.write(`${s}\n`);
  let opts;
  try {
    const { values, positionals } = parseFlags(argv, FLAGS);
    if (values.help === true) {
      process.stdout.write(`${formatHelp(evaluateHelp)}\n`);
      return EXIT.ok;
    }
    if (positionals.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[0])}`);
    const population: unknown = values.population ?? 'performing';
    if (population !== 'performing' && population !== 'all') {
      throw new UsageError(`--population must be performing or all, got ${JSON.stringify(population)}`);
    }
    const pop: 'performing' | 'all' = population;
    const network: { hidden?: number[]; l2?: number; dropout?: number } = {};
    if (typeof values.hidden === 'string') {
      const h = values.hidden.split(',').map(Number);
      if (h.length === 0 || h.some((v) => !Number.isInteger(v) || v < 1 || v > 1024)) {
        throw new UsageError(`--hidden must be comma-separated widths from 1 to 1024, got ${values.hidden}`);
      }
      network.hidden = h;
    }
    for (const key of ['l2', 'dropout'] as const) {
      const raw = values[key];
      if (typeof raw !== 'string') continue;
      const v = Number(raw);
      if (!Number.isFinite(v) || v < 0 || v >= 1)
        throw new UsageError(`--${key} must be a number in [0, 1), got ${raw}`);
      network[key] = v;
    }
    const fraudRaw = values['fraud-rate'];
    const fraudRate = fraudRaw === undefined ? DEFAULT_FRAUD_RATE_PER_YEAR : Number(fraudRaw);
    if (!(fraudRate >= 0 && fraudRate <= 1)) {
      throw new UsageError(`--fraud-rate must be a number from 0 to 1, got ${JSON.stringify(fraudRaw)}`);
    }
    const calibrationRaw = typeof values.calibration === 'string' ? values.calibration : undefined;
    const floorRaw = typeof values['pd-floor'] === 'string' ? values['pd-floor'] : undefined;
    calibrationFlags(calibrationRaw, floorRaw, DEFAULT_PD_FLOOR, DEFAULT_CALIBRATION); // refused here, before the config is read
    opts = {
      calibrationRaw,
      floorRaw,
      fraudRate,
      borrowers: intFlag('borrowers', values.borrowers, 2000, 20, 100_000),
      months: intFlag('months', values.months, 18, 8, 60),
      seed: intFlag('seed', values.seed, 42, 0, 2 ** 31 - 1),
      horizonDays: intFlag('horizon-days', values['horizon-days'], 180, 30, 365),
      maxEpochs: intFlag('max-epochs', values['max-epochs'], 100, 1, 10_000),
      population: pop,
      network,
      out: typeof values.out === 'string' ? values.out : 'reports',
      cacheDir: typeof values['cache-dir'] === 'string' ? values['cache-dir'] : undefined,
      register: values.register === true,
      writeDefault: typeof values['write-default'] === 'string' ? values['write-default'] : undefined,
    };
  } catch (e) {
    if (e instanceof UsageError) {
      err(`riskfuse evaluate: ${e.message}\n(run with --help for usage)`);
      return EXIT.usage;
    }
    throw e;
  }
  let config;
  try {
    config = parseConfig(
      { ...stateConfigSpec, ...riskConfigSpec, ...riskBackendConfigSpec, ...creditConfigSpec },
      env,
    );
  } catch (e) {
    err(`riskfuse evaluate: ${errorMessage(e)}`);
    return EXIT.failure;
  }
  // RISK_PD_FLOOR is the floor unless --pd-floor says otherwise (values checked with the flags above).
  const { calibration, pdFloor } = calibrationFlags(
    opts.calibrationRaw,
    opts.floorRaw,
    config.pdFloor,
    DEFAULT_CALIBRATION,
  );
  const started = Date.now();
  const backend = await initBackend(config.tfBackend, (note) => err(note));
  err(`riskfuse evaluate: TensorFlow.js backend ${backend}`);
  const world = await openTrainingWorld({
    seed: opts.seed,
    borrowers: opts.borrowers,
    months: opts.months,
    fraudRatePerYear: opts.fraudRate,
    cacheDir: opts.cacheDir ?? join(config.dataDir, 'eval'),
    log: silentLogger,
    onProgress: err,
  });
  try {
    const portfolio = await loadPortfolio(world.stateStore);
    // Features depend only on the stored history and the feature code: cache them beside the history.
    const cachePath = join(world.dir, `features-v${FEATURE_SPEC_VERSION}-${FEATURE_NAMES.length}.json`);
    const cached = existsSync(cachePath) ? readRows(cachePath) : undefined;
    if (cached !== undefined) err(`reusing feature rows from ${cachePath}`);
    const { result, models, rows, test, labelled } = await evaluate({
      ...(cached === undefined ? {} : { rows: cached }),
      telemetryStore: world.telemetryStore,
      portfolio,
      fromMs: world.fromMs,
      toMs: world.toMs,
      horizonDays: opts.horizonDays,
      population: opts.population,
      seed: opts.seed,
      maxEpochs: opts.maxEpochs,
      network: opts.network,
      calibration,
      pdFloor,
      onProgress: err,
    });
    if (cached === undefined) writeRows(cachePath, rows);
    // Credit: EL against the losses the world really realised (its ground truth), and what the stakes saw of
    // the frauds before their defaults.
    err('computing the credit figures (EL vs realised loss, fraud coverage lead)');
    const truth = creditGroundTruth(world.world, world.toMs);
    const credit = await evaluateCredit({
      telemetry: world.telemetryStore,
      portfolio,
      testRows: test.rows,
      historyRows: labelled,
      fusedPd: test.fusedPd,
      truth: truth.defaults,
      horizonDays: opts.horizonDays,
      splitMs: result.setup.splitMs,
      toMs: world.toMs,
      params: creditParams(config),
    });
    const paths = writeEvaluationReport(opts.out, result, {
      notes: [
        `Simulated lender: ${opts.borrowers} borrowers, ${opts.months} months from ${new Date(world.fromMs).toISOString().slice(0, 10)}, seed ${opts.seed}, ${world.readings.toLocaleString('en')} readings (stakes every 6 h, helmets every 2 h).`,
        `Collateral frauds per borrower-year: ${opts.fraudRate} (${truth.frauds.size} frauds in the history).`,
        `TensorFlow.js backend: ${backend}. Wall time ${Math.round((Date.now() - started) / 1000)} s.`,
      ],
      credit: { json: credit, markdown: creditMarkdown(credit) },
    });
    const fused = models.find((m) => m.name === 'fused-mlp');
    const files: RiskModelFile[] = models.map((m) => ({
      format: RISK_MODEL_FORMAT,
      name: m.name,
      horizonDays: opts.horizonDays,
      population: opts.population,
      imputer: m.imputer,
      artifact: m.classifier.toArtifact(),
      calibration: m.calibration,
      pdFloor: m.pdFloor,
      reference: m.reference,
      dataHash: result.setup.dataHash,
      backend,
      createdAt: Date.now(),
      metrics: (() => {
        const r = result.models.find((x) => x.name === m.name);
        return r === undefined
          ? {}
          : {
              auc: r.auc,
              ks: r.ks,
              brier: r.brier,
              ece: r.ece,
              eceBeforeRecalibration: r.eceRaw,
              maxDecileRatio: r.maxDecileRatio,
              prAuc: r.prAuc,
              medianLeadDays: r.leadTime.medianSustainedDays,
              report: resolve(paths.json),
            };
      })(),
    }));
    if (opts.writeDefault !== undefined && fused !== undefined) {
      writeFileSync(opts.writeDefault, `${JSON.stringify(files.find((f) => f.name === 'fused-mlp'))}\n`);
      err(`default model written to ${opts.writeDefault}`);
    }
    if (opts.register) {
      const state = await openState(config, silentLogger, 'riskfuse-evaluate');
      try {
        const registry = new ModelRegistry(state.models, modelDir(config));
        const hadChampion = (await registry.championRecord()) !== undefined;
        for (const f of files) {
          const rec = await registry.register(f, { activate: !hadChampion && f.name === 'fused-mlp' });
          err(`registered ${rec.version} ${rec.name} (${rec.status})`);
        }
      } finally {
        await state.close();
      }
    }
    for (const m of models) m.classifier.dispose();
    const underModel = (grade: string): string => {
      const n = credit.elUnderModel.bands.find((b) => b.grade === grade);
      const signed = (x: number) => `${x >= 0 ? '+' : ''}${(x * 100).toFixed(0)} %`;
      return n === undefined
        ? ''
        : `; 95 % range if the model were right ${signed(n.low)} to ${signed(n.high)}`;
    };
    const f = result.models.find((m) => m.name === 'fused-mlp');
    const o = result.models.find((m) => m.name === 'online-mlp');
    process.stdout.write(
      [
        `fused-mlp AUC ${f?.auc.toFixed(3)}  online-mlp AUC ${o?.auc.toFixed(3)}  lift ${result.lift.estimate.toFixed(3)} [${result.lift.lo.toFixed(3)}, ${result.lift.hi.toFixed(3)}]`,
        `median lead time (sustained): fused ${f?.leadTime.medianSustainedDays} d, online ${o?.leadTime.medianSustainedDays} d`,
        `fused-mlp calibration, test period: ECE ${f?.ece.toFixed(4)}, worst decile ${f?.maxDecileRatio.toFixed(2)}x (${result.setup.testDefaulters} defaulting borrowers)` +
          (result.pooled === undefined
            ? ''
            : `; every borrower out of fold: ECE ${result.pooled.ece.toFixed(4)}, worst decile ${result.pooled.maxDecileRatio.toFixed(2)}x (${result.pooled.defaultingBorrowers} defaulting borrowers, ${(100 * result.pooled.worstUnderCalibration.pValue).toFixed(1)} % of exactly-right draws as far off)`),
        ...credit.elVsLoss.bands.map(
          (b) =>
            `EL vs realised loss, grade ${b.grade}: ${Math.round(b.el).toLocaleString('en')} vs ${Math.round(b.loss).toLocaleString('en')} (${b.defaults} defaulting borrowers${b.error === undefined ? '' : `, ${b.error >= 0 ? '+' : ''}${(b.error * 100).toFixed(1)} %`}${underModel(b.grade)})`,
        ),
        `bands ${credit.elUnderModel.judged.join(', ')} all within ±${(credit.elUnderModel.tolerance * 100).toFixed(0)} % at once if PDs and LGDs were exactly right: ${(credit.elUnderModel.shareAllWithin * 100).toFixed(1)} % of ${credit.elUnderModel.draws} draws`,
        `EL vs realised loss, total: ${Math.round(credit.elVsLoss.total.el).toLocaleString('en')} vs ${Math.round(credit.elVsLoss.total.loss).toLocaleString('en')}${credit.elVsLoss.total.error === undefined ? '' : ` (${(credit.elVsLoss.total.error * 100).toFixed(1)} %${underModel('all')})`}`,
        `  PD part: Σ PD × EAD ${Math.round(credit.elVsLoss.total.expectedDefaultedEad).toLocaleString('en')} vs defaulted EAD ${Math.round(credit.elVsLoss.total.defaultedEad).toLocaleString('en')}; LGD part: ${pct(credit.elVsLoss.total.el / credit.elVsLoss.total.expectedDefaultedEad)} predicted vs ${pct(credit.elVsLoss.total.loss / credit.elVsLoss.total.defaultedEad)} realised`,
        credit.lgdFit === undefined
          ? 'LGD at default: no default to fit on (configured parameters used)'
          : `LGD at default fitted on ${credit.lgdFit.defaults} defaults (none of a test borrower after the split): collateral at default ${credit.lgdFit.collateralAtDefault.toFixed(2)} of verified, unsecured LGD ${credit.lgdFit.unsecuredLgd.toFixed(2)}`,
        `EL total with the configured LGD ${Math.round(credit.configured.el).toLocaleString('en')}, with the collateral as seen at t ${Math.round(credit.collateralAsSeen.el).toLocaleString('en')}`,
        `fraud defaulters whose verified coverage dropped before default: ${credit.fraudLead.droppedBefore}/${credit.fraudLead.fraudDefaulters}, median lead ${credit.fraudLead.medianLeadDays} d`,
        `report: ${paths.markdown}`,
        `        ${paths.json}`,
        `plots:  ${paths.roc}`,
        `        ${paths.reliability}`,
        '',
      ].join('\n'),
    );
    return EXIT.ok;
  } catch (e) {
    if (e instanceof RiskfuseError && e.code === 'VALIDATION_FAILED') {
      err(`riskfuse evaluate: ${e.message}`);
      return EXIT.failure;
    }
    throw e;
  } finally {
    await world.close();
  }
}
