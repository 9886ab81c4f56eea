import type Database from 'better-sqlite3';
import { DAY_MS, HOUR_MS, type Partial } from './resolution.js';
import { filterConditions } from './sqlite-telemetry-sql.js';
import type { SeriesFilter } from './telemetry-store.js';

/**
 * Hourly and daily aggregates of the SQLite telemetry store (see `resolution.ts` for how queries use them).
 *
 * One row per (resolution, kind, bucket, device) with typed numeric columns: ROLLUP_SLOTS slots of ten
 * columns, `[count, sum, min, max, firstTs, firstSeq, first, lastTs, lastSeq, last]` of one numeric field
 * each; `rollup_slots` says which field of a kind sits in which slot (assigned by the writer the first time a
 * kind's field carries a number). A kind with more numeric fields than slots keeps the extra ones at raw
 * resolution only (slot −1: queries over them read the readings).
 *
 * Why typed columns and this key, not one JSON column per row: a portfolio's daily panel reads a few fields of
 * every device of a kind over a window. With JSON (about 600 bytes per stake-day) the read materialised and
 * parsed every field of every row: 489k stake-days took 6.2 s of CPU to read and 2 s to parse on this
 * machine, more than reading the raw readings. Typed columns are read only where asked for (a stake-day's
 * four panel fields are sixteen numbers), and the primary key puts a kind's devices of one day next to each
 * other, so a kind-wide window is one range scan — no per-device probe and no device list to build first.
 * Reads by device and by borrower use their own indexes; an existing row's update rewrites only the
 * primary-key row (the indexed columns do not change).
 *
 * Maintained in the writer's transaction (`sqlite-writer.ts`) from the readings that were really inserted (a
 * duplicate is ignored by the primary key and does not count twice), one upsert per (resolution, device,
 * bucket) touched by a batch, merged in SQL, so an acknowledged reading is in its aggregates as durably as in
 * the readings table, and a late one (a device's offline queue, a replay) updates the hour and day it belongs
 * to. A store that predates this table builds it once on the writer thread, page by page and resumable
 * (`rollup_build`; queries read raw readings until it is done).
 */
export const ROLLUP_SLOTS = 16;

/** The ten columns of a slot, in the tuple order above. */
export const slotColumns = (i: number): string[] =>
  ['c', 's', 'lo', 'hi', 'ft', 'fq', 'fv', 'lt', 'lq', 'lv'].map((p) => `${p}${i}`);
const SLOT_INDEXES = Array.from({ length: ROLLUP_SLOTS }, (_, i) => i);

export const ROLLUP_MIGRATION = `
  CREATE TABLE rollup_slots (
    kind  TEXT    NOT NULL,
    field TEXT    NOT NULL,
    slot  INTEGER NOT NULL, -- 0..${ROLLUP_SLOTS - 1}, or -1: no slot left, raw resolution only
    PRIMARY KEY (kind, field)
  ) WITHOUT ROWID;
  CREATE TABLE readings_rollup (
    res_ms      INTEGER NOT NULL,
    kind        TEXT    NOT NULL,
    start_ms    INTEGER NOT NULL,
    device_id   TEXT    NOT NULL,
    borrower_id TEXT    NOT NULL,
    site_id     TEXT    NOT NULL,
    n           INTEGER NOT NULL,
    ${SLOT_INDEXES.map((i) => slotColumns(i).join(', ')).join(',\n    ')},
    PRIMARY KEY (res_ms, kind, start_ms, device_id)
  ) WITHOUT ROWID;
  CREATE INDEX readings_rollup_device ON readings_rollup (res_ms, device_id, start_ms);
  CREATE INDEX readings_rollup_borrower ON readings_rollup (res_ms, borrower_id, start_ms);
  CREATE TABLE rollup_backfill (pending INTEGER NOT NULL);
  INSERT INTO rollup_backfill SELECT 1 WHERE EXISTS (SELECT 1 FROM readings);`;

