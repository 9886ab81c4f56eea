import { RiskfuseError } from '../errors.js';
import type {
  ModelRecord,
  PdPoint,
  ReasonCode,
  RiskStore,
  ScoreHead,
  ScoreQuery,
  ScoreRecord,
} from './risk-store.js';
import type { SqliteStateStore } from './sqlite-state-store.js';

type Row = Record<string, unknown>;

const toModel = (r: Row): ModelRecord => ({
  version: String(r.version),
  name: String(r.name),
  kind: String(r.kind),
  status: String(r.status) as ModelRecord['status'],
  createdAt: Number(r.created_at),
  ...(r.activated_at == null ? {} : { activatedAt: Number(r.activated_at) }),
  artifactPath: String(r.artifact_path),
  dataHash: String(r.data_hash),
  backend: String(r.backend),
  meta: JSON.parse(String(r.meta)) as Record<string, unknown>,
});

const toScore = (r: Row): ScoreRecord => ({
  borrowerId: String(r.borrower_id),
  at: Number(r.at),
  modelVersion: String(r.model_version),
  shadow: Number(r.shadow) === 1,
  pd: Number(r.pd),
  score: Number(r.score),
  grade: String(r.grade),
  reasons: JSON.parse(String(r.reasons)) as ReasonCode[],
  ...(r.contributions == null
    ? {}
    : { contributions: JSON.parse(r.contributions as string) as Record<string, number> }),
  trigger: String(r.trigger),
  ...(r.features == null
    ? {}
    : { features: JSON.parse(r.features as string) as Record<string, number | null> }),
});

const DAY_MS = 86_400_000;

/** The risk store on the state store's SQLite database (its migrations create the tables). */
export class SqliteRiskStore implements RiskStore {
  /** Statements prepared once per SQL text (preparing costs more than the lookups the API makes). */
  private readonly statements = new Map<string, ReturnType<SqliteStateStore['db']['prepare']>>();

  constructor(private readonly state: SqliteStateStore) {}

  private prepared(sql: string): ReturnType<SqliteStateStore['db']['prepare']> {
    let stmt = this.statements.get(sql);
    if (stmt === undefined) {
      stmt = this.db.prepare(sql);
      this.statements.set(sql, stmt);
    }
    return stmt;
  }

  private get db(): SqliteStateStore['db'] {
    return this.state.db;
  }

  addModel(m: ModelRecord): void {
    if (m.status === 'champion')
      throw new RiskfuseError('VALIDATION_FAILED', 'add a model, then activate it');
    try {
      this.db
        .prepare(
          `INSERT INTO models (version, name, kind, status, created_at, activated_at, artifact_path, data_hash, backend, meta)
           VALUES (@version, @name, @kind, @status, @createdAt, NULL, @artifactPath, @dataHash, @backend, @meta)`,
        )
        .run({ ...m, meta: JSON.stringify(m.meta) });
    } catch (err) {
      if (err instanceof Error && /UNIQUE|PRIMARY KEY/.test(err.message)) {
        throw new RiskfuseError('CONFLICT', `model version ${m.version} already exists`);
      }
      throw err;
    }
  }

  getModel(version: string): ModelRecord | undefined {
    const r = this.db.prepare('SELECT * FROM models WHERE version = ?').get(version) as Row | undefined;
    return r === undefined ? undefined : toModel(r);
  }

  listModels(): ModelRecord[] {
    return (this.db.prepare('SELECT * FROM models ORDER BY created_at, version').all() as Row[]).map(toModel);
  }

  champion(): ModelRecord | undefined {
    const r = this.db.prepare(`SELECT * FROM models WHERE status = 'champion'`).get() as Row | undefined;
    return r === undefined ? undefined : toModel(r);
  }

  activateModel(version: string, atMs: number): ModelRecord {
    return this.db.transaction(() => {
      const m = this.getModel(version);
      if (m === undefined) throw new RiskfuseError('NOT_FOUND', `no model version ${version}`);
      this.db.prepare(`UPDATE models SET status = 'challenger' WHERE status = 'champion'`).run();
      this.db
        .prepare(`UPDATE models SET status = 'champion', activated_at = ? WHERE version = ?`)
        .run(atMs, version);
      return this.getModel(version) as ModelRecord;
    })();
  }

