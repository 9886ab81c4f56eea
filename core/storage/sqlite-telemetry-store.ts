import Database from 'better-sqlite3';
import type { Reading } from '../contracts/index.js';
import { DEVICE_KINDS } from '../contracts/index.js';
import { errorMessage, RiskfuseError } from '../errors.js';
import { silentLogger, type Logger } from '../logger.js';
import { aggregateRows, PartialTable, planSegments, type Segment } from './resolution.js';
import { forEachRollupPartial, rollupReady } from './sqlite-rollup.js';
import { fieldsAggregateRows, fieldsAggregateSql } from './sqlite-fields-aggregate.js';
import { GridReaders } from './sqlite-grid-readers.js';
import { readGrid } from './sqlite-grid-query.js';
import { sqliteReadContext } from './sqlite-read-context.js';
import { buildRollups, migrate } from './sqlite-telemetry-setup.js';
import {
  BUSY_TIMEOUT_MS,
  groupSql,
  orderFree,
  READING_COLUMNS,
  toReading,
  toStoreError,
  whereSql,
  type AggregateSqlRow,
  type ReadingRow,
} from './sqlite-telemetry-sql.js';
import { SqliteWriter, type BuildProgress } from './sqlite-writer.js';
import type {
  AggregateQuery,
  AggregateRow,
  FieldsAggregateQuery,
  FieldsAggregateRow,
  FieldsGrid,
  FieldsGridQuery,
  PruneResult,
  RangeQuery,
  RetentionCuts,
  SeriesFilter,
  TelemetryStore,
  WriteResult,
} from './telemetry-store.js';
import {
  checkAggregateQuery,
  checkCountQuery,
  checkFieldsAggregateQuery,
  checkFieldsGridQuery,
  checkFilter,
  checkRangeQuery,
  checkReadings,
  checkRetentionCuts,
  compareText,
  matchesNothing,
} from './telemetry-validation.js';

/**
 * The embedded telemetry store: one SQLite file (better-sqlite3), one wide row per reading with its fields as
 * JSON. Writes run on a thread of their own (`sqlite-writer.ts`) so a commit does not stop the event loop;
 * queries are synchronous on this thread and the async methods only wrap them to honour the port.
 */
export interface SqliteTelemetryStore extends TelemetryStore {
  readonly backend: 'sqlite';
  readonly path: string;
  /** Resolves once the hourly and daily aggregates hold every stored reading (at once, unless the file
   * predates them and they are being built). */
  rollupsBuilt(): Promise<void>;
  /** Grid queries a reader thread answered (the rest ran on the store's thread). */
  threadedGridReads(): number;
}

export interface SqliteTelemetryOptions {
  readonly log?: Logger;
  /** Read aggregates from raw readings only (default false): the reference the aggregates are tested against. */
  readonly rawOnly?: boolean;
  /** Readings per transaction of the one-time aggregates build (tests use small pages). */
  readonly rollupBuildPage?: number;
  /** Called after each page of the one-time aggregates build. */
  readonly onRollupBuild?: (p: BuildProgress) => void;
  /** How often the planner's statistics are refreshed while open (default 10 min; see `PLANNER_STATS_MS`). */
  readonly plannerStatsMs?: number;
  /**
   * Reader threads for whole-portfolio grid queries (default 0: every query on this thread); started on the
   * first such query. See `sqlite-grid-readers.ts`.
   */
  readonly readerThreads?: number;
  /** The reader threads' module (tests only: a module that fails to load). */
  readonly readerModuleUrl?: URL;
}

/**
 * The query planner's statistics (sqlite_stat1) are refreshed with `PRAGMA optimize` every 10 minutes while the
 * store is open, not only at close as before: a store that grew from empty in one long run had none, and the
 * planner chose badly — single-borrower scoring on a freshly built 10,000-borrower file took a median 42.6 s
 * until the next restart wrote them. SQLite recommends `optimize` periodically on long-lived connections; it
 * analyses only tables this connection queried whose size changed materially (a no-op otherwise), with a
 * temporary analysis limit, so it takes milliseconds (https://sqlite.org/pragma.html#pragma_optimize).
 * Pinned by core/test/telemetry-planner-stats.test.ts.
 */
const PLANNER_STATS_MS = 10 * 60_000;