/**
 * The build of the aggregates of readings stored before they existed becomes resumable: `rollup_build` holds
 * the primary key of the last reading built (its row is gone once the build is complete). A file at version 2
 * whose build had not run keeps no partial aggregates: only writes since had rolled up, and the build counts
 * every reading from the start again.
 */
export const ROLLUP_BUILD_MIGRATION = `
  CREATE TABLE rollup_build (
    after_device TEXT    NOT NULL,
    after_ts     INTEGER NOT NULL,
    after_seq    INTEGER NOT NULL,
    done         INTEGER NOT NULL, -- readings built so far
    total        INTEGER           -- readings when the build started (NULL until counted)
  );
  DELETE FROM readings_rollup WHERE EXISTS (SELECT 1 FROM rollup_backfill);
  INSERT INTO rollup_build SELECT '', -1, -1, 0, NULL WHERE EXISTS (SELECT 1 FROM rollup_backfill);
  DROP TABLE rollup_backfill;`;

/**
 * The SET clause that merges a slot of the incoming partial (`excluded`) into the stored row: SQLite evaluates
 * every right-hand side against the old row, so the comparisons see the stored first/last.
 */
function mergeSlotSql(i: number): string {
  const [c, s, lo, hi, ft, fq, fv, lt, lq, lv] = slotColumns(i) as [
    string,
    string,
    string,
    string,
    string,
    string,
    string,
    string,
    string,
    string,
  ];
  const x = (col: string): string => `excluded.${col}`;
  const pick = (col: string, better: string): string =>
    `${col} = CASE WHEN ${x(c)} IS NULL THEN ${col} WHEN ${c} IS NULL OR ${better} THEN ${x(col)} ELSE ${col} END`;
  const earlier = `${x(ft)} < ${ft} OR (${x(ft)} = ${ft} AND ${x(fq)} < ${fq})`;
  const later = `${x(lt)} > ${lt} OR (${x(lt)} = ${lt} AND ${x(lq)} > ${lq})`;
  return [
    `${c} = CASE WHEN ${x(c)} IS NULL THEN ${c} WHEN ${c} IS NULL THEN ${x(c)} ELSE ${c} + ${x(c)} END`,
    `${s} = CASE WHEN ${x(c)} IS NULL THEN ${s} WHEN ${c} IS NULL THEN ${x(s)} ELSE ${s} + ${x(s)} END`,
    pick(lo, `${x(lo)} < ${lo}`),
    pick(hi, `${x(hi)} > ${hi}`),
    pick(fv, earlier),
    pick(ft, earlier),
    pick(fq, earlier),
    pick(lv, later),
    pick(lt, later),
    pick(lq, later),
  ].join(', ');
}

/**
 * The upsert of a row whose kind uses slots `0..width-1` (slots are assigned in order, see `slotOf` below):
 * only those slots' columns are bound and merged; the others stay NULL on insert and untouched on update.
 *
 * Why not one statement over all ROLLUP_SLOTS slots: a stake uses 8 of the 16, and binding 167 values and
 * evaluating 160 CASE merges per row, for two rows (hour, day) per reading, made the aggregates cost the
 * writer thread three times what the reading's own insert does (`npm run bench:ingest`, CPU profile of the
 * writer thread). Pinned by core/test/telemetry-rollup-width.test.ts (a kind gaining fields after rows exist).
 */
function upsertSql(width: number): string {
  const slots = SLOT_INDEXES.slice(0, width);
  const columns = slots.flatMap(slotColumns);
  return (
    `INSERT INTO readings_rollup (res_ms, kind, start_ms, device_id, borrower_id, site_id, n${columns.map((c) => `, ${c}`).join('')}) ` +
    `VALUES (${new Array(7 + columns.length).fill('?').join(', ')}) ` +
    `ON CONFLICT (res_ms, kind, start_ms, device_id) DO UPDATE SET n = n + excluded.n` +
    slots.map((i) => `, ${mergeSlotSql(i)}`).join('')
  );
}
const UPSERT_SQL = Array.from({ length: ROLLUP_SLOTS + 1 }, (_, w) => upsertSql(w));

