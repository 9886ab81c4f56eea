import { Type, type Static } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { RiskfuseError } from '../../core/errors.js';
import type { CsvTable } from './csv.js';

/**
 * The spec of a lender's tabular file: which column is the label, which label value means default ("bad"),
 * and how each column is treated. Every field but `label` is optional; columns the spec does not name are
 * inferred (see `inferColumnType`).
 */
export const ColumnSpecSchema = Type.Object(
  {
    type: Type.Union([Type.Literal('numeric'), Type.Literal('categorical'), Type.Literal('ignore')], {
      description: 'numeric: used as a number; categorical: one-hot encoded; ignore: not a feature',
    }),
    missing: Type.Optional(
      Type.Union([Type.Literal('median'), Type.Literal('zero'), Type.Literal('category')], {
        description:
          'numeric: median (default) or zero imputation, plus a <col>__missing indicator; categorical: category (the only option: missing is its own level)',
      }),
    ),
  },
  { additionalProperties: false },
);
export type ColumnSpec = Static<typeof ColumnSpecSchema>;

export const TabularSpecSchema = Type.Object(
  {
    label: Type.Optional(
      Type.String({ minLength: 1, description: 'label column (required here unless --label is given)' }),
    ),
    positive: Type.Optional(
      Type.Union([Type.String({ minLength: 1 }), Type.Number()], {
        description: 'label value meaning default/bad; default: the minority class',
      }),
    ),
    columns: Type.Optional(Type.Record(Type.String({ minLength: 1 }), ColumnSpecSchema)),
    id: Type.Optional(Type.String({ minLength: 1, description: 'row identifier column, never a feature' })),
  },
  { additionalProperties: false },
);
export type TabularSpec = Static<typeof TabularSpecSchema>;

const checkSpec = TypeCompiler.Compile(TabularSpecSchema);

/** Distinct finite values above which an all-numeric column is numeric rather than categorical. */
export const NUMERIC_MIN_DISTINCT = 10;

/** Validates parsed spec JSON; every problem is listed in one error. */
export function parseSpec(json: unknown, source = 'spec'): TabularSpec {
  if (checkSpec.Check(json)) {
    for (const [name, col] of Object.entries(json.columns ?? {})) {
      const m = col.missing;
      if (m === undefined) continue;
      if (col.type === 'categorical' && m !== 'category')
        throw invalid(
          `${source}: columns.${name}: a categorical column takes missing "category", not "${m}"`,
        );
      if (col.type === 'numeric' && m === 'category')
        throw invalid(`${source}: columns.${name}: a numeric column takes missing "median" or "zero"`);
    }
    return json;
  }
  const problems = [...checkSpec.Errors(json)].slice(0, 10).map((e) => `${e.path || '/'}: ${e.message}`);
  throw invalid(`${source} is not a valid spec: ${problems.join('; ')}`, problems);
}

export function parseSpecText(text: string, source = 'spec'): TabularSpec {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw invalid(`${source} is not valid JSON: ${(err as Error).message}`);
  }
  return parseSpec(json, source);
}

export type FeatureType = 'numeric' | 'categorical';

/** A feature column as resolved against a file. */
export interface FeatureColumn {
  readonly name: string;
  readonly type: FeatureType;
  readonly missing: 'median' | 'zero' | 'category';
  /** True when the type came from inference rather than the spec. */
  readonly inferred: boolean;
}

export interface ResolvedSpec {
  readonly label: string;
  /** The label value (as written in the file) meaning default/bad; it becomes y = 1. */
  readonly positive: string;
  readonly negative: string;
  readonly id?: string;
  readonly features: readonly FeatureColumn[];
  /** Columns left out and why (ignored by the spec, empty, the label or the id). */
  readonly excluded: readonly { readonly name: string; readonly reason: string }[];
}

export interface LabelledTable {
  readonly spec: ResolvedSpec;
  /** 1 = positive (default/bad), one per row of the table. */
  readonly y: Uint8Array;
}

function invalid(message: string, details?: unknown): RiskfuseError {
  return new RiskfuseError('VALIDATION_FAILED', message, details === undefined ? {} : { details });
}

/** A trimmed cell as a finite number, or undefined. */
export function parseNumber(cell: string): number | undefined {
  if (cell === '') return undefined;
  const n = Number(cell);
  return Number.isFinite(n) ? n : undefined;
}

