import type { Database, Row, SqlValue } from '../database.js';
import { dailyPdTrends, dailyScores } from './daily-scores.js';
import { HEAD_COLUMNS, headValues, SCORE_COLUMNS, scoreValues, toScore } from './score-rows.js';
import type {
  PdPoint,
  ScoreHead,
  ScoreKey,
  ScoreObservation,
  ScoreQuery,
  ScoreRecord,
  ScoreRepository,
} from './score-repository.js';

/** Borrowers up to which `latestScores` seeks each one's latest score instead of reading every borrower's. */
const FEW_BORROWERS = 1000;
const DAY_MS = 86_400_000;

const SCORE_UPSERT = `ON CONFLICT (borrower_id, model_version, at) DO UPDATE SET pd = excluded.pd,
  score = excluded.score, grade = excluded.grade, reasons = excluded.reasons, contributions = excluded.contributions,
  trigger = excluded.trigger, features = excluded.features`;

/** A newer (or as new) official score replaces the head; an older one stored later does not. */
const HEAD_UPSERT = `ON CONFLICT (borrower_id) DO UPDATE SET at = excluded.at, model_version = excluded.model_version,
  pd = excluded.pd, score = excluded.score, grade = excluded.grade, reasons = excluded.reasons,
  contributions = excluded.contributions, trigger = excluded.trigger, features = excluded.features
  WHERE excluded.at >= score_heads.at`;

/**
 * Scores on the state database (SQLite or PostgreSQL): the history in `scores`, and each borrower's latest
 * official score copied into `score_heads` as it is stored (see migration 8: finding it in the history took
 * seconds at 10,000 borrowers), so portfolio reads touch one compact row per borrower.
 */
export class SqlScoreRepository implements ScoreRepository {
  constructor(private readonly db: Database) {}

  async addScores(items: readonly ScoreRecord[], options: { history?: boolean } = {}): Promise<void> {
    if (items.length === 0) return;
    // One row per key, the last given winning as successive upserts would: PostgreSQL refuses a multi-row upsert
    // that touches a row twice ("ON CONFLICT DO UPDATE command cannot affect row a second time").
    const scores = new Map<string, ScoreRecord>();
    for (const s of items) scores.set(JSON.stringify([s.borrowerId, s.modelVersion, s.at]), s);
    // Each borrower's newest official score of the batch (the later of equal times), for its head.
    const heads = new Map<string, ScoreRecord>();
    if (options.history !== true) {
      for (const s of items) {
        const head = heads.get(s.borrowerId);
        if (!s.shadow && (head === undefined || s.at >= head.at)) heads.set(s.borrowerId, s);
      }
    }
    await this.db.transaction(async () => {
      await this.db.insertMany('scores', SCORE_COLUMNS, [...scores.values()].map(scoreValues), SCORE_UPSERT);
      await this.db.insertMany('score_heads', HEAD_COLUMNS, [...heads.values()].map(headValues), HEAD_UPSERT);
    });
  }

  async latestScores(
    q: { modelVersion?: string; shadow?: boolean; borrowerIds?: readonly string[] } = {},
  ): Promise<ScoreRecord[]> {
    // Official scores (no model asked for) come from the heads: they define a borrower's latest (backtests are
    // history only).
    const official = q.shadow !== true && q.modelVersion === undefined;
    const shadow = q.shadow === true ? 1 : 0;
    if (q.borrowerIds !== undefined && q.borrowerIds.length <= FEW_BORROWERS) {
      const ids = [...new Set(q.borrowerIds)].sort();
      if (ids.length === 0) return [];
      const rows =
        this.db.dialect === 'sqlite'
          ? await this.latestOfEachSqlite(ids, official, shadow, q.modelVersion)
          : await this.latestOfEachPostgres(ids, official, shadow, q.modelVersion);
      return rows.map(toScore);
    }
    const wanted = q.borrowerIds === undefined ? undefined : new Set(q.borrowerIds);
    const keep = (s: ScoreRecord): boolean => wanted === undefined || wanted.has(s.borrowerId);
    if (official) {
      // Every borrower's latest official score: the heads table, one compact row each.
      const heads = await this.db.all('SELECT *, 0 AS shadow FROM score_heads ORDER BY borrower_id');
      return heads.map(toScore).filter(keep);
    }
    // Portable (no bare columns beside max()): each borrower's newest time, joined back to its row.
    const where = ['shadow = @shadow'];
    const params: Record<string, SqlValue> = { shadow };
    if (q.modelVersion !== undefined) {
      where.push('model_version = @modelVersion');
      params.modelVersion = q.modelVersion;
    }
    const rows = await this.db.all(
      `SELECT s.* FROM scores s JOIN (
         SELECT borrower_id, max(at) AS at FROM scores WHERE ${where.join(' AND ')} GROUP BY borrower_id
       ) m ON s.borrower_id = m.borrower_id AND s.at = m.at
       WHERE ${where.map((w) => `s.${w}`).join(' AND ')} ORDER BY s.borrower_id`,
      params,
    );
    return rows.map(toScore).filter(keep);
  }