  setModelStatus(version: string, status: 'challenger' | 'retired'): void {
    const m = this.getModel(version);
    if (m === undefined) throw new RiskfuseError('NOT_FOUND', `no model version ${version}`);
    if (m.status === 'champion') {
      throw new RiskfuseError('CONFLICT', `${version} is the champion; activate another model first`);
    }
    this.db.prepare('UPDATE models SET status = ? WHERE version = ?').run(status, version);
  }

  addScores(items: readonly ScoreRecord[], options: { history?: boolean } = {}): void {
    const stmt = this.db.prepare(
      `INSERT INTO scores (borrower_id, at, model_version, shadow, pd, score, grade, reasons, contributions, trigger,
         features)
       VALUES (@borrowerId, @at, @modelVersion, @shadow, @pd, @score, @grade, @reasons, @contributions, @trigger,
         @features)
       ON CONFLICT DO UPDATE SET pd = excluded.pd, score = excluded.score, grade = excluded.grade,
         reasons = excluded.reasons, contributions = excluded.contributions, trigger = excluded.trigger,
         features = excluded.features`,
    );
    // The borrower's latest official score, copied (see migration 8).
    const head = this.prepared(
      `INSERT INTO score_heads (borrower_id, at, model_version, pd, score, grade, reasons, contributions, trigger,
         features)
       VALUES (@borrowerId, @at, @modelVersion, @pd, @score, @grade, @reasons, @contributions, @trigger, @features)
       ON CONFLICT (borrower_id) DO UPDATE SET at = excluded.at, model_version = excluded.model_version,
         pd = excluded.pd, score = excluded.score, grade = excluded.grade, reasons = excluded.reasons,
         contributions = excluded.contributions, trigger = excluded.trigger, features = excluded.features
       WHERE excluded.at >= score_heads.at`,
    );
    this.db.transaction(() => {
      for (const s of items) {
        const row = {
          ...s,
          shadow: s.shadow ? 1 : 0,
          reasons: JSON.stringify(s.reasons),
          contributions: s.contributions === undefined ? null : JSON.stringify(s.contributions),
          features: s.features === undefined ? null : JSON.stringify(s.features),
        };
        stmt.run(row);
        if (!s.shadow && options.history !== true) {
          const { shadow: _shadow, ...headRow } = row;
          head.run(headRow);
        }
      }
    })();
  }

  latestScores(
    q: { modelVersion?: string; shadow?: boolean; borrowerIds?: readonly string[] } = {},
  ): ScoreRecord[] {
    const official = q.shadow !== true && q.modelVersion === undefined;
    if (q.borrowerIds !== undefined && q.borrowerIds.length <= 1000) {
      // A few borrowers (an API read or page, an event-triggered run): one index seek each — into the heads
      // for official scores (they define a borrower's latest: backtests are history only).
      const stmt = this.prepared(
        official
          ? 'SELECT *, 0 AS shadow FROM score_heads WHERE borrower_id = @id'
          : `SELECT * FROM scores WHERE borrower_id = @id AND shadow = @shadow
           ${q.modelVersion === undefined ? '' : 'AND model_version = @modelVersion'}
         ORDER BY at DESC LIMIT 1`,
      );
      return [...new Set(q.borrowerIds)]
        .sort()
        .map(
          (id) =>
            stmt.get(
              official
                ? { id }
                : {
                    id,
                    shadow: q.shadow === true ? 1 : 0,
                    ...(q.modelVersion === undefined ? {} : { modelVersion: q.modelVersion }),
                  },
            ) as Row | undefined,
        )
        .filter((r): r is Row => r !== undefined)
        .map(toScore);
    }
    const wanted = q.borrowerIds === undefined ? undefined : new Set(q.borrowerIds);
    if (official) {
      // Every borrower's latest official score: the heads table, one compact row each.
      const heads = this.prepared('SELECT *, 0 AS shadow FROM score_heads ORDER BY borrower_id').all(
        {},
      ) as Row[];
      return heads.map(toScore).filter((s) => wanted === undefined || wanted.has(s.borrowerId));
    }
    const where: string[] = ['shadow = @shadow'];
    const params: Record<string, unknown> = { shadow: q.shadow === true ? 1 : 0 };
    if (q.modelVersion !== undefined) {
      where.push('model_version = @modelVersion');
      params.modelVersion = q.modelVersion;
    }
    const rows = this.db
      .prepare(
        `SELECT s.* FROM scores s JOIN (
           SELECT borrower_id, MAX(at) AS at FROM scores WHERE ${where.join(' AND ')} GROUP BY borrower_id
         ) m ON s.borrower_id = m.borrower_id AND s.at = m.at
         WHERE ${where.map((w) => `s.${w}`).join(' AND ')} ORDER BY s.borrower_id`,
      )
      .all(params) as Row[];
    return rows.map(toScore).filter((s) => wanted === undefined || wanted.has(s.borrowerId));
  }