/**
 * The inference rule: a column whose non-missing values all parse as finite numbers and take more than
 * NUMERIC_MIN_DISTINCT distinct values is numeric; any other column is categorical (so small integer codes
 * such as 1–4 are treated as categories). A column with no non-missing value is left out.
 */
export function inferColumnType(values: readonly (string | null)[]): FeatureType | 'empty' {
  const distinct = new Set<number>();
  let any = false;
  for (const v of values) {
    if (v === null) continue;
    any = true;
    const n = parseNumber(v);
    if (n === undefined) return 'categorical';
    distinct.add(n);
  }
  if (!any) return 'empty';
  return distinct.size > NUMERIC_MIN_DISTINCT ? 'numeric' : 'categorical';
}

/** Rows below which a column is never called id-like (a handful of rows is unique by chance). */
export const ID_MIN_ROWS = 20;

/**
 * Why an inferred column looks like a row identifier, or undefined. A model must never learn from one: a row
 * number or an application sequence orders rows by when they were collected, so it carries the period's
 * default rate into cross-validation and means nothing for a new applicant. Id-like, when present on every
 * row and distinct on every row:
 * - text (account numbers, UUIDs);
 * - integers that run in file order (sequential) or fill a range min…max without gaps (a shuffled row number).
 * Distinct real numbers (amounts with cents) are not ids. Pinned by risk/test/tabular-spec.test.ts.
 */
export function idLikeReason(values: readonly (string | null)[]): string | undefined {
  const n = values.length;
  if (n < ID_MIN_ROWS || values.some((v) => v === null)) return undefined;
  if (new Set(values).size !== n) return undefined;
  const nums = values.map((v) => parseNumber(v as string));
  if (nums.some((v) => v === undefined)) return 'id-like: distinct text on every row';
  const ints = nums as number[];
  if (!ints.every((v) => Number.isInteger(v))) return undefined;
  if (new Set(ints).size !== n) return undefined;
  const increasing = ints.every((v, i) => i === 0 || v > (ints[i - 1] as number));
  const decreasing = ints.every((v, i) => i === 0 || v < (ints[i - 1] as number));
  if (increasing || decreasing)
    return `id-like: distinct integers in file order (${ints[0]} … ${ints[n - 1]})`;
  const min = Math.min(...ints);
  const max = Math.max(...ints);
  if (max - min + 1 === n) return `id-like: the integers ${min} … ${max}, each once`;
  return undefined;
}

function sameValue(a: string, b: string): boolean {
  if (a === b) return true;
  const x = parseNumber(a);
  const y = parseNumber(b);
  return x !== undefined && y !== undefined && x === y;
}

function lineList(table: CsvTable, rows: readonly number[]): string {
  const shown = rows.slice(0, 5).map((r) => table.lines[r] ?? r + 2);
  return `line${shown.length > 1 ? 's' : ''} ${shown.join(', ')}${rows.length > 5 ? ` and ${rows.length - 5} more` : ''}`;
}

/**
 * Resolves the spec against the table: checks that every named column exists, that the label has exactly two
 * values and none missing, that columns declared numeric hold numbers, and infers the rest. Returns y.
 */