/** A grid query naming more devices than this (or a whole kind) may go to a reader thread. */
const READER_MIN_DEVICES = 1_000;

export function openSqliteTelemetryStore(
  path: string,
  opts: SqliteTelemetryOptions = {},
): SqliteTelemetryStore {
  const log = opts.log ?? silentLogger;
  let db: Database.Database;
  try {
    db = new Database(path, { timeout: BUSY_TIMEOUT_MS });
  } catch (err) {
    throw toStoreError(err, 'query');
  }
  try {
    db.pragma('journal_mode = WAL');
    // FULL, not NORMAL: in WAL mode NORMAL fsyncs only at checkpoints, so a power cut can lose transactions
    // that already committed. Ingest acknowledges MQTT messages once writeReadings resolves, and an
    // acknowledged message is never redelivered, so a commit must be on disk before we resolve.
    db.pragma('synchronous = FULL');
    db.pragma('foreign_keys = ON');
    migrate(db, log);
  } catch (err) {
    db.close();
    throw err instanceof RiskfuseError ? err : toStoreError(err, 'query');
  }

  const ctx = sqliteReadContext(db, opts.rawOnly === true ? { rawOnly: true } : {});
  const { prepared, slotPlan, rawFilter } = ctx;

  // One transaction per batch (one WAL fsync per batch instead of one per reading), on the writer thread.
  const writer = new SqliteWriter({
    path,
    insertSql: `INSERT OR IGNORE INTO readings (${READING_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)`,
    busyTimeoutMs: BUSY_TIMEOUT_MS,
    log,
    ...(opts.rollupBuildPage === undefined ? {} : { buildPage: opts.rollupBuildPage }),
  });
  const readers =
    (opts.readerThreads ?? 0) > 0
      ? new GridReaders({
          path,
          threads: opts.readerThreads ?? 0,
          busyTimeoutMs: BUSY_TIMEOUT_MS,
          log,
          runHere: (q) => {
            ensureOpen();
            return readGrid(ctx, q);
          },
          ...(opts.readerModuleUrl === undefined ? {} : { moduleUrl: opts.readerModuleUrl }),
        })
      : undefined;
  let closed = false;
  const refreshStats = setInterval(() => {
    try {
      db.pragma('optimize');
    } catch (err) {
      // Busy (the writer holds the lock past the timeout): the next round tries again.
      log.debug({ err: errorMessage(err) }, 'telemetry planner statistics not refreshed');
    }
  }, opts.plannerStatsMs ?? PLANNER_STATS_MS);
  refreshStats.unref();
  const latestOfDevice = db.prepare<[string], ReadingRow>(
    `SELECT ${READING_COLUMNS} FROM readings WHERE device_id = ? ORDER BY ts DESC, seq DESC LIMIT 1`,
  );

  const ensureOpen = (): void => {
    if (closed || !db.open) throw new RiskfuseError('SHUTTING_DOWN', 'telemetry store (sqlite) is closed');
  };

  const query = <T>(fn: () => T): Promise<T> => {
    try {
      ensureOpen();
      return Promise.resolve(fn());
    } catch (err) {
      return Promise.reject(toStoreError(err, 'query'));
    }
  };

  // Raw segments (`resolution.ts`): the readings themselves, summed rather than averaged so segments merge.
  const rawAggregate = (
    q: AggregateQuery,
    f: SeriesFilter,
    seg: Segment,
    ordered: boolean,
  ): AggregateSqlRow[] => {
    const where = whereSql(f, seg);
    const path = `$.${q.field}`;
    if (!ordered) {
      // count/sum/min/max need no order inside a bucket: a plain GROUP BY, several times faster.
      return prepared<AggregateSqlRow>(
        `SELECT ${groupSql(q.groupBy)} AS g, ts - (ts % ?) AS b, count(*) AS n,
                sum(json_extract(fields, ?)) AS total, min(json_extract(fields, ?)) AS mn,
                max(json_extract(fields, ?)) AS mx
         FROM readings
         WHERE ${where.sql} AND json_type(fields, ?) IN ('integer', 'real')
         GROUP BY g, b ORDER BY g, b`,
      ).all(q.intervalMs, path, path, path, ...where.params, path);
    }
    // Window functions give first/last by (ts, seq) inside each (group, bucket) in one pass; row_number keeps
    // one row per partition. Only numeric JSON values count (a reading without the field is skipped).
    return prepared<AggregateSqlRow>(
      `WITH r AS (
         SELECT ${groupSql(q.groupBy)} AS g, ts - (ts % ?) AS b, ts, seq, json_extract(fields, ?) AS v
         FROM readings
         WHERE ${where.sql} AND json_type(fields, ?) IN ('integer', 'real')
       ),
       w AS (
         SELECT g, b,
                count(*) OVER p AS n, sum(v) OVER p AS total, min(v) OVER p AS mn, max(v) OVER p AS mx,
                first_value(v) OVER o AS fv, first_value(ts) OVER o AS fts, first_value(seq) OVER o AS fseq,
                last_value(v) OVER o AS lv, last_value(ts) OVER o AS lts, last_value(seq) OVER o AS lseq,
                row_number() OVER o AS rn
         FROM r
         WINDOW p AS (PARTITION BY g, b),
                o AS (PARTITION BY g, b ORDER BY ts, seq ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING)
       )
       SELECT g, b, n, total, mn, mx, fts, fseq, fv, lts, lseq, lv FROM w WHERE rn = 1 ORDER BY g, b`,
    ).all(q.intervalMs, path, ...where.params, path);
  };

  let built: Promise<void> = Promise.resolve();
  if (opts.rawOnly !== true && !rollupReady(db)) built = buildRollups(writer, path, log, opts.onRollupBuild);

  log.info({ path }, 'telemetry store (sqlite) open');

  return {
    backend: 'sqlite',
    path,
    rollupsBuilt: () => built,
    threadedGridReads: () => readers?.threaded ?? 0,

    async writeReadings(readings: readonly Reading[]): Promise<WriteResult> {
      try {
        ensureOpen();
        checkReadings(readings);
        if (readings.length > 0) await writer.write(readings);
        ctx.noteWritten(readings);
        return { written: readings.length };
      } catch (err) {
        throw toStoreError(err, 'write');
      }
    },

    latest(filter: SeriesFilter): Promise<Reading[]> {
      return query(() => {
        checkFilter(filter);
        if (matchesNothing(filter)) return [];
        // A device matches when its latest reading does (kind, borrower and site come from the registry and
        // stay with the device), so each device costs one index probe whatever the filter.
        const ids =
          filter.deviceIds !== undefined
            ? [...new Set(filter.deviceIds)].sort(compareText)
            : ctx.distinctDevices();
        const borrowers = filter.borrowerIds === undefined ? undefined : new Set(filter.borrowerIds);
        const sites = filter.siteIds === undefined ? undefined : new Set(filter.siteIds);
        const out: Reading[] = [];
        for (const id of ids) {
          const row = latestOfDevice.get(id);
          if (row === undefined) continue;
          if (filter.kind !== undefined && row.kind !== filter.kind) continue;
          if (borrowers !== undefined && !borrowers.has(row.borrower_id)) continue;
          if (sites !== undefined && !sites.has(row.site_id)) continue;
          out.push(toReading(row));
        }
        return out;
      });
    },

    range(q: RangeQuery): Promise<Reading[]> {
      return query(() => {
        const { limit, order } = checkRangeQuery(q);
        if (matchesNothing(q)) return [];
        const where = whereSql(q, q);
        const dir = order === 'asc' ? 'ASC' : 'DESC';
        const rows = prepared<ReadingRow>(
          `SELECT ${READING_COLUMNS} FROM readings WHERE ${where.sql}
           ORDER BY ts ${dir}, device_id ${dir}, seq ${dir} LIMIT ?`,
        ).all(...where.params, limit);
        return rows.map(toReading);
      });
    },

    aggregate(q: AggregateQuery): Promise<AggregateRow[]> {
      return query(() => {
        checkAggregateQuery(q);
        if (matchesNothing(q)) return [];
        const ordered = q.fns === undefined || q.fns.includes('first') || q.fns.includes('last');
        const table = new PartialTable(q.intervalMs);
        const slots = slotPlan(q.kind, [q.field]);
        for (const seg of planSegments(q.fromMs, q.toMs, q.intervalMs, slots !== 'raw')) {
          if (seg.resMs !== 0 && slots !== 'raw') {
            forEachRollupPartial(prepared, q, q.groupBy, seg, slots, ordered, (g, start, _, p) =>
              table.add(g, start, q.field, p),
            );
            continue;
          }
          for (const r of rawAggregate(q, rawFilter(q, seg), seg, ordered)) {
            table.add(
              r.g,
              r.b,
              q.field,
              ordered
                ? {
                    n: r.n,
                    sum: r.total,
                    min: r.mn,
                    max: r.mx,
                    firstTs: r.fts,
                    firstSeq: r.fseq,
                    first: r.fv,
                    lastTs: r.lts,
                    lastSeq: r.lseq,
                    last: r.lv,
                  }
                : orderFree(r.n, r.total, r.mn, r.mx),
            );
          }
        }
        return aggregateRows(table, q.field, ordered);
      });
    },

    aggregateFields(q: FieldsAggregateQuery): Promise<FieldsAggregateRow[]> {
      return query(() => {
        checkFieldsAggregateQuery(q);
        if (matchesNothing(q)) return [];
        // Every segment is merged by one statement (sqlite-fields-aggregate.ts).
        const slots = slotPlan(q.kind, q.fields);
        const segments = planSegments(q.fromMs, q.toMs, q.intervalMs, slots !== 'raw');
        if (segments.length === 0) return [];
        const { sql, params } = fieldsAggregateSql(
          q,
          segments,
          slots === 'raw' ? [] : slots,
          (seg) => whereSql(rawFilter(q, seg), seg),
          q,
        );
        // Iterated, not fetched whole: each row's array dies young (a whole result of a portfolio's panel
        // held at once is promoted out of the young generation and costs more to collect than to read).
        const rows = prepared(sql)
          .raw()
          .iterate(...params) as Iterable<unknown[]>;
        return fieldsAggregateRows(rows, q.fields);
      });
    },

    aggregateGrid(q: FieldsGridQuery): Promise<FieldsGrid> {
      try {
        ensureOpen();
        checkFieldsGridQuery(q);
      } catch (err) {
        return Promise.reject(toStoreError(err, 'query'));
      }
      // A portfolio's grid on a reader thread while the store's thread reads the next (see GridReaders).
      // Only once the aggregates are complete for its fields: then its raw segments are a window's edges,
      // read by the (kind, ts) index, and never need this thread's device index, which knows its own
      // writes at once (a reader's learns them within a minute).
      const wide = q.deviceIds === undefined || q.deviceIds.length > READER_MIN_DEVICES;
      const threaded =
        wide &&
        readers !== undefined &&
        slotPlan(
          q.kind,
          q.fields.map((f) => f.field),
        ) !== 'raw'
          ? readers.tryRead(q)
          : undefined;
      if (threaded !== undefined)
        return threaded.catch((err: unknown) => Promise.reject(toStoreError(err, 'query')));
      return query(() => readGrid(ctx, q));
    },

    prune(cuts: RetentionCuts): Promise<PruneResult> {
      try {
        ensureOpen();
        checkRetentionCuts(cuts);
      } catch (err) {
        return Promise.reject(toStoreError(err, 'write'));
      }
      return writer.prune({ kinds: DEVICE_KINDS, ...cuts }).catch((err: unknown) => {
        throw toStoreError(err, 'write');
      });
    },

    count(q: SeriesFilter & { readonly fromMs?: number; readonly toMs?: number }): Promise<number> {
      return query(() => {
        const span = checkCountQuery(q);
        if (matchesNothing(q)) return 0;
        const where = whereSql(q, span);
        const n = prepared<number>(`SELECT count(*) FROM readings WHERE ${where.sql}`)
          .pluck()
          .get(...where.params);
        return n ?? 0;
      });
    },

    ping(): Promise<void> {
      return query(() => {
        db.prepare('SELECT 1').get();
      });
    },

    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      clearInterval(refreshStats);
      try {
        // Writes already handed over finish first; `closed` refuses new ones.
        await readers?.close();
        await writer.close();
        db.pragma('optimize');
        db.close();
        log.info({ path }, 'telemetry store (sqlite) closed');
      } catch (err) {
        throw toStoreError(err, 'query');
      }
    },
  };
}
