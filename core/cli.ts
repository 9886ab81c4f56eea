import { parseArgs, type ParseArgsConfig } from 'node:util';
import { describeConfig, type VarSpec } from './config.js';
import { errorMessage, RiskfuseError } from './errors.js';

/** Exit codes of every `riskfuse` command. */
export const EXIT = { ok: 0, failure: 1, usage: 2 } as const;

export interface CommandHelp {
  readonly usage: string;
  /** One line for the command list of `riskfuse --help`. */
  readonly brief: string;
  readonly summary: string;
  readonly options?: readonly [flag: string, doc: string][];
  readonly env?: readonly Record<string, VarSpec>[];
}

export function formatHelp(help: CommandHelp): string {
  const lines = [`Usage: ${help.usage}`, '', help.summary];
  if (help.options && help.options.length > 0) {
    lines.push('', 'Options:');
    const width = Math.max(...help.options.map(([f]) => f.length));
    for (const [flag, doc] of help.options) lines.push(`  ${flag.padEnd(width)}  ${doc}`);
  }
  if (help.env && help.env.length > 0) {
    const merged: Record<string, VarSpec> = {};
    for (const spec of help.env) for (const v of Object.values(spec)) merged[v.env] = v;
    lines.push('', 'Environment:', describeConfig(merged));
  }
  return lines.join('\n');
}

/** parseArgs that turns unknown or malformed flags into a usage error (exit 2) instead of a stack trace. */
export function parseFlags<T extends ParseArgsConfig['options']>(
  argv: string[],
  options: T,
): { values: Record<string, string | boolean | (string | boolean)[] | undefined>; positionals: string[] } {
  try {
    const { values, positionals } = parseArgs({
      args: argv,
      options: options ?? {},
      allowPositionals: true,
      strict: true,
    });
    return { values, positionals };
  } catch (err) {
    throw new UsageError(errorMessage(err));
  }
}

export class UsageError extends Error {}

/** Prints an error the way every command does: config problems as a list, others as one line. */
export function reportFatal(err: unknown): number {
  if (err instanceof UsageError) {
    process.stderr.write(`riskfuse: ${err.message}\n(run with --help for usage)\n`);
    return EXIT.usage;
  }
  if (err instanceof RiskfuseError && err.code === 'CONFIG_INVALID') {
    process.stderr.write(`riskfuse: ${err.message}\n`);
    return EXIT.failure;
  }
  process.stderr.write(`riskfuse: ${errorMessage(err)}\n`);
  return EXIT.failure;
}
