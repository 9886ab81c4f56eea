import { InfluxDB } from '@influxdata/influxdb-client';
import type { ConfigOf } from '../config.js';
import { errorMessage, type RiskfuseError } from '../errors.js';
import type { Logger } from '../logger.js';
import {
  clientWriteError,
  DatabaseMissing,
  errorText,
  influxqlIdent,
  parseQueryResponse,
  rejected,
  unavailable,
  type StatementResult,
} from './influx-protocol.js';
import type { telemetryConfigSpec } from './telemetry-config.js';

export type InfluxTelemetryConfig = Omit<
  ConfigOf<typeof telemetryConfigSpec>,
  'dataDir' | 'telemetryDbPath' | 'influxUrl'
> & {
  readonly influxUrl: string;
};

/**
 * The InfluxDB server as the telemetry store talks to it over HTTP (influx-telemetry-store.ts): credentials as a
 * header (never in the URL, which ends up in access logs), `/query` (InfluxQL, POSTed so long filters fit) and
 * `/write` (line protocol, or `/api/v2/write` through @influxdata/influxdb-client), a missing database created
 * once when INFLUX_CREATE_DATABASE allows, and network failures, timeouts and 5xx as STORE_UNAVAILABLE
 * (retryable) where other refusals are STORE_REJECTED. Pinned by core/test/influx-telemetry-store.test.ts.
 */
export interface InfluxConnection {
  /** The server's URL without credentials, for messages and logs. */
  readonly shownUrl: string;
  readonly database: string;
  /** One HTTP exchange; network failures and timeouts become STORE_UNAVAILABLE. */
  readonly http: (
    method: 'GET' | 'POST',
    path: string,
    params: Record<string, string>,
    body?: { text: string; contentType: string },
  ) => Promise<{ status: number; text: string }>;
  /** An HTTP status as the store's error: STORE_UNAVAILABLE for 5xx, 408 and 429, else STORE_REJECTED. */
  readonly statusError: (status: number, text: string) => RiskfuseError;
  readonly ensureDatabase: () => Promise<void>;
  /** Runs InfluxQL statements in one request; times come back as epoch ms. */
  readonly influxql: (statements: readonly string[]) => Promise<StatementResult[]>;
  /** Writes line-protocol lines (one chunk) through the configured write API. */
  readonly write: (lines: string[]) => Promise<void>;
  readonly statementErrors: (statements: readonly string[]) => Promise<(string | undefined)[]>;
  readonly showDownsampling: () => Promise<{
    policies: { name: string; isDefault: boolean }[];
    queries: Map<string, string>;
  }>;
}

