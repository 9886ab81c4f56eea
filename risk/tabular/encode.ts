import { Type, type Static } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { RiskfuseError } from '../../core/errors.js';
import type { Matrix } from '../model/types.js';
import type { FeatureColumn } from './spec.js';
import { parseNumber } from './spec.js';

/**
 * Turns table rows into the model's numeric matrix. Everything is learnt from the rows it is fitted on (a
 * training fold), never from the rows it later transforms, so cross-validation has no leakage:
 * - numeric: the value; missing → the training median (or 0), plus a `<col>__missing` 0/1 column when the
 *   column had any missing value in training. Heavy tails are tamed before any model sees them: the value is
 *   winsorised at the training fold's 0.5 % and 99.5 % quantiles (`lo`, `hi`), and a non-negative column
 *   still skewed after that (skewness > 1: money amounts, ratios, counts of late payments) becomes
 *   sign(v)·ln(1 + |v|) (`log`). Both are monotone, so the tree and WoE models rank rows the same; they keep a
 *   few extreme values (a utilisation of 50,000 where 1 is the limit) from dominating the MLP's and logistic
 *   model's standardisation. Pinned by risk/test/tabular-encode.test.ts ("when a column has a heavy tail …");
 * - categorical: one-hot `<col>=<level>` over the levels seen in training at least `minCategoryCount` times
 *   (missing is the level `__missing`); rarer levels share `<col>=__other`, which exists only if training had
 *   rare levels; a level never seen in training maps to `__other` if it exists, else to all zeros.
 */
export const OTHER = '__other';
export const MISSING_LEVEL = '__missing';

const NumericColumnJson = Type.Object(
  {
    name: Type.String(),
    kind: Type.Literal('numeric'),
    fill: Type.Number(),
    indicator: Type.Boolean(),
    // Optional so encoders saved before robust scaling still load (they have none of the three).
    lo: Type.Optional(Type.Number()),
    hi: Type.Optional(Type.Number()),
    log: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);
const CategoricalColumnJson = Type.Object(
  {
    name: Type.String(),
    kind: Type.Literal('categorical'),
    levels: Type.Array(Type.String()),
    other: Type.Boolean(),
  },
  { additionalProperties: false },
);
export const EncoderJsonSchema = Type.Object(
  {
    format: Type.Literal('riskfuse-tabular-encoder/1'),
    columns: Type.Array(Type.Union([NumericColumnJson, CategoricalColumnJson])),
    featureNames: Type.Array(Type.String()),
  },
  { additionalProperties: false },
);
export type EncoderJson = Static<typeof EncoderJsonSchema>;
type EncodedColumn = EncoderJson['columns'][number];
const checkEncoder = TypeCompiler.Compile(EncoderJsonSchema);

/** Rows to encode: cells addressed by column name through `header`, so column order may differ at scoring. */
export interface CellTable {
  readonly source?: string;
  readonly header: readonly string[];
  readonly rows: readonly (readonly (string | null)[])[];
  readonly lines?: readonly number[];
}

export interface FitOptions {
  /** Training rows a level needs to get its own one-hot column; default 5. */
  readonly minCategoryCount?: number;
  /** Winsorise and log-transform heavy tails (default true). */
  readonly robust?: boolean;
}

/** Winsorising quantiles of the robust numeric transform. */
export const WINSOR_QUANTILES = [0.005, 0.995] as const;
/** Training values a column needs before it is winsorised. */
export const WINSOR_MIN_ROWS = 200;
/** Skewness (after winsorising) above which a non-negative column is log-transformed. */
export const LOG_SKEW = 1;

/** The matrix columns of one source column: numeric value (+ missing flag) or a categorical one-hot group. */
export type ColumnGroup =
  | {
      readonly kind: 'numeric';
      readonly name: string;
      readonly col: number;
      readonly missingCol?: number;
      readonly log: boolean;
    }
  | {
      readonly kind: 'categorical';
      readonly name: string;
      readonly cols: number[];
      readonly levels: string[];
    };

function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.floor(q * (sorted.length - 1))))] as number;
}

