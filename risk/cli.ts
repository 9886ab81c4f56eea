import { EXIT, formatHelp, parseFlags, UsageError, type CommandHelp } from '../core/cli.js';
import { parseConfig } from '../core/config.js';
import { errorMessage, RiskfuseError } from '../core/errors.js';
import { silentLogger } from '../core/logger.js';
import { loggingConfigSpec } from '../core/logging-config.js';
import { openState, stateConfigSpec } from '../core/state/index.js';
import { openTelemetryStore } from '../core/storage/open-telemetry-store.js';
import { telemetryConfigSpec } from '../core/storage/telemetry-config.js';
import { createRisk } from './app.js';
import { modelDir, riskConfigSpec } from './config.js';
import { riskBackendConfigSpec } from './model/backend.js';
import { ModelRegistry } from './registry.js';

/** `riskfuse models list|show|activate|retire` and `riskfuse score`. */
export const modelsHelp: CommandHelp = {
  usage: 'riskfuse models list | show VERSION | activate VERSION | retire VERSION   [--json]',
  brief: 'the model registry: list versions, show one, make one the champion, retire one',
  summary:
    'Lists the registered model versions with status (champion / challenger / retired), metrics and training-data\n' +
    'hash; `activate` makes a version the champion (the previous one keeps scoring in shadow as a challenger).',
  options: [
    ['--json', 'print JSON instead of a table'],
    ['-h, --help', 'show this help'],
  ],
  env: [riskConfigSpec, stateConfigSpec],
};

export async function modelsCommand(
  argv: string[],
  env: Record<string, string | undefined>,
): Promise<number> {
  let action: string;
  let version: string | undefined;
  let json = false;
  try {
    const { values, positionals } = parseFlags(argv, {
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    });
    if (values.help === true) {
      process.stdout.write(`${formatHelp(modelsHelp)}\n`);
      return EXIT.ok;
    }
    json = values.json === true;
    [action = 'list', version] = positionals;
    if (!['list', 'show', 'activate', 'retire'].includes(action))
      throw new UsageError(`unknown action ${JSON.stringify(action)}`);
    if (action !== 'list' && version === undefined)
      throw new UsageError(`${action} needs a VERSION (see riskfuse models list)`);
    if (positionals.length > (action === 'list' ? 1 : 2))
      throw new UsageError(`unexpected argument ${JSON.stringify(positionals.at(-1))}`);
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`riskfuse models: ${err.message}\n(run with --help for usage)\n`);
      return EXIT.usage;
    }
    throw err;
  }
  const config = parseConfig({ ...riskConfigSpec, ...stateConfigSpec }, env);
  const state = await openState(config, silentLogger, 'riskfuse-models');
  try {
    const registry = new ModelRegistry(state.models, modelDir(config), { pdFloor: config.pdFloor });
    const out = (s: string): boolean => process.stdout.write(`${s}\n`);
    if (action === 'list') {
      const list = await registry.list();
      if (json) out(JSON.stringify(list, null, 2));
      else if (list.length === 0)
        out('no models registered (npm start installs the default; riskfuse evaluate --register adds more)');
      else {
        out('version  status      name              created (UTC)      AUC    data hash');
        for (const m of list) {
          const auc = (m.meta.metrics as { auc?: number } | undefined)?.auc;
          out(
            `${m.version.padEnd(8)} ${m.status.padEnd(11)} ${m.name.padEnd(17)} ${new Date(m.createdAt).toISOString().slice(0, 16).replace('T', ' ')}  ${auc === undefined ? '  n/a' : auc.toFixed(3)}  ${m.dataHash}`,
          );
        }
      }
      return EXIT.ok;
    }
    const v = version as string;
    if (action === 'show') {
      const m = await registry.get(v);
      if (m === undefined) throw new RiskfuseError('NOT_FOUND', `no model version ${v}`);
      out(JSON.stringify(m, null, 2));
      return EXIT.ok;
    }
    if (action === 'activate') {
      const m = await registry.activate(v);
      out(`${m.version} (${m.name}) is now the champion`);
      return EXIT.ok;
    }
    await registry.retire(v);
    out(`${v} retired`);
    return EXIT.ok;
  } catch (err) {
    if (err instanceof RiskfuseError && (err.code === 'NOT_FOUND' || err.code === 'CONFLICT')) {
      process.stderr.write(`riskfuse models: ${err.message}\n`);
      return EXIT.failure;
    }
    throw err;
  } finally {
    await state.close();
  }
}