  latestHeads(features: readonly string[] = []): ScoreHead[] {
    // The inputs are read in SQL (json_extract), so no row's JSON is parsed in JavaScript.
    const columns = features.map((_f, i) => `, json_extract(features, @f${i}) AS f${i}`).join('');
    const params = Object.fromEntries(features.map((f, i) => [`f${i}`, `$."${f.replace(/"/g, '')}"`]));
    const rows = this.prepared(
      `SELECT borrower_id, at, model_version, pd, score, grade${columns} FROM score_heads ORDER BY borrower_id`,
    ).all(params) as Row[];
    return rows.map((r) => {
      const values: Record<string, number | null> = {};
      features.forEach((f, i) => {
        const v = r[`f${i}`];
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

  /**
   * The last official score of each UTC day in [fromMs, toMs), newest day first, at most `limit` days: one
   * index seek per day, so the cost does not grow with how often scoring runs. `columns` says what to read.
   */
  private lastOfEachDay(columns: string, id: string, fromMs: number, toMs: number, limit: number): Row[] {
    const stmt = this.prepared(
      `SELECT ${columns} FROM scores WHERE borrower_id = @id AND shadow = 0 AND at >= @from AND at < @to
       ORDER BY at DESC LIMIT 1`,
    );
    const out: Row[] = [];
    for (
      let day = Math.floor((toMs - 1) / DAY_MS);
      (day + 1) * DAY_MS > fromMs && out.length < limit;
      day--
    ) {
      const r = stmt.get({
        id,
        from: Math.max(fromMs, day * DAY_MS),
        to: Math.min(toMs, (day + 1) * DAY_MS),
      }) as Row | undefined;
      if (r !== undefined) out.push(r);
    }
    return out;
  }

  dailyScores(borrowerId: string, fromMs: number, toMs: number, limit: number): ScoreRecord[] {
    return this.lastOfEachDay('*', borrowerId, fromMs, toMs, limit).map(toScore);
  }

  dailyPdTrends(
    windows: readonly { borrowerId: string; fromMs: number; toMs: number }[],
  ): Map<string, PdPoint[]> {
    const out = new Map<string, PdPoint[]>();
    for (const { borrowerId: id, fromMs, toMs } of windows) {
      // The window's end is inclusive (it is a score's time).
      const rows = this.lastOfEachDay('at, pd', id, fromMs, toMs + 1, Number.MAX_SAFE_INTEGER);
      const points = rows.reverse().map((r) => ({ at: Number(r.at), pd: Number(r.pd) }));
      if (points.length > 0) out.set(id, points);
    }
    return out;
  }

  scoreHistory(q: ScoreQuery): ScoreRecord[] {
    const where: string[] = [];
    const params: Record<string, unknown> = { limit: Math.min(Math.max(1, q.limit ?? 1000), 100_000) };
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
    const sql = `SELECT * FROM scores ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY at DESC, model_version LIMIT @limit`;
    return (this.db.prepare(sql).all(params) as Row[]).map(toScore);
  }
}
