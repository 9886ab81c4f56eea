import { pino, type Logger, type LevelWithSilent } from 'pino';

export type { Logger };

/**
 * JSON lines to stdout (pino). Redaction is fixed here, at start-up: tokens and passwords never reach a log
 * line, whichever component binds them.
 */
export function createLogger(
  options: {
    level?: LevelWithSilent;
    name?: string;
    /** A file to append to instead of stdout. */ file?: string;
    /** Standard error instead of stdout (commands whose stdout is their output). */ stderr?: boolean;
  } = {},
): Logger {
  const destination =
    options.file !== undefined
      ? pino.destination({ dest: options.file, mkdir: true, sync: true })
      : options.stderr === true
        ? pino.destination({ fd: 2, sync: true })
        : undefined;
  const opts = {
    name: options.name ?? 'riskfuse',
    level: options.level ?? 'info',
    redact: {
      paths: [
        'password',
        'token',
        '*.password',
        '*.token',
        'headers.authorization',
        'config.influxToken',
        'config.stateDbUrl',
      ],
      censor: '[redacted]',
    },
  };
  return destination ? pino(opts, destination) : pino(opts);
}

/** A logger that writes nothing, for tests and library callers that bring none. */
export const silentLogger: Logger = pino({ level: 'silent' });

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