function skewness(values: readonly number[]): number {
  const n = values.length;
  if (n < 3) return 0;
  const m = values.reduce((a, b) => a + b, 0) / n;
  let m2 = 0;
  let m3 = 0;
  for (const v of values) {
    m2 += (v - m) ** 2;
    m3 += (v - m) ** 3;
  }
  m2 /= n;
  m3 /= n;
  return m2 === 0 ? 0 : m3 / m2 ** 1.5;
}

/** The robust transform of one numeric value (identity for encoders saved without one). */
export function robustValue(v: number, c: { lo?: number; hi?: number; log?: boolean }): number {
  let out = v;
  if (c.lo !== undefined && out < c.lo) out = c.lo;
  if (c.hi !== undefined && out > c.hi) out = c.hi;
  if (c.log === true) out = Math.sign(out) * Math.log1p(Math.abs(out));
  return out;
}

function median(sorted: readonly number[]): number {
  const n = sorted.length;
  if (n === 0) return 0;
  const mid = Math.floor(n / 2);
  return n % 2 === 1 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

function columnIndex(table: CellTable, name: string): number {
  const i = table.header.indexOf(name);
  if (i < 0)
    throw new RiskfuseError(
      'VALIDATION_FAILED',
      `${table.source ?? 'input'}: column "${name}" is missing (the model needs it)`,
    );
  return i;
}

export class TabularEncoder {
  readonly featureNames: readonly string[];

  private constructor(private readonly columns: readonly EncodedColumn[]) {
    const names: string[] = [];
    for (const c of columns) {
      if (c.kind === 'numeric') {
        names.push(c.name);
        if (c.indicator) names.push(`${c.name}__missing`);
      } else {
        for (const l of c.levels) names.push(`${c.name}=${l}`);
        if (c.other) names.push(`${c.name}=${OTHER}`);
      }
    }
    this.featureNames = names;
  }

  /** Learns fills and levels from `rowIndices` of `table` only. */
  static fit(
    table: CellTable,
    rowIndices: readonly number[],
    features: readonly FeatureColumn[],
    options: FitOptions = {},
  ): TabularEncoder {
    const minCount = options.minCategoryCount ?? 5;
    const columns: EncodedColumn[] = features.map((f) => {
      const idx = columnIndex(table, f.name);
      if (f.type === 'numeric') {
        const values: number[] = [];
        let missing = 0;
        for (const r of rowIndices) {
          const cell = table.rows[r]?.[idx] ?? null;
          const n = cell === null ? undefined : parseNumber(cell);
          if (n === undefined) missing += 1;
          else values.push(n);
        }
        values.sort((a, b) => a - b);
        const fill = f.missing === 'zero' ? 0 : median(values);
        if (options.robust === false || values.length === 0)
          return { name: f.name, kind: 'numeric', fill, indicator: missing > 0 };
        // Below WINSOR_MIN_ROWS the 0.5 % quantiles are the extreme rows themselves: no clipping.
        const clip = values.length >= WINSOR_MIN_ROWS;
        const lo = clip ? quantile(values, WINSOR_QUANTILES[0]) : (values[0] as number);
        const hi = clip ? quantile(values, WINSOR_QUANTILES[1]) : (values[values.length - 1] as number);
        const clipped = values.map((v) => Math.min(hi, Math.max(lo, v)));
        const log = lo >= 0 && skewness(clipped) > LOG_SKEW;
        return { name: f.name, kind: 'numeric', fill, indicator: missing > 0, lo, hi, log };
      }
      const counts = new Map<string, number>();
      for (const r of rowIndices) {
        const level = table.rows[r]?.[idx] ?? MISSING_LEVEL;
        counts.set(level, (counts.get(level) ?? 0) + 1);
      }
      const levels = [...counts.entries()]
        .filter(([, n]) => n >= minCount)
        .map(([l]) => l)
        .sort(levelOrder);
      return { name: f.name, kind: 'categorical', levels, other: levels.length < counts.size };
    });
    return new TabularEncoder(columns);
  }

  /** The matrix columns of each source column, in order (the scorecard bins per source column). */
  groups(): ColumnGroup[] {
    const out: ColumnGroup[] = [];
    let j = 0;
    for (const c of this.columns) {
      if (c.kind === 'numeric') {
        out.push({
          kind: 'numeric',
          name: c.name,
          col: j,
          ...(c.indicator ? { missingCol: j + 1 } : {}),
          log: c.log === true,
        });
        j += c.indicator ? 2 : 1;
      } else {
        const levels = [...c.levels, ...(c.other ? [OTHER] : [])];
        out.push({ kind: 'categorical', name: c.name, cols: levels.map((_, k) => j + k), levels });
        j += levels.length;
      }
    }
    return out;
  }

  static fromJSON(json: unknown): TabularEncoder {
    if (!checkEncoder.Check(json)) {
      const first = [...checkEncoder.Errors(json)][0];
      throw new RiskfuseError(
        'VALIDATION_FAILED',
        `not a riskfuse tabular encoder: ${first ? `${first.path || '/'}: ${first.message}` : 'invalid'}`,
      );
    }
    const enc = new TabularEncoder(json.columns);
    if (enc.featureNames.join('\u0000') !== json.featureNames.join('\u0000'))
      throw new RiskfuseError('VALIDATION_FAILED', 'encoder JSON: featureNames do not match its columns');
    return enc;
  }

  toJSON(): EncoderJson {
    return {
      format: 'riskfuse-tabular-encoder/1',
      columns: this.columns.map((c) => (c.kind === 'numeric' ? { ...c } : { ...c, levels: [...c.levels] })),
      featureNames: [...this.featureNames],
    };
  }

  /** Encodes `rowIndices` of `table` (all rows when omitted). Non-numeric text in a numeric column is an error. */
  transform(table: CellTable, rowIndices?: readonly number[]): Matrix {
    const rows = rowIndices ?? table.rows.map((_, i) => i);
    const cols = this.featureNames.length;
    const data = new Float32Array(rows.length * cols);
    const indices = this.columns.map((c) => columnIndex(table, c.name));
    const levelMaps = this.columns.map((c) =>
      c.kind === 'categorical' ? new Map(c.levels.map((l, i) => [l, i])) : undefined,
    );
    rows.forEach((r, out) => {
      const row = table.rows[r];
      let j = out * cols;
      this.columns.forEach((c, ci) => {
        const cell = row?.[indices[ci] as number] ?? null;
        if (c.kind === 'numeric') {
          const n = cell === null ? undefined : parseNumber(cell);
          if (cell !== null && n === undefined) {
            const line = table.lines?.[r];
            throw new RiskfuseError(
              'VALIDATION_FAILED',
              `${table.source ?? 'input'}${line === undefined ? ` row ${r + 1}` : ` line ${line}`}: column "${c.name}" is numeric but has "${cell}"`,
            );
          }
          data[j++] = robustValue(n ?? c.fill, c);
          if (c.indicator) data[j++] = n === undefined ? 1 : 0;
          return;
        }
        const pos = levelMaps[ci]?.get(cell ?? MISSING_LEVEL);
        if (pos !== undefined) data[j + pos] = 1;
        else if (c.other) data[j + c.levels.length] = 1;
        j += c.levels.length + (c.other ? 1 : 0);
      });
    });
    return { rows: rows.length, cols, data };
  }
}

/** Numeric-looking levels in numeric order, then the rest alphabetically, so feature order is stable. */
function levelOrder(a: string, b: string): number {
  const x = parseNumber(a);
  const y = parseNumber(b);
  if (x !== undefined && y !== undefined) return x - y;
  if (x !== undefined) return -1;
  if (y !== undefined) return 1;
  return a < b ? -1 : a > b ? 1 : 0;
}