export const scoreHelp: CommandHelp = {
  usage: 'riskfuse score [--borrower ID]... [--top N] [--json]',
  brief:
    'score the portfolio (or some borrowers) now with the champion, store the scores and print the riskiest',
  summary:
    'Runs one scoring pass against the stores under DATA_DIR (or InfluxDB): features at this instant, the champion\n' +
    'model, challengers in shadow; stores every score and prints the riskiest borrowers with their top reasons.',
  options: [
    ['--borrower ID', 'score only this borrower (repeatable)'],
    ['--top N', 'how many to print (default 10)'],
    ['--json', 'print the scores as JSON'],
    ['-h, --help', 'show this help'],
  ],
  env: [riskConfigSpec, riskBackendConfigSpec, telemetryConfigSpec, stateConfigSpec],
};

export async function scoreCommand(argv: string[], env: Record<string, string | undefined>): Promise<number> {
  let ids: string[] | undefined;
  let top = 10;
  let json = false;
  try {
    const { values, positionals } = parseFlags(argv, {
      borrower: { type: 'string', multiple: true },
      top: { type: 'string' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    });
    if (values.help === true) {
      process.stdout.write(`${formatHelp(scoreHelp)}\n`);
      return EXIT.ok;
    }
    if (positionals.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[0])}`);
    if (Array.isArray(values.borrower))
      ids = values.borrower.filter((b): b is string => typeof b === 'string');
    if (values.top !== undefined) {
      top = Number(values.top);
      if (!Number.isInteger(top) || top < 1)
        throw new UsageError(`--top must be a positive integer, got ${String(values.top)}`);
    }
    json = values.json === true;
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`riskfuse score: ${err.message}\n(run with --help for usage)\n`);
      return EXIT.usage;
    }
    throw err;
  }
  const config = parseConfig(
    {
      ...riskConfigSpec,
      ...riskBackendConfigSpec,
      ...telemetryConfigSpec,
      ...stateConfigSpec,
      ...loggingConfigSpec,
    },
    env,
  );
  const state = await openState(config, silentLogger, 'riskfuse-score');
  const telemetry = await openTelemetryStore(config, silentLogger).catch(async (err: unknown) => {
    await state.close();
    throw err;
  });
  try {
    const unknown: string[] = [];
    for (const id of ids ?? []) if ((await state.portfolio.getBorrower(id)) === undefined) unknown.push(id);
    if (unknown.length > 0) {
      process.stderr.write(`riskfuse score: unknown borrower ${unknown.join(', ')}\n`);
      return EXIT.failure;
    }
    const risk = await createRisk({ config, state, telemetry, log: silentLogger });
    const run =
      ids === undefined
        ? await risk.scoring.scorePortfolio('on-demand')
        : await risk.scoring.scoreBorrowers(ids, 'on-demand');
    await risk.close();
    if (run.modelVersion === undefined) {
      process.stderr.write(
        'riskfuse score: no champion model; run riskfuse evaluate --register or npm start once\n',
      );
      return EXIT.failure;
    }
    const scores = (
      await state.scores.latestScores({
        modelVersion: run.modelVersion,
        ...(ids === undefined ? {} : { borrowerIds: ids }),
      })
    )
      .filter((s) => s.at === run.at)
      .sort((a, b) => b.pd - a.pd)
      .slice(0, top);
    if (json) process.stdout.write(`${JSON.stringify(scores, null, 2)}\n`);
    else {
      process.stdout.write(
        `scored ${run.borrowers} borrowers with ${run.modelVersion} (${run.featureMs} ms features, ${run.scoreMs} ms model)\n`,
      );
      for (const s of scores) {
        process.stdout.write(
          `${s.borrowerId.padEnd(8)} PD ${(s.pd * 100).toFixed(2).padStart(6)} %  ${s.score}  grade ${s.grade}  ${s.reasons.map((r) => r.text).join('; ')}\n`,
        );
      }
    }
    return EXIT.ok;
  } catch (err) {
    process.stderr.write(`riskfuse score: ${errorMessage(err)}\n`);
    return EXIT.failure;
  } finally {
    await telemetry.close();
    await state.close();
  }
}