/**
 * The writer thread's part, as source text (the thread runs an eval'd script, see `sqlite-writer.ts`):
 * `rollUpWritten(readings)` folds newly inserted readings into their rows (in the caller's transaction),
 * `buildStep(limit)` builds the next page of a pending build in its own, `pruneRollup(res, kinds, beforeMs)`
 * deletes old rows; `reloadSlots()` after a failed transaction (a slot it assigned was rolled back).
 */
export const ROLLUP_WRITER_SOURCE = `
const ROLLUP_RES = [${HOUR_MS}, ${DAY_MS}];
const SLOTS = ${ROLLUP_SLOTS};
const TUPLE = 10;
// One statement per slot width, prepared on first use (see upsertSql).
const UPSERT_SQL = ${JSON.stringify(UPSERT_SQL)};
const upserts = [];
function upsertFor(width) {
  let s = upserts[width];
  if (s === undefined) {
    s = db.prepare(UPSERT_SQL[width]);
    upserts[width] = s;
  }
  return s;
}
const slotsOfKind = db.prepare('SELECT field, slot FROM rollup_slots WHERE kind = ?');
const addSlot = db.prepare('INSERT INTO rollup_slots (kind, field, slot) VALUES (?, ?, ?)');
let slotMaps = new Map();
function reloadSlots() { slotMaps = new Map(); }
function slotMap(kind) {
  let m = slotMaps.get(kind);
  if (m === undefined) {
    m = new Map(slotsOfKind.all(kind).map((r) => [r.field, r.slot]));
    slotMaps.set(kind, m);
  }
  return m;
}
// Slots a kind uses (they are assigned 0, 1, 2, … in order): the width of its rows' upsert.
function widthOf(kind) {
  let used = 0;
  for (const v of slotMap(kind).values()) if (v >= 0) used += 1;
  return used;
}
function slotOf(kind, field) {
  let m = slotMap(kind);
  let s = m.get(field);
  if (s !== undefined) return s;
  // Another process may have assigned slots since: read them again inside this (write) transaction.
  m = new Map(slotsOfKind.all(kind).map((r) => [r.field, r.slot]));
  slotMaps.set(kind, m);
  s = m.get(field);
  if (s !== undefined) return s;
  let used = 0;
  for (const v of m.values()) if (v >= 0) used += 1;
  s = used < SLOTS ? used : -1;
  addSlot.run(kind, field, s);
  m.set(field, s);
  return s;
}
function addToSlots(acc, r) {
  for (const k in r.fields) {
    const v = r.fields[k];
    if (typeof v !== 'number') continue;
    const slot = slotOf(r.kind, k);
    if (slot < 0) continue;
    const o = 7 + slot * TUPLE;
    // A slot assigned since the row's accumulator was made (a kind's new field) widens it.
    while (acc.length < o + TUPLE) acc.push(null);
    if (acc[o] === null) {
      acc[o] = 1; acc[o + 1] = v; acc[o + 2] = v; acc[o + 3] = v;
      acc[o + 4] = r.ts; acc[o + 5] = r.seq; acc[o + 6] = v; acc[o + 7] = r.ts; acc[o + 8] = r.seq; acc[o + 9] = v;
      continue;
    }
    acc[o] += 1; acc[o + 1] += v;
    if (v < acc[o + 2]) acc[o + 2] = v;
    if (v > acc[o + 3]) acc[o + 3] = v;
    if (r.ts < acc[o + 4] || (r.ts === acc[o + 4] && r.seq < acc[o + 5])) { acc[o + 4] = r.ts; acc[o + 5] = r.seq; acc[o + 6] = v; }
    if (r.ts > acc[o + 7] || (r.ts === acc[o + 7] && r.seq > acc[o + 8])) { acc[o + 7] = r.ts; acc[o + 8] = r.seq; acc[o + 9] = v; }
  }
}
function rollUp(readings) {
  // One upsert per (resolution, device, bucket) the batch touches: its readings are merged here first.
  const buckets = new Map();
  const widths = new Map();
  for (const r of readings) {
    let width = widths.get(r.kind);
    if (width === undefined) {
      width = widthOf(r.kind);
      widths.set(r.kind, width);
    }
    for (const res of ROLLUP_RES) {
      const start = r.ts - (r.ts % res);
      const key = res + '\\u0000' + r.deviceId + '\\u0000' + start;
      let acc = buckets.get(key);
      if (acc === undefined) {
        acc = new Array(7 + width * TUPLE).fill(null);
        acc[0] = res; acc[1] = r.kind; acc[2] = start; acc[3] = r.deviceId; acc[4] = r.borrowerId; acc[5] = r.siteId; acc[6] = 0;
        buckets.set(key, acc);
      }
      acc[6] += 1;
      addToSlots(acc, r);
    }
  }
  for (const acc of buckets.values()) upsertFor((acc.length - 7) / TUPLE).run(acc);
}
// The one-time build of a file that predates the aggregates (rollup_build holds its cursor): pages of readings
// in primary-key order, one transaction each, so the readings written meanwhile wait for a page, not the build,
// and a stopped build resumes where it was. A reading written during the build is rolled up by its write when
// the build has passed its key, else by the build when it gets there: never both, never neither.
const buildRow = db.prepare('SELECT after_device, after_ts, after_seq, done, total FROM rollup_build');
const buildPage = db.prepare('SELECT device_id, ts, seq, kind, borrower_id, site_id, fields FROM readings WHERE (device_id, ts, seq) > (?, ?, ?) ORDER BY device_id, ts, seq LIMIT ?');
const buildAdvance = db.prepare('UPDATE rollup_build SET after_device = ?, after_ts = ?, after_seq = ?, done = done + ?');
let building = true;
function buildCursor() {
  if (!building) return undefined;
  const c = buildRow.get();
  if (c === undefined) building = false;
  return c;
}
function passedBy(c) {
  return (r) => r.deviceId < c.after_device || (r.deviceId === c.after_device && (r.ts < c.after_ts || (r.ts === c.after_ts && r.seq <= c.after_seq)));
}
function rollUpWritten(readings) {
  const c = buildCursor();
  rollUp(c === undefined ? readings : readings.filter(passedBy(c)));
}
const buildStep = db.transaction((limit) => {
  const c = buildCursor();
  if (c === undefined) return undefined;
  const rows = buildPage.all(c.after_device, c.after_ts, c.after_seq, limit);
  if (rows.length === 0) {
    db.exec('DELETE FROM rollup_build');
    building = false;
    return { done: c.done, total: c.total, finished: true };
  }
  rollUp(rows.map((row) => ({ deviceId: row.device_id, ts: row.ts, seq: row.seq, kind: row.kind, borrowerId: row.borrower_id, siteId: row.site_id, fields: JSON.parse(row.fields) })));
  const last = rows[rows.length - 1];
  buildAdvance.run(last.device_id, last.ts, last.seq, rows.length);
  return { done: c.done + rows.length, total: c.total, finished: false };
});
function buildTotal() {
  const c = buildCursor();
  if (c === undefined || c.total !== null) return;
  // Counted once, outside a write transaction (it reads the whole primary key).
  const total = db.prepare('SELECT count(*) FROM readings').pluck().get();
  db.prepare('UPDATE rollup_build SET total = ? WHERE total IS NULL').run(total);
}
const pruneRollupStmt = db.prepare('DELETE FROM readings_rollup WHERE res_ms = ? AND kind IN (SELECT value FROM json_each(?)) AND start_ms < ?');
function pruneRollup(res, kinds, beforeMs) { return pruneRollupStmt.run(res, JSON.stringify(kinds), beforeMs).changes; }
`;