  /** SQLite: one in-process index seek per borrower, one prepared statement for any number of them. */
  private async latestOfEachSqlite(
    ids: readonly string[],
    official: boolean,
    shadow: number,
    modelVersion: string | undefined,
  ): Promise<Row[]> {
    const sql = official
      ? 'SELECT *, 0 AS shadow FROM score_heads WHERE borrower_id = @id'
      : `SELECT * FROM scores WHERE borrower_id = @id AND shadow = @shadow
         ${modelVersion === undefined ? '' : 'AND model_version = @modelVersion'}
         ORDER BY at DESC LIMIT 1`;
    const rows: Row[] = [];
    for (const id of ids) {
      const params: Record<string, SqlValue> = official
        ? { id }
        : { id, shadow, ...(modelVersion === undefined ? {} : { modelVersion }) };
      const r = await this.db.get(sql, params);
      if (r !== undefined) rows.push(r);
    }
    return rows;
  }

  /**
   * PostgreSQL: the same seeks in one statement (a round trip costs more than a seek there), the ids as one
   * JSON parameter, results in the ids' order.
   */
  private async latestOfEachPostgres(
    ids: readonly string[],
    official: boolean,
    shadow: number,
    modelVersion: string | undefined,
  ): Promise<Row[]> {
    const borrowers = 'json_array_elements_text(CAST(? AS JSON)) WITH ORDINALITY AS b(id, n)';
    if (official) {
      return this.db.all(
        `SELECT h.*, 0 AS shadow FROM ${borrowers} JOIN score_heads h ON h.borrower_id = b.id ORDER BY b.n`,
        [JSON.stringify(ids)],
      );
    }
    return this.db.all(
      `SELECT s.* FROM ${borrowers} CROSS JOIN LATERAL (
         SELECT * FROM scores WHERE borrower_id = b.id AND shadow = ?
           ${modelVersion === undefined ? '' : 'AND model_version = ?'}
         ORDER BY at DESC LIMIT 1
       ) s ORDER BY b.n`,
      [JSON.stringify(ids), shadow, ...(modelVersion === undefined ? [] : [modelVersion])],
    );
  }

  async latestKey(borrowerId: string): Promise<ScoreKey | undefined> {
    const r = await this.db.get<{ at: number; model_version: string; pd: number; score: number }>(
      'SELECT at, model_version, pd, score FROM score_heads WHERE borrower_id = @id',
      { id: borrowerId },
    );
    return r === undefined
      ? undefined
      : { at: Number(r.at), modelVersion: r.model_version, pd: Number(r.pd), score: Number(r.score) };
  }

