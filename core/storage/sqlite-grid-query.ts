import { GridBuilder, gridParts } from './fields-grid.js';
import { planSegments } from './resolution.js';
import { fieldsAggregateSql, fillGrid } from './sqlite-fields-aggregate.js';
import type { SqliteReadContext } from './sqlite-read-context.js';
import { whereSql } from './sqlite-telemetry-sql.js';
import type { FieldsGrid, FieldsGridQuery } from './telemetry-store.js';
import { matchesNothing } from './telemetry-validation.js';

/**
 * The SQLite store's `aggregateGrid` on a connection's read context, for a query already checked
 * (`checkFieldsGridQuery`): one statement over every segment of the window (`sqlite-fields-aggregate.ts`),
 * streamed into the grid. Run on the store's thread, or on a reader thread (`sqlite-grid-readers.ts`).
 */
export function readGrid(ctx: SqliteReadContext, q: FieldsGridQuery): FieldsGrid {
  const grid = new GridBuilder(q);
  if (matchesNothing(q)) return grid.finish();
  const fields = q.fields.map((f) => f.field);
  const parts = gridParts(q);
  const fq = { ...q, fields, groupBy: 'device' as const };
  const slots = ctx.slotPlan(q.kind, fields);
  const segments = planSegments(q.fromMs, q.toMs, q.intervalMs, slots !== 'raw');
  if (segments.length === 0) return grid.finish();
  const { sql, params } = fieldsAggregateSql(
    fq,
    segments,
    slots === 'raw' ? [] : slots,
    (seg) => whereSql(ctx.rawFilter(fq, seg), seg),
    q,
    { fromMs: q.fromMs, parts },
  );
  fillGrid(
    ctx
      .prepared(sql)
      .raw()
      .iterate(...params) as Iterable<unknown[]>,
    grid,
    parts,
  );
  return grid.finish();
}
