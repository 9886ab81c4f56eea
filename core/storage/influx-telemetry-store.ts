import type { DeviceKind, Reading } from '../contracts/index.js';
import { RiskfuseError, errorMessage } from '../errors.js';
import { silentLogger, type Logger } from '../logger.js';
import { GridBuilder } from './fields-grid.js';
import {
  chunkLines,
  conditions,
  influxqlIdent,
  kindsOf,
  rejected,
  seriesReadings,
  TAG_BORROWER,
  TAG_DEVICE,
  toLine,
  unavailable,
  type StatementResult,
} from './influx-protocol.js';
import { connectInflux, type InfluxTelemetryConfig } from './influx-http.js';
import {
  DOWNSAMPLE_LAG_MS,
  DOWNSAMPLE_RP,
  downsampleStatements,
  ensureDownsampling,
  type InfluxRetention,
} from './influx-downsampling.js';
import {
  aggregateRows,
  fieldsRows,
  HOUR_MS,
  PartialTable,
  planSegments,
  type Partial,
  type Segment,
} from './resolution.js';
import type {
  AggregateQuery,
  AggregateRow,
  FieldsAggregateQuery,
  FieldsAggregateRow,
  FieldsGrid,
  FieldsGridQuery,
  PruneResult,
  RangeQuery,
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
  compareReadings,
  compareText,
  matchesNothing,
} from './telemetry-validation.js';

export type { InfluxTelemetryConfig } from './influx-http.js';

/**
 * The InfluxDB telemetry store. It speaks only the HTTP API every InfluxDB generation shares: line-protocol
 * writes (`/write`, or `/api/v2/write` through @influxdata/influxdb-client) and InfluxQL queries (`/query`),
 * so it runs on 1.x, on 2.x through the v1 compatibility API and on 3.x.
 *
 * Data model: measurement = device kind; tags device, borrower, site; fields = the reading's fields (every
 * number as a float, so a field never changes type between readings) plus `seq` as a float. The point's time
 * is `ts × 10⁶ + seq mod 10⁶` ns, which makes (device, ts, seq) the point's identity: writing a reading again
 * overwrites the same point, so redelivery is idempotent. Reading back, ts = ⌊time / 10⁶⌋ (what `epoch=ms`
 * returns) and seq comes from its field. (Two readings of one device in the same millisecond whose seqs differ
 * by a multiple of 10⁶ would collide; devices do not produce those.)
 */

export interface InfluxTelemetryStore extends TelemetryStore {
  readonly backend: 'influxdb';
  readonly url: string;
  readonly database: string;
  /** `CREATE DATABASE` when `influxCreateDatabase` is `auto` (a no-op when it exists); logs and goes on when
   * the server forbids it. Throws STORE_UNAVAILABLE when the server cannot be reached. */
  ensureDatabase(): Promise<void>;
  /**
   * Creates the retention policies and continuous queries of `influx-downsampling.ts` (idempotent; history stored
   * before them is downsampled once) and from then on serves windows from the coarsest measurement that tiles
   * them. Logs and keeps reading raw points where the server has no continuous queries (2.x, 3.x).
   */
  ensureDownsampling(retention: InfluxRetention): Promise<boolean>;
  /** Recomputes the hourly and daily aggregates of `[fromMs, toMs)` (what the continuous queries do every hour). */
  downsample(fromMs: number, toMs: number): Promise<void>;
}

