import type { GridBuilder, GridParts } from './fields-grid.js';
import type { Segment } from './resolution.js';
import { rollupWhere, slotColumns } from './sqlite-rollup.js';
import type {
  FieldsAggregateQuery,
  FieldsAggregateRow,
  FieldStats,
  SeriesFilter,
} from './telemetry-store.js';

/**
 * The SQLite store's one-pass aggregate of several fields (count/mean/min/max) over the resolutions: every
 * segment of the window (`resolution.ts` planSegments) is one arm of a UNION ALL giving per-row partials
 * (count, sum, min, max per field), and one GROUP BY merges them into the port's buckets, in the port's order.
 *
 * Why in SQL: a portfolio's daily panel reads about 1.2 M daily rows (10,000 borrowers, 121 days). Merged in
 * JavaScript (an object per row and field, a table of nested maps, then the rows) it took 18 s of CPU, two
 * thirds of it allocation and garbage collection; SQLite reads the same rows' sixteen numbers in 0.3 s and
 * sorts them for the GROUP BY in C. Pinned by the resolutions contract (core/test/telemetry-resolutions.contract.ts)
 * and the one-pass cases of core/test/telemetry-store.contract.ts; timed by `npm run bench:score`.
 */
/** A grid statement's shape: bucket indexes from `fromMs`, and only the partials each field needs. */
export interface GridSqlLayout {
  readonly fromMs: number;
  readonly parts: readonly GridParts[];
}

export interface FieldsAggregateSql {
  readonly sql: string;
  readonly params: (string | number)[];
}

const NUMERIC = (v: string): string => `CASE WHEN typeof(${v}) IN ('integer', 'real') THEN ${v} END`;

function groupColumn(groupBy: FieldsAggregateQuery['groupBy']): string {
  return groupBy === 'device' ? 'device_id' : groupBy === 'borrower' ? 'borrower_id' : "'*'";
}

/**
 * The statement over `segments`. Raw segments read the readings (`rawWhere` gives their filter); the others
 * the rollup rows, a field's slot from `slots` (`'none'`: no reading of the kind ever had it).
 */
export function fieldsAggregateSql(
  q: FieldsAggregateQuery,
  segments: readonly Segment[],
  slots: readonly (number | 'none')[],
  rawWhere: (seg: Segment) => { sql: string; params: (string | number)[] },
  rollupFilter: SeriesFilter,
  grid?: GridSqlLayout,
): FieldsAggregateSql {
  const g = groupColumn(q.groupBy);
  // Which of a field's partials are read: all four for merged rows; a grid's field only those its stats need.
  const kept = (i: number): readonly boolean[] => {
    const p = grid?.parts[i];
    return p === undefined ? [true, true, true, true] : [true, p.sum, p.min, p.max];
  };
  const partCols = (i: number): string[] =>
    [`c${i}`, `s${i}`, `lo${i}`, `hi${i}`].filter((_, j) => kept(i)[j]);
  const mergeCols = q.fields
    .flatMap((_, i) =>
      [`sum(c${i})`, `sum(s${i})`, `min(lo${i})`, `max(hi${i})`].filter((_, j) => kept(i)[j]),
    )
    .join(', ');
  // A grid's bucket is its index from the query's start (a small integer: cheaper to hand to JavaScript than an
  // epoch millisecond, which is not a small integer there); merged rows carry the bucket's start. The casts keep
  // the division integral: better-sqlite3 binds every JavaScript number as a REAL.
  const bucket = (col: string): { sql: string; params: number[] } =>
    grid === undefined
      ? { sql: `${col} - (${col} % ?)`, params: [q.intervalMs] }
      : { sql: `(${col} - CAST(? AS INTEGER)) / CAST(? AS INTEGER)`, params: [grid.fromMs, q.intervalMs] };
  const ctes: string[] = [];
  const cteParams: (string | number)[] = [];
  const arms: string[] = [];
  const armParams: (string | number)[] = [];
  segments.forEach((seg, k) => {
    if (seg.resMs === 0) {
      // Each field is extracted once per reading (a materialised CTE; a flattened one repeats the JSON work).
      const where = rawWhere(seg);
      const b = bucket('ts');
      const vals = q.fields.map((_, i) => `json_extract(fields, ?) AS v${i}`).join(', ');
      ctes.push(
        `r${k} AS MATERIALIZED (SELECT ${g} AS g, ${b.sql} AS b, ${vals} FROM readings WHERE ${where.sql})`,
      );
      cteParams.push(...b.params, ...q.fields.map((f) => `$.${f}`), ...where.params);
      const cols = q.fields.flatMap((_, i) => {
        const v = NUMERIC(`v${i}`);
        const parts = [`CASE WHEN typeof(v${i}) IN ('integer', 'real') THEN 1 END`, v, v, v].filter(
          (_, j) => kept(i)[j],
        );
        return parts.map((e, j) => `${e} AS ${partCols(i)[j]}`);
      });
      const arm = `SELECT g, b, ${cols.join(', ')} FROM r${k}`;
      // Unmerged (a grid): a raw segment's readings are still grouped here, so rows are partials per bucket.
      arms.push(grid === undefined ? arm : `SELECT g, b, ${mergeCols} FROM (${arm}) GROUP BY g, b`);
      return;
    }
    const where = rollupWhere(rollupFilter);
    const b = bucket('start_ms');
    const cols = slots.flatMap((slot, i) =>
      slot === 'none'
        ? partCols(i).map((c) => `NULL AS ${c}`)
        : slotColumns(slot)
            .slice(0, 4)
            .filter((_, j) => kept(i)[j])
            .map((c, j) => `${c} AS ${partCols(i)[j]}`),
    );
    arms.push(`SELECT ${g} AS g, ${b.sql} AS b, ${cols.join(', ')} FROM readings_rollup WHERE ${where.sql}`);
    armParams.push(...b.params, seg.resMs, seg.fromMs, seg.toMs, ...where.params);
  });
  const with_ = ctes.length > 0 ? `WITH ${ctes.join(', ')} ` : '';
  const sql =
    grid === undefined
      ? `${with_}SELECT g, b, ${mergeCols} FROM (${arms.join(' UNION ALL ')}) GROUP BY g, b ORDER BY g, b`
      : `${with_}${arms.join(' UNION ALL ')}`;
  return { sql, params: [...cteParams, ...armParams] };
}

