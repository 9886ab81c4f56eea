import type { Row, SqlValue } from '../database.js';
import type { ReasonCode, ScoreRecord } from './score-repository.js';

/** Columns of `scores`, in the order `scoreValues` gives them. */
export const SCORE_COLUMNS = [
  'borrower_id',
  'at',
  'model_version',
  'shadow',
  'pd',
  'score',
  'grade',
  'reasons',
  'contributions',
  'trigger',
  'features',
] as const;

/** Columns of `score_heads`: a score's without `shadow` (heads are official scores only). */
export const HEAD_COLUMNS = SCORE_COLUMNS.filter((c) => c !== 'shadow');

/** A score as a `scores` row (JSON as TEXT, the flag as 0/1). */
export const scoreValues = (s: ScoreRecord): SqlValue[] => [
  s.borrowerId,
  s.at,
  s.modelVersion,
  s.shadow ? 1 : 0,
  s.pd,
  s.score,
  s.grade,
  JSON.stringify(s.reasons),
  s.contributions === undefined ? null : JSON.stringify(s.contributions),
  s.trigger,
  s.features === undefined ? null : JSON.stringify(s.features),
];

const SHADOW_AT = SCORE_COLUMNS.indexOf('shadow');

/** A score as a `score_heads` row. */
export const headValues = (s: ScoreRecord): SqlValue[] => scoreValues(s).filter((_v, i) => i !== SHADOW_AT);

/** A column's value as text (rows are `Record<string, unknown>`). */
const text = (v: unknown): string => String(v);

/** A `scores` row (or a `score_heads` row selected with `0 AS shadow`) as a score. */
export const toScore = (r: Row): ScoreRecord => ({
  borrowerId: text(r.borrower_id),
  at: Number(r.at),
  modelVersion: text(r.model_version),
  shadow: Number(r.shadow) === 1,
  pd: Number(r.pd),
  score: Number(r.score),
  grade: text(r.grade),
  reasons: JSON.parse(text(r.reasons)) as ReasonCode[],
  ...(r.contributions == null
    ? {}
    : { contributions: JSON.parse(text(r.contributions)) as Record<string, number> }),
  trigger: text(r.trigger),
  ...(r.features == null ? {} : { features: JSON.parse(text(r.features)) as Record<string, number | null> }),
});