  async latestHeads(features: readonly string[] = []): Promise<ScoreHead[]> {
    // The inputs are read in SQL, so no row's JSON is parsed in JavaScript. The engines' JSON functions differ:
    // SQLite's json_extract takes a path; PostgreSQL's -> takes a key (the TEXT column cast to jsonb once per
    // row), and only a JSON number may become a DOUBLE PRECISION.
    let sql: string;
    let params: Record<string, SqlValue>;
    if (this.db.dialect === 'sqlite') {
      const columns = features.map((_f, i) => `, json_extract(features, @f${String(i)}) AS f${String(i)}`);
      sql = `SELECT borrower_id, at, model_version, pd, score, grade${columns.join('')}
             FROM score_heads ORDER BY borrower_id`;
      params = Object.fromEntries(features.map((f, i) => [`f${String(i)}`, `$."${f.replace(/"/g, '')}"`]));
    } else {
      const columns = features.map((_f, i) => {
        const value = `h.j -> CAST(@f${String(i)} AS TEXT)`;
        return `, CASE WHEN jsonb_typeof(${value}) = 'number'
                  THEN CAST(${value} AS DOUBLE PRECISION) END AS f${String(i)}`;
      });
      sql = `SELECT borrower_id, at, model_version, pd, score, grade${columns.join('')}
             FROM (SELECT *, CAST(features AS JSONB) AS j FROM score_heads) h ORDER BY borrower_id`;
      params = Object.fromEntries(features.map((f, i) => [`f${String(i)}`, f]));
    }
    const rows = await this.db.all(sql, params);
    return rows.map((r) => {
      const values: Record<string, number | null> = {};
      features.forEach((f, i) => {
        const v = r[`f${String(i)}`];
        values[f] = typeof v === 'number' ? v : null;
      });
      return {
        borrowerId: String(r.borrower_id),
        at: Number(r.at),
        modelVersion: String(r.model_version),
        pd: Number(r.pd),
        score: Number(r.score),
        grade: String(r.grade),
        features: values,
      };
    });
  }

  dailyScores(borrowerId: string, fromMs: number, toMs: number, limit: number): Promise<ScoreRecord[]> {
    return dailyScores(this.db, borrowerId, fromMs, toMs, limit);
  }

  dailyPdTrends(
    windows: readonly { borrowerId: string; fromMs: number; toMs: number }[],
  ): Promise<Map<string, PdPoint[]>> {
    return dailyPdTrends(this.db, windows);
  }

  async scoreObservations(modelVersion: string, fromMs: number, toMs: number): Promise<ScoreObservation[]> {
    const rows = await this.db.all<{
      borrower_id: string;
      at: number;
      pd: number;
      grade: string;
      shadow: number;
    }>(
      `SELECT borrower_id, at, pd, grade, shadow FROM scores
       WHERE model_version = ? AND at >= ? AND at < ? ORDER BY borrower_id, at`,
      [modelVersion, fromMs, toMs],
    );
    return rows.map((r) => ({
      borrowerId: String(r.borrower_id),
      at: Number(r.at),
      pd: Number(r.pd),
      grade: String(r.grade),
      shadow: Number(r.shadow) === 1,
    }));
  }

  async scoreHistory(q: ScoreQuery): Promise<ScoreRecord[]> {
    const where: string[] = [];
    const params: Record<string, SqlValue> = { limit: Math.min(Math.max(1, q.limit ?? 1000), 100_000) };
    if (q.borrowerId !== undefined) {
      where.push('borrower_id = @borrowerId');
      params.borrowerId = q.borrowerId;
    }
    if (q.modelVersion !== undefined) {
      where.push('model_version = @modelVersion');
      params.modelVersion = q.modelVersion;
    }
    if (q.shadow !== undefined) {
      where.push('shadow = @shadow');
      params.shadow = q.shadow ? 1 : 0;
    }
    if (q.fromMs !== undefined) {
      where.push('at >= @fromMs');
      params.fromMs = q.fromMs;
    }
    if (q.toMs !== undefined) {
      where.push('at < @toMs');
      params.toMs = q.toMs;
    }
    const rows = await this.db.all(
      `SELECT * FROM scores ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''}
       ORDER BY at DESC, model_version LIMIT @limit`,
      params,
    );
    return rows.map(toScore);
  }

  async thinScores(beforeMs: number): Promise<number> {
    // A score goes when a later one of its borrower, model and UTC day exists: a probe of the primary key
    // (borrower_id, model_version, at) per candidate, on both engines. Candidates come from the scores_at index.
    return this.db.run(
      `DELETE FROM scores WHERE at < ? AND EXISTS (
         SELECT 1 FROM scores later
         WHERE later.borrower_id = scores.borrower_id AND later.model_version = scores.model_version
           AND later.at > scores.at AND later.at < scores.at - (scores.at % ${DAY_MS}) + ${DAY_MS})`,
      [beforeMs],
    );
  }
}