export function connectInflux(cfg: InfluxTelemetryConfig, log: Logger): InfluxConnection {
  const baseUrl = cfg.influxUrl.replace(/\/+$/, '');
  // For messages and logs: never repeat credentials someone put into the URL.
  const shownUrl = ((): string => {
    const u = new URL(baseUrl);
    u.username = '';
    u.password = '';
    return u.toString().replace(/\/+$/, '');
  })();
  const database = cfg.influxDatabase;
  const timeoutMs = cfg.influxTimeoutMs;
  const autoCreate = cfg.influxCreateDatabase === 'auto';

  const headers: Record<string, string> = {};
  if (cfg.influxToken !== undefined) {
    headers.authorization = `Token ${cfg.influxToken}`;
  } else if (cfg.influxUsername !== undefined && cfg.influxPassword !== undefined) {
    // Basic auth rather than u/p query parameters, which end up in access logs.
    headers.authorization = `Basic ${Buffer.from(`${cfg.influxUsername}:${cfg.influxPassword}`).toString('base64')}`;
  }

  // The v2 write path goes through the official client; 1.8 accepts `username:password` as its token.
  const v2Client =
    cfg.influxWriteApi === 'v2'
      ? new InfluxDB({
          url: baseUrl,
          timeout: timeoutMs,
          ...(cfg.influxToken !== undefined
            ? { token: cfg.influxToken }
            : cfg.influxUsername !== undefined && cfg.influxPassword !== undefined
              ? { token: `${cfg.influxUsername}:${cfg.influxPassword}` }
              : {}),
        })
      : undefined;

  /** One HTTP exchange; network failures and timeouts become STORE_UNAVAILABLE. */
  const http = async (
    method: 'GET' | 'POST',
    path: string,
    params: Record<string, string>,
    body?: { text: string; contentType: string },
  ): Promise<{ status: number; text: string }> => {
    const url = `${baseUrl}${path}${Object.keys(params).length > 0 ? `?${new URLSearchParams(params).toString()}` : ''}`;
    try {
      const res = await fetch(url, {
        method,
        headers: body === undefined ? headers : { ...headers, 'content-type': body.contentType },
        ...(body === undefined ? {} : { body: body.text }),
        signal: AbortSignal.timeout(timeoutMs),
      });
      return { status: res.status, text: await res.text() };
    } catch (err) {
      if (err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError')) {
        throw unavailable(`no answer from ${shownUrl} within ${timeoutMs} ms`, err);
      }
      const cause = err instanceof Error && err.cause instanceof Error ? `: ${err.cause.message}` : '';
      throw unavailable(`${errorMessage(err)}${cause} (${shownUrl})`, err);
    }
  };

  const statusError = (status: number, text: string): RiskfuseError =>
    status >= 500 || status === 408 || status === 429
      ? unavailable(`HTTP ${status}: ${errorText(text)}`)
      : rejected(`HTTP ${status}: ${errorText(text)}`);

  const ensureDatabase = async (): Promise<void> => {
    if (!autoCreate) return;
    const res = await http(
      'POST',
      '/query',
      {},
      {
        text: new URLSearchParams({ q: `CREATE DATABASE ${influxqlIdent(database)}` }).toString(),
        contentType: 'application/x-www-form-urlencoded',
      },
    );
    if (res.status >= 500) throw statusError(res.status, res.text);
    let problem: string | undefined =
      res.status >= 400 ? `HTTP ${res.status}: ${errorText(res.text)}` : undefined;
    if (problem === undefined) {
      try {
        parseQueryResponse(res.text, 1);
      } catch (err) {
        problem = errorMessage(err);
      }
    }
    // Not permitted (no admin rights, or 2.x/3.x where buckets are made elsewhere): the database may exist anyway.
    if (problem !== undefined)
      log.warn({ database, problem }, 'could not create the InfluxDB database; continuing');
    else log.debug({ database }, 'InfluxDB database ensured');
  };

  /** Runs fn; when the database is missing and may be created, creates it and runs fn once more. */
  const withDatabase = async <T>(fn: () => Promise<T>): Promise<T> => {
    try {
      return await fn();
    } catch (err) {
      if (!(err instanceof DatabaseMissing)) throw err;
      if (!autoCreate) throw rejected(`${err.message} (INFLUX_CREATE_DATABASE=never)`);
      await ensureDatabase();
      try {
        return await fn();
      } catch (again) {
        throw again instanceof DatabaseMissing ? rejected(again.message) : again;
      }
    }
  };

  /** Runs InfluxQL statements in one request (POST, so long filters fit); times come back as epoch ms. */
  const influxql = (statements: readonly string[]): Promise<StatementResult[]> =>
    withDatabase(async () => {
      const res = await http(
        'POST',
        '/query',
        {},
        {
          text: new URLSearchParams({ db: database, epoch: 'ms', q: statements.join(';\n') }).toString(),
          contentType: 'application/x-www-form-urlencoded',
        },
      );
      if (res.status !== 200) throw statusError(res.status, res.text);
      return parseQueryResponse(res.text, statements.length);
    });

  const writeV1 = (lines: readonly string[]): Promise<void> =>
    withDatabase(async () => {
      const res = await http(
        'POST',
        '/write',
        { db: database, precision: 'ns' },
        {
          text: lines.join('\n'),
          contentType: 'text/plain; charset=utf-8',
        },
      );
      if (res.status === 204 || res.status === 200) return;
      if (res.status === 404 && errorText(res.text).startsWith('database not found'))
        throw new DatabaseMissing(errorText(res.text));
      throw statusError(res.status, res.text);
    });

  const writeV2 = async (client: InfluxDB, lines: string[]): Promise<void> => {
    // A WriteApi per chunk, sized so that it never flushes on its own (its background flushes swallow
    // errors), no timer, no retries: close() sends exactly this chunk and rejects if the server does not
    // take it. writeFailed returning the rejection keeps the client from logging to the console itself.
    const api = client.getWriteApi(cfg.influxOrg, database, 'ns', {
      batchSize: lines.length + 1,
      maxBatchBytes: Number.MAX_SAFE_INTEGER,
      flushInterval: 0,
      maxRetries: 0,
      maxBufferLines: lines.length + 1,
      writeFailed: (error: Error) => Promise.reject(error),
    });
    api.writeRecords(lines);
    try {
      await api.close();
    } catch (err) {
      throw clientWriteError(err);
    }
  };

  /** Runs statements in one request; each one's error (undefined when it succeeded). */
  const statementErrors = async (statements: readonly string[]): Promise<(string | undefined)[]> => {
    const res = await http(
      'POST',
      '/query',
      {},
      {
        text: new URLSearchParams({ db: database, q: statements.join(';\n') }).toString(),
        contentType: 'application/x-www-form-urlencoded',
      },
    );
    if (res.status >= 500) throw statusError(res.status, res.text);
    if (res.status !== 200) return statements.map(() => errorText(res.text));
    const parsed = JSON.parse(res.text) as { results?: { error?: string }[] };
    return statements.map((_, i) => parsed.results?.[i]?.error);
  };
  /** The database's retention policies and continuous queries. */
  const showDownsampling = async (): Promise<{
    policies: { name: string; isDefault: boolean }[];
    queries: Map<string, string>;
  }> => {
    // Parsed here: these answers are not the point series parseSeries expects.
    type Shown = { name?: string; columns?: string[]; values?: unknown[][] };
    const res = await http(
      'POST',
      '/query',
      {},
      {
        text: new URLSearchParams({
          q: `SHOW RETENTION POLICIES ON ${influxqlIdent(database)};\nSHOW CONTINUOUS QUERIES`,
        }).toString(),
        contentType: 'application/x-www-form-urlencoded',
      },
    );
    if (res.status !== 200) throw statusError(res.status, res.text);
    const parsed = JSON.parse(res.text) as { results?: { series?: Shown[]; error?: string }[] };
    const [rps, cqs] = parsed.results ?? [];
    if (rps?.error !== undefined) throw rejected(rps.error);
    const policies = (rps?.series ?? []).flatMap((s) =>
      (s.values ?? []).map((v) => ({
        name: String(v[(s.columns ?? []).indexOf('name')]),
        isDefault: v[(s.columns ?? []).indexOf('default')] === true,
      })),
    );
    const queries = new Map<string, string>();
    for (const s of cqs?.series ?? []) {
      if (s.name !== database) continue;
      for (const v of s.values ?? []) queries.set(String(v[0]), String(v[1]));
    }
    return { policies, queries };
  };
  return {
    shownUrl,
    database,
    http,
    statusError,
    ensureDatabase,
    influxql,
    write: (lines) => (v2Client !== undefined ? writeV2(v2Client, lines) : writeV1(lines)),
    statementErrors,
    showDownsampling,
  };
}
