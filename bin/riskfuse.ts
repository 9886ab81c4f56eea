#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { EXIT, formatHelp, reportFatal } from '../core/cli.js';
import { describeConfig, type VarSpec } from '../core/config.js';
import { COMMANDS } from './commands.js';

/**
 * The `riskfuse` CLI. Each subcommand runs one component (or all of them: `start`) and answers `--help`
 * with its usage and the environment variables it reads.
 */
function readVersion(): string {
  // ../package.json from bin/ under tsx, ../../package.json from dist/bin/ once built.
  for (const rel of ['../package.json', '../../package.json']) {
    try {
      return (JSON.parse(readFileSync(new URL(rel, import.meta.url), 'utf8')) as { version: string }).version;
    } catch {
      continue;
    }
  }
  return 'unknown';
}

function mainHelp(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((c) => c.length));
  return [
    'Usage: riskfuse <command> [options]',
    '',
    'IoT-enhanced supply-chain credit risk: collateral stakes, smart helmets and satellite feeds, fused',
    'with the loan book.',
    '',
    'Commands:',
    `  ${'config'.padEnd(width)}  every environment variable of every command, as a Markdown table`,
    ...Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}  ${c.help.brief}`),
    '',
    'Run `riskfuse <command> --help` for its options and environment variables.',
  ].join('\n');
}

async function main(argv: string[]): Promise<number | 'running'> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    const topic = name === 'help' ? rest[0] : undefined;
    const cmd = topic === undefined ? undefined : COMMANDS[topic];
    process.stdout.write(`${cmd ? formatHelp(cmd.help) : mainHelp()}\n`);
    return name === undefined ? EXIT.usage : EXIT.ok;
  }
  if (name === '--version' || name === '-v') {
    process.stdout.write(`${readVersion()}\n`);
    return EXIT.ok;
  }
  if (name === 'config') {
    const all: Record<string, VarSpec> = {};
    for (const c of Object.values(COMMANDS))
      for (const spec of c.help.env ?? []) for (const v of Object.values(spec)) all[v.env] = v;
    process.stdout.write(`${describeConfig(all)}\n`);
    return EXIT.ok;
  }
  const cmd = COMMANDS[name];
  if (!cmd) {
    process.stderr.write(`riskfuse: unknown command ${JSON.stringify(name)}\n\n${mainHelp()}\n`);
    return EXIT.usage;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(`${formatHelp(cmd.help)}\n`);
    return EXIT.ok;
  }
  return cmd.run(rest, process.env);
}

main(process.argv.slice(2)).then(
  (code) => {
    // 'running': a server started; it exits on SIGINT/SIGTERM through its shutdown sequence.
    if (code !== 'running') process.exitCode = code;
  },
  (err: unknown) => {
    process.exitCode = reportFatal(err);
  },
);