/**
 * WHERE conditions on the rollup table for a filter. A kind alone (or no filter) is a primary-key range; a
 * device list uses the device index, a borrower list the borrower index — the unary `+` keeps the less
 * selective terms out of index selection, as for the readings table.
 */
export function rollupWhere(f: SeriesFilter): { sql: string; params: (string | number)[] } {
  const conds: string[] = ['res_ms = ?', 'start_ms >= ?', 'start_ms < ?'];
  const params: (string | number)[] = [];
  filterConditions(f, conds, params);
  return { sql: conds.join(' AND '), params };
}

/** Statement cache of the store's reading connection. */
export type Prepared = (sql: string) => Database.Statement<unknown[], unknown>;

/** Slots of the wanted fields of a kind: a number (read it), `none` (no reading ever had it: no data) or `raw`. */
export type SlotPlan = readonly (number | 'none')[] | 'raw';

/**
 * Where each field sits. `raw` when any field has no slot left (its aggregates exist at raw resolution only).
 * A field with no row in `rollup_slots` never carried a number since the aggregates exist: it has no data.
 */
export function planSlots(prepared: Prepared, kind: string, fields: readonly string[]): SlotPlan {
  const rows = prepared('SELECT field, slot FROM rollup_slots WHERE kind = ?').all(kind) as {
    field: string;
    slot: number;
  }[];
  const slots = new Map(rows.map((r) => [r.field, r.slot]));
  const out: (number | 'none')[] = [];
  for (const field of fields) {
    const s = slots.get(field);
    if (s === undefined) out.push('none');
    else if (s < 0) return 'raw';
    else out.push(s);
  }
  return out;
}