export function createInfluxTelemetryStore(
  cfg: InfluxTelemetryConfig,
  opts: { log?: Logger } = {},
): InfluxTelemetryStore {
  const log = (opts.log ?? silentLogger).child({ store: 'influxdb' });
  const conn = connectInflux(cfg, log);
  const { database, shownUrl, http, ensureDatabase, influxql, write } = conn;

  let closed = false;
  const ensureOpen = (): void => {
    if (closed) throw new RiskfuseError('SHUTTING_DOWN', 'telemetry store (influxdb) is closed');
  };

  const readingsOf = (results: readonly StatementResult[]): Reading[][] =>
    results.map((r) => r.series.flatMap(seriesReadings));

  // Windows are served from the downsampled measurements up to the freshness cut (see influx-downsampling.ts),
  // from raw points after it; segments as in resolution.ts.
  let downsampled = false;
  const segmentsOf = (q: { fromMs: number; toMs: number; intervalMs: number }): Segment[] => {
    const whole: Segment = { fromMs: q.fromMs, toMs: q.toMs, resMs: 0 };
    if (!downsampled) return [whole];
    const cut = Math.min(q.toMs, Math.floor((Date.now() - DOWNSAMPLE_LAG_MS) / HOUR_MS) * HOUR_MS);
    if (cut <= q.fromMs) return [whole];
    const tail: Segment[] = cut < q.toMs ? [{ fromMs: cut, toMs: q.toMs, resMs: 0 }] : [];
    return [...planSegments(q.fromMs, cut, q.intervalMs), ...tail];
  };

  /**
   * Partial aggregates of the fields per (group, bucket), one statement per segment in one request. Segments are
   * disjoint in time and in order, so a segment's bounds stand for its first/last points' times when merging.
   */
  const forEachPartial = async (
    q: SeriesFilter & {
      kind: DeviceKind;
      fromMs: number;
      toMs: number;
      intervalMs: number;
      groupBy: 'device' | 'borrower' | 'none';
    },
    fields: readonly string[],
    ordered: boolean,
    each: (group: string, startMs: number, field: number, p: Partial) => void,
  ): Promise<void> => {
    const groupTag =
      q.groupBy === 'device' ? TAG_DEVICE : q.groupBy === 'borrower' ? TAG_BORROWER : undefined;
    const groupBy = `GROUP BY time(${q.intervalMs}ms)${groupTag === undefined ? '' : `, ${influxqlIdent(groupTag)}`} fill(none)`;
    const segments = segmentsOf(q);
    const statements = segments.map((seg) => {
      const rollup = seg.resMs !== 0;
      const col = (fn: string, f: string): string => influxqlIdent(rollup ? `${fn}_${f}` : f);
      const select = fields
        .flatMap((f, i) => [
          `${rollup ? 'sum' : 'count'}(${col('count', f)}) AS "n_${i}"`,
          `sum(${col('sum', f)}) AS "s_${i}"`,
          `min(${col('min', f)}) AS "lo_${i}"`,
          `max(${col('max', f)}) AS "hi_${i}"`,
          ...(ordered
            ? [`first(${col('first', f)}) AS "fv_${i}"`, `last(${col('last', f)}) AS "lv_${i}"`]
            : []),
        ])
        .join(', ');
      const from = rollup
        ? `${influxqlIdent(database)}.${influxqlIdent(DOWNSAMPLE_RP[seg.resMs] as string)}.${influxqlIdent(q.kind)}`
        : influxqlIdent(q.kind);
      return `SELECT ${select} FROM ${from}${conditions(q, seg, 'all')} ${groupBy}`;
    });
    const results = await influxql(statements);
    results.forEach((result, k) => {
      const seg = segments[k] as Segment;
      for (const s of result.series) {
        const group = groupTag === undefined ? '*' : (s.tags?.[groupTag] ?? '');
        const iTime = s.columns.indexOf('time');
        const idx = fields.map((_, i) =>
          ['n', 's', 'lo', 'hi', 'fv', 'lv'].map((p) => s.columns.indexOf(`${p}_${i}`)),
        );
        for (const v of s.values) {
          fields.forEach((_, i) => {
            const [n, sum, lo, hi, fv, lv] = (idx[i] as number[]).map((j) => (j < 0 ? null : v[j]));
            // A field without points in a bucket other fields fill comes back with null stats; strings have no sum.
            if (n === null || Number(n) === 0 || sum === null || sum === undefined) return;
            const p: Partial = {
              n: Number(n),
              sum: Number(sum),
              min: Number(lo),
              max: Number(hi),
              firstTs: seg.fromMs,
              firstSeq: 0,
              first: ordered ? Number(fv) : Number.NaN,
              lastTs: seg.toMs,
              lastSeq: 0,
              last: ordered ? Number(lv) : Number.NaN,
            };
            each(group, Number(v[iTime]), i, p);
          });
        }
      }
    });
  };
  const partials = async (
    q: Parameters<typeof forEachPartial>[0],
    fields: readonly string[],
    ordered: boolean,
  ): Promise<PartialTable> => {
    const table = new PartialTable(q.intervalMs);
    await forEachPartial(q, fields, ordered, (g, start, i, p) => table.add(g, start, fields[i] as string, p));
    return table;
  };

  const downsample = async (fromMs: number, toMs: number): Promise<void> => {
    ensureOpen();
    await influxql(downsampleStatements(database, fromMs, toMs));
  };

  return {
    backend: 'influxdb',
    url: shownUrl,
    database,
    ensureDatabase,

    async writeReadings(readings: readonly Reading[]): Promise<WriteResult> {
      ensureOpen();
      checkReadings(readings);
      if (readings.length === 0) return { written: 0 };
      const chunks = chunkLines(readings.map(toLine));
      for (const lines of chunks) {
        await write(lines);
      }
      return { written: readings.length };
    },

    async latest(filter: SeriesFilter): Promise<Reading[]> {
      ensureOpen();
      checkFilter(filter);
      if (matchesNothing(filter)) return [];
      // Same meaning as the SQLite adapter: a device matches when its latest reading does, so borrower and site
      // are checked on that reading here rather than in the WHERE clause. `last(*)` would mix fields of
      // different points, hence the newest row per device group.
      const where = conditions(filter, undefined, 'device');
      const results = await influxql(
        kindsOf(filter).map(
          (k) => `SELECT * FROM ${influxqlIdent(k)}${where} GROUP BY "device" ORDER BY time DESC LIMIT 1`,
        ),
      );
      const byDevice = new Map<string, Reading>();
      for (const r of readingsOf(results).flat()) {
        const seen = byDevice.get(r.deviceId);
        if (seen === undefined || compareReadings(seen, r) < 0) byDevice.set(r.deviceId, r);
      }
      const borrowers = filter.borrowerIds === undefined ? undefined : new Set(filter.borrowerIds);
      const sites = filter.siteIds === undefined ? undefined : new Set(filter.siteIds);
      return [...byDevice.values()]
        .filter(
          (r) =>
            (borrowers === undefined || borrowers.has(r.borrowerId)) &&
            (sites === undefined || sites.has(r.siteId)),
        )
        .sort((a, b) => compareText(a.deviceId, b.deviceId));
    },

    async range(q: RangeQuery): Promise<Reading[]> {
      ensureOpen();
      const { limit, order } = checkRangeQuery(q);
      if (matchesNothing(q)) return [];
      const kinds = kindsOf(q);
      const dir = order === 'asc' ? 'ASC' : 'DESC';
      const cmp = order === 'asc' ? compareReadings : (a: Reading, b: Reading) => compareReadings(b, a);
      const where = conditions(q, q, 'all');
      const perKind = readingsOf(
        await influxql(
          kinds.map((k) => `SELECT * FROM ${influxqlIdent(k)}${where} ORDER BY time ${dir} LIMIT ${limit}`),
        ),
      );
      let rows = perKind.flat().sort(cmp);
      // InfluxDB orders by time only; the port orders ties in ts by deviceId. A measurement that hit the limit
      // exactly at the cut-off millisecond may hold more readings of that millisecond that sort earlier, so
      // fetch that millisecond whole and cut again.
      const cutoff = rows[limit - 1]?.ts;
      if (cutoff !== undefined) {
        const partial = kinds.filter((_, i) => {
          const got = perKind[i] ?? [];
          return got.length === limit && got[got.length - 1]?.ts === cutoff;
        });
        if (partial.length > 0) {
          const msWhere = conditions(q, { fromMs: cutoff, toMs: cutoff + 1 }, 'all');
          const extra = readingsOf(
            await influxql(partial.map((k) => `SELECT * FROM ${influxqlIdent(k)}${msWhere}`)),
          ).flat();
          const redone = new Set<string>(partial);
          rows = rows
            .filter((r) => !(r.ts === cutoff && redone.has(r.kind)))
            .concat(extra)
            .sort(cmp);
        }
      }
      return rows.slice(0, limit);
    },

    async aggregate(q: AggregateQuery): Promise<AggregateRow[]> {
      ensureOpen();
      checkAggregateQuery(q);
      if (matchesNothing(q)) return [];
      const ordered = q.fns === undefined || q.fns.includes('first') || q.fns.includes('last');
      const table = await partials(q, [q.field], ordered);
      return aggregateRows(table, q.field, ordered);
    },

    async aggregateFields(q: FieldsAggregateQuery): Promise<FieldsAggregateRow[]> {
      ensureOpen();
      checkFieldsAggregateQuery(q);
      if (matchesNothing(q)) return [];
      const table = await partials(q, q.fields, false);
      return fieldsRows(table, q.fields);
    },

    async aggregateGrid(q: FieldsGridQuery): Promise<FieldsGrid> {
      ensureOpen();
      checkFieldsGridQuery(q);
      const grid = new GridBuilder(q);
      if (matchesNothing(q)) return grid.finish();
      // One statement per resolution segment, each grouped by time and device tag (GROUP BY in InfluxDB).
      const fields = q.fields.map((f) => f.field);
      await forEachPartial({ ...q, groupBy: 'device' }, fields, false, (g, start, i, p) =>
        grid.add(g, start, i, p.n, p.sum, p.min, p.max),
      );
      return grid.finish();
    },

    async ensureDownsampling(retention: InfluxRetention): Promise<boolean> {
      ensureOpen();
      try {
        await ensureDownsampling(
          conn.statementErrors,
          conn.showDownsampling,
          database,
          retention,
          () => downsample(0, Date.now()),
          log,
        );
        downsampled = true;
      } catch (err) {
        if (err instanceof RiskfuseError && err.code === 'STORE_UNAVAILABLE') throw err;
        log.warn(
          { err: errorMessage(err) },
          'InfluxDB downsampling not available (continuous queries are a 1.x feature); reading raw points',
        );
      }
      return downsampled;
    },

    downsample,

    async count(q: SeriesFilter & { readonly fromMs?: number; readonly toMs?: number }): Promise<number> {
      ensureOpen();
      const span = checkCountQuery(q);
      if (matchesNothing(q)) return 0;
      const where = conditions(q, span, 'all');
      // seq is in every point, so count(seq) counts readings.
      const results = await influxql(
        kindsOf(q).map((k) => `SELECT count("seq") FROM ${influxqlIdent(k)}${where}`),
      );
      let total = 0;
      for (const r of results) {
        for (const s of r.series) {
          const i = s.columns.indexOf('count');
          for (const row of s.values) total += Number(row[i]);
        }
      }
      return total;
    },

    prune(): Promise<PruneResult> {
      // This adapter keeps no hourly/daily measurements yet: deleting raw points would lose what features
      // and charts read. Retention stays with the database's own retention policy until it does.
      return Promise.reject(
        rejected('retention by the application is not available on InfluxDB; use a retention policy'),
      );
    },

    async ping(): Promise<void> {
      ensureOpen();
      const res = await http('GET', '/ping', {});
      // 1.x and 2.x answer 204, 3.x 200.
      if (res.status < 200 || res.status >= 300) throw unavailable(`ping answered HTTP ${res.status}`);
    },

    close(): Promise<void> {
      closed = true;
      return Promise.resolve();
    },
  };
}