export function resolveSpec(
  table: CsvTable,
  spec: TabularSpec,
  overrides: { readonly label?: string; readonly positive?: string } = {},
): LabelledTable {
  const src = table.source;
  const label = overrides.label ?? spec.label;
  if (label === undefined) throw invalid('no label column: pass --label COLUMN or set "label" in the spec');
  const colIndex = new Map(table.header.map((h, i) => [h, i]));
  const available = () =>
    table.header.length <= 30
      ? ` (columns: ${table.header.join(', ')})`
      : ` (${table.header.length} columns)`;

  const labelIdx = colIndex.get(label);
  if (labelIdx === undefined)
    throw invalid(`${src}: label column "${label}" is not in the header${available()}`);
  if (spec.id !== undefined && !colIndex.has(spec.id))
    throw invalid(`${src}: id column "${spec.id}" (from the spec) is not in the header${available()}`);
  const unknown = Object.keys(spec.columns ?? {}).filter((c) => !colIndex.has(c));
  if (unknown.length > 0)
    throw invalid(
      `${src}: the spec names column${unknown.length > 1 ? 's' : ''} not in the header: ${unknown.map((c) => `"${c}"`).join(', ')}${available()}`,
    );
  if (spec.id !== undefined && spec.id === label)
    throw invalid(`the id column and the label are both "${label}"`);

  // Label: no missing, exactly two distinct values.
  const labels = table.rows.map((r) => r[labelIdx] ?? null);
  const missingRows = labels.flatMap((v, i) => (v === null ? [i] : []));
  if (missingRows.length > 0)
    throw invalid(
      `${src}: label "${label}" is missing on ${missingRows.length} row(s): ${lineList(table, missingRows)}`,
    );
  const counts = new Map<string, number>();
  for (const v of labels as string[]) {
    const key = [...counts.keys()].find((k) => sameValue(k, v)) ?? v;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  if (counts.size === 1)
    throw invalid(
      `${src}: label "${label}" has one class only (every row is "${[...counts.keys()][0]}"); two classes are needed`,
    );
  if (counts.size > 2) {
    const shown = [...counts.entries()].slice(0, 8).map(([k, n]) => `"${k}" ×${n}`);
    throw invalid(
      `${src}: label "${label}" must have exactly two distinct values (e.g. 0/1), found ${counts.size}: ${shown.join(', ')}${counts.size > 8 ? ', …' : ''}`,
    );
  }
  const [[a, na], [b, nb]] = [...counts.entries()] as [[string, number], [string, number]];
  const wanted = overrides.positive ?? (spec.positive === undefined ? undefined : String(spec.positive));
  let positive: string;
  if (wanted !== undefined) {
    const match = [a, b].find((v) => sameValue(v, wanted));
    if (match === undefined)
      throw invalid(`positive label value "${wanted}" is not one of the label's values "${a}", "${b}"`);
    positive = match;
  } else if (na === nb) {
    throw invalid(
      `${src}: label "${label}" classes are balanced (${na} each); say which value means default with "positive" in the spec or --positive`,
    );
  } else {
    positive = na < nb ? a : b;
  }
  const negative = positive === a ? b : a;
  const y = new Uint8Array(labels.map((v) => (sameValue(v as string, positive) ? 1 : 0)));

  const features: FeatureColumn[] = [];
  const excluded: { name: string; reason: string }[] = [{ name: label, reason: 'label' }];
  if (spec.id !== undefined) excluded.push({ name: spec.id, reason: 'id' });
  const declaredNumericProblems: string[] = [];
  table.header.forEach((name, i) => {
    if (name === label || name === spec.id) return;
    const declared = spec.columns?.[name];
    const values = table.rows.map((r) => r[i] ?? null);
    if (declared?.type === 'ignore') {
      excluded.push({ name, reason: 'ignored by the spec' });
      return;
    }
    if (declared?.type === 'numeric') {
      const bad = values.flatMap((v, r) => (v !== null && parseNumber(v) === undefined ? [r] : []));
      if (bad.length > 0) {
        const first = bad[0] as number;
        declaredNumericProblems.push(
          `column "${name}" is declared numeric but has non-numeric values on ${lineList(table, bad)} (e.g. "${values[first]}" on line ${table.lines[first]})`,
        );
        return;
      }
      features.push({ name, type: 'numeric', missing: declared.missing ?? 'median', inferred: false });
      return;
    }
    if (declared?.type === 'categorical') {
      features.push({ name, type: 'categorical', missing: 'category', inferred: false });
      return;
    }
    const type = inferColumnType(values);
    if (type === 'empty') {
      excluded.push({ name, reason: 'no non-missing values' });
      return;
    }
    const idLike = idLikeReason(values);
    if (idLike !== undefined) {
      excluded.push({ name, reason: `${idLike}; left out (declare it in the spec to use it)` });
      return;
    }
    features.push({ name, type, missing: type === 'numeric' ? 'median' : 'category', inferred: true });
  });
  if (declaredNumericProblems.length > 0) throw invalid(`${src}: ${declaredNumericProblems.join('; ')}`);
  if (features.length === 0) throw invalid(`${src}: no feature columns left besides the label`);

  return {
    spec: {
      label,
      positive,
      negative,
      ...(spec.id === undefined ? {} : { id: spec.id }),
      features,
      excluded,
    },
    y,
  };
}
