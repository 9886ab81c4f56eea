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
 *   column had any missing value in training;
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
        return { name: f.name, kind: 'numeric', fill, indicator: missing > 0 };
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
          data[j++] = n ?? c.fill;
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
