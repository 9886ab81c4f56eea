import { DEVICE_KINDS, type DeviceKind } from '../contracts/index.js';
import type { Logger } from '../logger.js';
import { DAY_MS, HOUR_MS } from './resolution.js';

/**
 * Retention and downsampling on InfluxDB 1.x, with the semantics of the SQLite store's aggregates
 * (`sqlite-rollup.ts`): raw points in the database's default retention policy for TELEMETRY_RAW_RETENTION_DAYS,
 * hourly and daily aggregates of every numeric field per series (device, borrower, site tags kept) in the
 * retention policies `rf_hourly` and `rf_daily`, written by continuous queries
 * (https://docs.influxdata.com/influxdb/v1/query_language/continuous_queries/):
 *
 *   SELECT count(*), sum(*), min(*), max(*), first(*), last(*) INTO "db"."rf_daily"."stake" FROM "stake"
 *   GROUP BY time(1d), *
 *
 * Wildcard functions skip string fields for sum/min/max (checked on influxd 1.6.7), and a point's time encodes
 * (ts, seq), so first/last follow the port's order. Reads re-aggregate them (sum of counts and sums, min of
 * mins, first of firsts …), so any multiple of the resolution is served.
 *
 * Freshness: a continuous query runs only on interval boundaries. `RESAMPLE EVERY 1h FOR 2d` recomputes the
 * last two days of buckets every hour, so a bucket is final an hour (plus the run's own time) after it ends,
 * and a reading up to two days late reaches its hour and day at the next run. Reads therefore serve from the
 * downsampled measurements only buckets that ended at least `DOWNSAMPLE_LAG_MS` ago and read the recent part
 * (today's partial day included) from raw points — the same numbers, just read from the finer resolution.
 * Unlike SQLite, where the writer folds every late reading in, a reading later than two days reaches the raw
 * points but not the hourly/daily aggregates (a replay of older history should be followed by `downsample`).
 */
export const DOWNSAMPLE_RP: Readonly<Record<number, string>> = {
  [HOUR_MS]: 'rf_hourly',
  [DAY_MS]: 'rf_daily',
};
const RESAMPLE = 'RESAMPLE EVERY 1h FOR 2d';
/** How long after a bucket ends its continuous query's result is trusted: the 1 h cadence plus 5 min to run. */
export const DOWNSAMPLE_LAG_MS = HOUR_MS + 5 * 60_000;

export interface InfluxRetention {
  /** Days; 0 = forever. */
  readonly rawDays: number;
  readonly hourlyDays: number;
  readonly dailyDays: number;
}

const ident = (name: string): string => `"${name.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
const duration = (days: number): string => (days === 0 ? 'INF' : `${days}d`);
const unit = (resMs: number): string => (resMs === DAY_MS ? '1d' : '1h');

function selectInto(database: string, kind: DeviceKind, resMs: number, where: string): string {
  const rp = DOWNSAMPLE_RP[resMs] as string;
  return (
    `SELECT count(*), sum(*), min(*), max(*), first(*), last(*) INTO ${ident(database)}.${ident(rp)}.${ident(kind)} ` +
    `FROM ${ident(kind)}${where} GROUP BY time(${unit(resMs)}), * fill(none)`
  );
}

/** The continuous query of one kind and resolution, by name. */
export function continuousQueries(database: string): { name: string; statement: string }[] {
  return DEVICE_KINDS.flatMap((kind) =>
    [HOUR_MS, DAY_MS].map((resMs) => {
      // Versioned: a release that changes a definition uses new names (an existing query is never compared).
      const name = `rf1_${kind}_${unit(resMs)}`;
      return {
        name,
        statement:
          `CREATE CONTINUOUS QUERY ${ident(name)} ON ${ident(database)} ${RESAMPLE} ` +
          `BEGIN ${selectInto(database, kind, resMs, '')} END`,
      };
    }),
  );
}

/** Statements that (re)compute every kind's hourly and daily aggregates in `[fromMs, toMs)` (a backfill). */
export function downsampleStatements(database: string, fromMs: number, toMs: number): string[] {
  const where = ` WHERE time >= ${fromMs}ms AND time < ${toMs}ms`;
  return DEVICE_KINDS.flatMap((kind) =>
    [HOUR_MS, DAY_MS].map((res) => selectInto(database, kind, res, where)),
  );
}

/** Runs InfluxQL; resolves to each statement's error text (undefined when it succeeded). */
export type InfluxQlRunner = (statements: readonly string[]) => Promise<(string | undefined)[]>;

/**
 * Creates or alters the retention policies and creates the continuous queries, idempotently (a CREATE with the
 * same definition is a no-op on 1.x; an existing policy gets its duration altered). When a continuous query did not
 * exist before, `backfill` downsamples the history already stored — before the raw policy is shortened.
 */
export async function ensureDownsampling(
  run: InfluxQlRunner,
  show: () => Promise<{ policies: { name: string; isDefault: boolean }[]; queries: Map<string, string> }>,
  database: string,
  retention: InfluxRetention,
  backfill: () => Promise<void>,
  log: Logger,
): Promise<void> {
  const db = ident(database);
  const before = await show();
  for (const [resMs, days] of [
    [HOUR_MS, retention.hourlyDays],
    [DAY_MS, retention.dailyDays],
  ] as const) {
    const rp = ident(DOWNSAMPLE_RP[resMs] as string);
    const exists = before.policies.some((p) => p.name === DOWNSAMPLE_RP[resMs]);
    const stmt = exists
      ? `ALTER RETENTION POLICY ${rp} ON ${db} DURATION ${duration(days)}`
      : `CREATE RETENTION POLICY ${rp} ON ${db} DURATION ${duration(days)} REPLICATION 1`;
    const [err] = await run([stmt]);
    if (err !== undefined) throw new Error(`${stmt}: ${err}`);
  }
  const created: string[] = [];
  for (const cq of continuousQueries(database)) {
    if (before.queries.has(cq.name)) continue;
    const [err] = await run([cq.statement]);
    if (err !== undefined) throw new Error(`${cq.name}: ${err}`);
    created.push(cq.name);
  }
  if (created.length > 0) await backfill();
  // Raw points last: their policy shortens only once the aggregates that outlive them exist.
  const raw = before.policies.find((p) => p.isDefault);
  if (raw !== undefined) {
    const [err] = await run([
      `ALTER RETENTION POLICY ${ident(raw.name)} ON ${db} DURATION ${duration(retention.rawDays)}`,
    ]);
    if (err !== undefined) throw new Error(`raw retention: ${err}`);
  }
  log.info({ database, created, retention }, 'InfluxDB retention policies and continuous queries ensured');
}