/**
 * A grid (`fields-grid.ts`) from the grid statement (`grid` given): its rows are the segments' partials
 * (`[device, bucket index, n0, (sum0), (min0), (max0), n1, …]`, the bracketed ones as `parts` keeps them), each
 * merged into its device's array as it streams by: no GROUP BY sort of the portfolio's rows in SQLite and no
 * object per row in JavaScript. The device's array is looked up once per row, not once per field.
 */
export function fillGrid(
  rows: Iterable<readonly unknown[]>,
  grid: GridBuilder,
  parts: readonly GridParts[],
): void {
  const fields = parts.length;
  // Offsets of each field's partials in a row (−1: not read).
  const off = new Int32Array(fields * 4);
  let o = 2;
  parts.forEach((p, i) => {
    off[i * 4] = o++;
    off[i * 4 + 1] = p.sum ? o++ : -1;
    off[i * 4 + 2] = p.min ? o++ : -1;
    off[i * 4 + 3] = p.max ? o++ : -1;
  });
  const B = grid.buckets;
  for (const row of rows) {
    const b = row[1] as number;
    if (!(b >= 0 && b < B)) continue;
    let arr: Float64Array | undefined;
    for (let i = 0; i < fields; i++) {
      const n = row[off[i * 4] as number] as number | null;
      if (n === null || !(n > 0)) continue;
      const s = off[i * 4 + 1] as number;
      const lo = off[i * 4 + 2] as number;
      const hi = off[i * 4 + 3] as number;
      arr ??= grid.device(row[0] as string);
      grid.merge(
        arr,
        b,
        i,
        n,
        s < 0 ? 0 : (row[s] as number),
        lo < 0 ? 0 : (row[lo] as number),
        hi < 0 ? 0 : (row[hi] as number),
      );
    }
  }
}

/** The port's rows from the statement's raw rows (`[g, b, n0, sum0, min0, max0, n1, …]`). */
export function fieldsAggregateRows(
  rows: Iterable<readonly unknown[]>,
  fields: readonly string[],
): FieldsAggregateRow[] {
  const out: FieldsAggregateRow[] = [];
  for (const row of rows) {
    let stats: Record<string, FieldStats> | undefined;
    for (let i = 0; i < fields.length; i++) {
      const o = 2 + i * 4;
      const n = row[o] as number | null;
      if (n === null || !(n > 0)) continue;
      stats ??= {};
      stats[fields[i] as string] = {
        count: n,
        mean: (row[o + 1] as number) / n,
        min: row[o + 2] as number,
        max: row[o + 3] as number,
      };
    }
    if (stats !== undefined) out.push({ group: String(row[0]), startMs: row[1] as number, fields: stats });
  }
  return out;
}
