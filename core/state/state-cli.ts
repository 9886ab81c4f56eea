import { createWriteStream } from 'node:fs';
import { access, constants, rename } from 'node:fs/promises';
import { once } from 'node:events';
import { EXIT, parseFlags, reportFatal, UsageError, type CommandHelp } from '../cli.js';
import { parseConfig } from '../config.js';
import { loggingConfigSpec } from '../logging-config.js';
import { createLogger } from '../logger.js';
import { openDatabase } from './open-database.js';
import { stateConfigSpec } from './state-config.js';
import { readLines } from './transfer/read-lines.js';
import { exportState, importState } from './transfer/transfer.js';

export const stateHelp: CommandHelp = {
  usage: 'riskfuse state <status|migrate|export|import> [--file FILE]',
  brief: 'the state database: schema status, migrations, export and import (SQLite ↔ PostgreSQL, ids kept)',
  summary: [
    'Work on the state database the environment names (STATE_DB_URL for PostgreSQL, else the SQLite file):',
    '  status    print the backend, where it is and the schema version (opening applies pending migrations, as every component does)',
    '  migrate   apply the pending migrations and print the version (every component also does this at start)',
    '  export    write the whole state, ids and all, as JSON lines to --file (or stdout)',
    '  import    load an export into an EMPTY database of the same schema version, in one transaction',
    'Moving an embedded installation to PostgreSQL: stop riskfuse, `riskfuse state export --file state.jsonl`,',
    'then `STATE_DB_URL=postgres://… riskfuse state import --file state.jsonl`, then start with STATE_DB_URL.',
  ].join('\n'),
  options: [
    ['--file FILE', 'the export file (export: written atomically via FILE.partial; import: read)'],
    ['-h, --help', 'show this help'],
  ],
  env: [stateConfigSpec],
};

export async function stateCommand(argv: string[], env: Record<string, string | undefined>): Promise<number> {
  try {
    const { values, positionals } = parseFlags(argv, {
      file: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    });
    const action = positionals[0];
    if (values.help === true || action === undefined) {
      process.stdout.write(`${formatHelpText()}\n`);
      return values.help === true ? EXIT.ok : EXIT.usage;
    }
    if (!['status', 'migrate', 'export', 'import'].includes(action))
      throw new UsageError(`unknown action ${JSON.stringify(action)}: status, migrate, export or import`);
    const file = typeof values.file === 'string' ? values.file : undefined;
    if (action === 'import' && file === undefined) throw new UsageError('import needs --file FILE');

    // Before the database is opened (which migrates it): an unreadable file changes nothing.
    if (action === 'import' && file !== undefined)
      await access(file, constants.R_OK).catch(() => {
        throw new UsageError(`cannot read ${file}`);
      });
    const config = parseConfig(stateConfigSpec, env);
    // Logs go to stderr: stdout may carry the export itself.
    const log = createLogger({
      level: parseConfig(loggingConfigSpec, env).logLevel,
      name: 'state',
      stderr: true,
    });
    // Opening migrates: `status` on an existing database reports what it has after that, which is the truth
    // every component would see at its next start.
    const db = await openDatabase(config, log, `riskfuse-state-${action}`);
    try {
      const say = (s: string): void => void process.stderr.write(`${s}\n`);
      if (action === 'status' || action === 'migrate') {
        process.stdout.write(
          `${JSON.stringify({ backend: db.dialect, location: db.location, schemaVersion: await db.schemaVersion() })}\n`,
        );
        return EXIT.ok;
      }
      let lastTable = '';
      const progress = (table: string, rows: number): void => {
        if (rows === 0) return;
        if (table !== lastTable && lastTable !== '') process.stderr.write('\n');
        lastTable = table;
        process.stderr.write(`\r${table}: ${String(rows)} rows`);
      };
      if (action === 'export') {
        const out = file === undefined ? process.stdout : createWriteStream(`${file}.partial`);
        let rows = 0;
        for await (const line of exportState(db, progress)) {
          rows++;
          if (!out.write(`${line}\n`)) await once(out, 'drain');
        }
        if (file !== undefined) {
          out.end();
          await once(out, 'finish');
          await rename(`${file}.partial`, file);
        }
        say(
          `\nexported ${String(rows - 1)} rows from ${db.location}${file === undefined ? '' : ` to ${file}`}`,
        );
        return EXIT.ok;
      }
      const counts = await importState(db, readLines(file ?? ''), progress);
      say(`\nimported into ${db.location}: ${JSON.stringify(counts)}`);
      return EXIT.ok;
    } finally {
      await db.close();
    }
  } catch (err) {
    return reportFatal(err);
  }
}

function formatHelpText(): string {
  return `Usage: ${stateHelp.usage}\n\n${stateHelp.summary}`;
}
