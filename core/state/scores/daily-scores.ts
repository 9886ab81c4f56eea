import type { Database, Row } from '../database.js';
import { toScore } from './score-rows.js';
import type { PdPoint, ScoreRecord } from './score-repository.js';

/**
 * A borrower's last official score of each UTC day: one index seek per day into `scores_latest` (borrower_id,
 * shadow, at), so the cost grows with the days asked for, not with how often scoring runs (at 15-minute scoring
 * a day holds 96 scores). SQLite runs one cheap in-process statement per day; PostgreSQL, where each statement
 * is a round trip (~0.1–0.3 ms), runs the same seeks in one statement: a LATERAL subquery per day of a
 * `generate_series`.
 */
const DAY_MS = 86_400_000;

/** UTC day number (days since the epoch) holding `ms`. */
const dayOf = (ms: number): number => Math.floor(ms / DAY_MS);

/** The last official score of each day in [fromMs, toMs), newest first, at most `limit` days. */
export async function dailyScores(
  db: Database,
  borrowerId: string,
  fromMs: number,
  toMs: number,
  limit: number,
): Promise<ScoreRecord[]> {
  if (limit <= 0 || toMs <= fromMs) return [];
  if (db.dialect === 'sqlite')
    return (await lastOfEachDay(db, '*', borrowerId, fromMs, toMs, limit)).map(toScore);
  const rows = await db.all(
    `SELECT s.* FROM generate_series(CAST(@lastDay AS BIGINT), CAST(@firstDay AS BIGINT), -1) AS d(day)
     CROSS JOIN LATERAL (
       SELECT * FROM scores
       WHERE borrower_id = @id AND shadow = 0
         AND at >= GREATEST(CAST(@fromMs AS BIGINT), d.day * ${DAY_MS})
         AND at < LEAST(CAST(@toMs AS BIGINT), (d.day + 1) * ${DAY_MS})
       ORDER BY at DESC LIMIT 1
     ) s
     ORDER BY s.at DESC LIMIT @limit`,
    { id: borrowerId, fromMs, toMs, firstDay: dayOf(fromMs), lastDay: dayOf(toMs - 1), limit },
  );
  return rows.map(toScore);
}

/**
 * Each borrower's PD trend over its window [fromMs, toMs] (end inclusive: it is a score's time): the last
 * official score of each day, oldest first; borrowers without scores in their window are absent.
 */
export async function dailyPdTrends(
  db: Database,
  windows: readonly { borrowerId: string; fromMs: number; toMs: number }[],
): Promise<Map<string, PdPoint[]>> {
  const out = new Map<string, PdPoint[]>();
  if (windows.length === 0) return out;
  if (db.dialect === 'sqlite') {
    for (const { borrowerId, fromMs, toMs } of windows) {
      const rows = await lastOfEachDay(db, 'at, pd', borrowerId, fromMs, toMs + 1, Number.MAX_SAFE_INTEGER);
      const points = rows.reverse().map((r) => ({ at: Number(r.at), pd: Number(r.pd) }));
      if (points.length > 0) out.set(borrowerId, points);
    }
    return out;
  }
  // Every window in one statement: the windows go as one JSON parameter (a row each, `i` its position).
  const rows = await db.all<{ i: number; at: number; pd: number }>(
    `SELECT w.i, s.at, s.pd
     FROM json_to_recordset(CAST(? AS JSON)) AS w(i INTEGER, b TEXT, f BIGINT, t BIGINT, lo BIGINT, hi BIGINT)
     CROSS JOIN LATERAL generate_series(w.hi, w.lo, -1) AS d(day)
     CROSS JOIN LATERAL (
       SELECT at, pd FROM scores
       WHERE borrower_id = w.b AND shadow = 0
         AND at >= GREATEST(w.f, d.day * ${DAY_MS}) AND at < LEAST(w.t, (d.day + 1) * ${DAY_MS})
       ORDER BY at DESC LIMIT 1
     ) s
     ORDER BY w.i, s.at`,
    [
      JSON.stringify(
        windows.map((w, i) => ({
          i,
          b: w.borrowerId,
          f: w.fromMs,
          t: w.toMs + 1,
          lo: dayOf(w.fromMs),
          hi: dayOf(w.toMs),
        })),
      ),
    ],
  );
  // Grouped by window, in window order: a borrower given twice keeps its last window that has points (as the
  // SQLite loop does).
  const byWindow = new Map<number, PdPoint[]>();
  for (const r of rows) {
    let points = byWindow.get(r.i);
    if (points === undefined) byWindow.set(r.i, (points = []));
    points.push({ at: Number(r.at), pd: Number(r.pd) });
  }
  for (const [i, points] of byWindow) {
    const w = windows[i];
    if (w !== undefined) out.set(w.borrowerId, points);
  }
  return out;
}

/**
 * SQLite: the last official score of each day in [fromMs, toMs), newest day first, at most `limit` days, one
 * statement per day (better-sqlite3 runs it in-process in microseconds). `columns` says what to read.
 */
async function lastOfEachDay(
  db: Database,
  columns: string,
  id: string,
  fromMs: number,
  toMs: number,
  limit: number,
): Promise<Row[]> {
  const sql = `SELECT ${columns} FROM scores WHERE borrower_id = @id AND shadow = 0 AND at >= @from AND at < @to
    ORDER BY at DESC LIMIT 1`;
  const out: Row[] = [];
  for (let day = dayOf(toMs - 1); (day + 1) * DAY_MS > fromMs && out.length < limit; day--) {
    const r = await db.get(sql, {
      id,
      from: Math.max(fromMs, day * DAY_MS),
      to: Math.min(toMs, (day + 1) * DAY_MS),
    });
    if (r !== undefined) out.push(r);
  }
  return out;
}