/**
 * Calls `each(group, startMs, fieldIndex, partial)` for every wanted field present in the rollup rows of `resMs`
 * in `[fromMs, toMs)` (both aligned to resMs) matching the filter. `ordered` reads first/last too.
 */
export function forEachRollupPartial(
  prepared: Prepared,
  f: SeriesFilter,
  group: 'device' | 'borrower' | 'none',
  seg: { readonly resMs: number; readonly fromMs: number; readonly toMs: number },
  slots: readonly (number | 'none')[],
  ordered: boolean,
  each: (group: string, startMs: number, field: number, p: Partial) => void,
): void {
  const wanted = slots.flatMap((s, i) => (s === 'none' ? [] : [{ slot: s, field: i }]));
  if (wanted.length === 0) return;
  const where = rollupWhere(f);
  const g = group === 'device' ? 'device_id' : group === 'borrower' ? 'borrower_id' : "'*'";
  const width = ordered ? 10 : 4;
  const cols = wanted.flatMap(({ slot }) => slotColumns(slot).slice(0, width));
  const rows = prepared(`SELECT ${g}, start_ms, ${cols.join(', ')} FROM readings_rollup WHERE ${where.sql}`)
    .raw()
    .all(seg.resMs, seg.fromMs, seg.toMs, ...where.params) as (string | number | null)[][];
  for (const row of rows) {
    const gv = row[0] as string;
    const start = row[1] as number;
    for (let k = 0; k < wanted.length; k++) {
      const o = 2 + k * width;
      const n = row[o];
      if (n === null || n === undefined) continue;
      const num = (j: number): number => row[o + j] as number;
      each(gv, start, (wanted[k] as { field: number }).field, {
        n: n as number,
        sum: num(1),
        min: num(2),
        max: num(3),
        firstTs: ordered ? num(4) : Number.POSITIVE_INFINITY,
        firstSeq: ordered ? num(5) : 0,
        first: ordered ? num(6) : Number.NaN,
        lastTs: ordered ? num(7) : Number.NEGATIVE_INFINITY,
        lastSeq: ordered ? num(8) : 0,
        last: ordered ? num(9) : Number.NaN,
      });
    }
  }
}

/** Whether the rollup is complete (no build pending); once true it stays true. */
export function rollupReady(db: Database.Database): boolean {
  return (db.prepare('SELECT count(*) FROM rollup_build').pluck().get() as number) === 0;
}
