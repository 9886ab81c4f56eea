import { RiskfuseError } from '../../errors.js';
import { isConstraintError, type Database, type Row } from '../database.js';
import type {
  BacktestRecord,
  DriftRecord,
  ModelMonitoringRepository,
  StoredReference,
} from './model-monitoring-repository.js';

const num = (v: unknown): number | null => (v == null ? null : Number(v));

const toDrift = (r: Row): DriftRecord => ({
  modelVersion: String(r.model_version),
  day: Number(r.day),
  computedAt: Number(r.computed_at),
  population: Number(r.population),
  scorePsi: Number(r.score_psi),
  ...(r.worst_input == null ? {} : { worstInput: r.worst_input as string }),
  ...(r.worst_psi == null ? {} : { worstPsi: Number(r.worst_psi) }),
  band: String(r.band) as DriftRecord['band'],
  referenceSource: String(r.reference_source) as DriftRecord['referenceSource'],
  detail: JSON.parse(String(r.body)) as Record<string, unknown>,
});

const toBacktest = (r: Row): BacktestRecord => ({
  modelVersion: String(r.model_version),
  day: Number(r.day),
  computedAt: Number(r.computed_at),
  labelled: Number(r.labelled),
  defaults: Number(r.defaults),
  auc: num(r.auc),
  ks: num(r.ks),
  detail: JSON.parse(String(r.body)) as Record<string, unknown>,
});

/** Model monitoring on the state database (SQLite or PostgreSQL; `ON CONFLICT … DO UPDATE` serves both). */
export class SqlModelMonitoringRepository implements ModelMonitoringRepository {
  constructor(private readonly db: Database) {}

  async putReference(r: StoredReference): Promise<boolean> {
    try {
      const n = await this.db.run(
        `INSERT INTO model_references (version, source, at, body) VALUES (?, ?, ?, ?)
         ON CONFLICT (version) DO UPDATE SET source = excluded.source, at = excluded.at, body = excluded.body
         WHERE model_references.source = 'first-scored'`,
        [r.version, r.source, r.at, JSON.stringify(r.reference)],
      );
      return n > 0;
    } catch (err) {
      if (isConstraintError(err, 'foreign-key'))
        throw new RiskfuseError('NOT_FOUND', `no model version ${r.version}`, { cause: err });
      throw err;
    }
  }

  async getReference(version: string): Promise<StoredReference | undefined> {
    const r = await this.db.get('SELECT * FROM model_references WHERE version = ?', [version]);
    return r === undefined
      ? undefined
      : {
          version: String(r.version),
          source: String(r.source) as StoredReference['source'],
          at: Number(r.at),
          reference: JSON.parse(String(r.body)) as Record<string, unknown>,
        };
  }

  async putDrift(r: DriftRecord): Promise<void> {
    await this.db.run(
      `INSERT INTO model_drift (model_version, day, computed_at, population, score_psi, worst_input, worst_psi, band,
         reference_source, body)
       VALUES (@v, @day, @at, @population, @scorePsi, @worstInput, @worstPsi, @band, @source, @body)
       ON CONFLICT (model_version, day) DO UPDATE SET computed_at = excluded.computed_at,
         population = excluded.population, score_psi = excluded.score_psi, worst_input = excluded.worst_input,
         worst_psi = excluded.worst_psi, band = excluded.band, reference_source = excluded.reference_source,
         body = excluded.body`,
      {
        v: r.modelVersion,
        day: r.day,
        at: r.computedAt,
        population: r.population,
        scorePsi: r.scorePsi,
        worstInput: r.worstInput ?? null,
        worstPsi: r.worstPsi ?? null,
        band: r.band,
        source: r.referenceSource,
        body: JSON.stringify(r.detail),
      },
    );
  }

  async driftHistory(
    version: string,
    q: { fromMs?: number; toMs?: number; limit: number },
  ): Promise<DriftRecord[]> {
    const rows = await this.db.all(
      `SELECT * FROM model_drift WHERE model_version = ? AND day >= ? AND day < ? ORDER BY day DESC LIMIT ?`,
      [version, q.fromMs ?? 0, q.toMs ?? Number.MAX_SAFE_INTEGER, q.limit],
    );
    return rows.map(toDrift);
  }

  async latestDrift(): Promise<DriftRecord[]> {
    const rows = await this.db.all(
      `SELECT d.* FROM model_drift d
       JOIN (SELECT model_version, max(day) AS day FROM model_drift GROUP BY model_version) m
         ON d.model_version = m.model_version AND d.day = m.day
       ORDER BY d.model_version`,
    );
    return rows.map(toDrift);
  }

  async putBacktest(r: BacktestRecord): Promise<void> {
    await this.db.run(
      `INSERT INTO model_backtests (model_version, day, computed_at, labelled, defaults, auc, ks, body)
       VALUES (@v, @day, @at, @labelled, @defaults, @auc, @ks, @body)
       ON CONFLICT (model_version, day) DO UPDATE SET computed_at = excluded.computed_at,
         labelled = excluded.labelled, defaults = excluded.defaults, auc = excluded.auc, ks = excluded.ks,
         body = excluded.body`,
      {
        v: r.modelVersion,
        day: r.day,
        at: r.computedAt,
        labelled: r.labelled,
        defaults: r.defaults,
        auc: r.auc,
        ks: r.ks,
        body: JSON.stringify(r.detail),
      },
    );
  }

  async backtestHistory(version: string, limit: number): Promise<BacktestRecord[]> {
    const rows = await this.db.all(
      'SELECT * FROM model_backtests WHERE model_version = ? ORDER BY day DESC LIMIT ?',
      [version, limit],
    );
    return rows.map(toBacktest);
  }

  async latestBacktests(): Promise<BacktestRecord[]> {
    const rows = await this.db.all(
      `SELECT b.* FROM model_backtests b
       JOIN (SELECT model_version, max(day) AS day FROM model_backtests GROUP BY model_version) m
         ON b.model_version = m.model_version AND b.day = m.day
       ORDER BY b.model_version`,
    );
    return rows.map(toBacktest);
  }
}
