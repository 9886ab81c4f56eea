import { describe, expect, it } from 'vitest';
import { RiskfuseError } from '../../core/errors.js';
import { parseCsv } from '../tabular/csv.js';
import { TabularEncoder } from '../tabular/encode.js';
import { stratifiedFolds, stratifiedHoldout } from '../tabular/folds.js';
import { inferColumnType, parseSpec, resolveSpec } from '../tabular/spec.js';

const row = (m: { rows: number; cols: number; data: Float32Array }, i: number) =>
  Array.from(m.data.subarray(i * m.cols, (i + 1) * m.cols));

describe('TabularEncoder', () => {
  // Rows 0–5 are the training rows; rows 6–7 play the validation fold.
  const table = parseCsv(
    [
      'income,region,y',
      '10,north,0',
      '20,north,1',
      '30,south,0',
      'NA,south,1',
      '40,north,0',
      '1000,east,1',
      'NA,west,0', // region "west" only outside training
      '5,,1', // missing region, never missing in training
    ].join('\n'),
  );
  const train = [0, 1, 2, 3, 4, 5];
  const features = [
    { name: 'income', type: 'numeric', missing: 'median', inferred: false },
    { name: 'region', type: 'categorical', missing: 'category', inferred: false },
  ] as const;

  it('when fitted on training rows, then the median and the levels come from those rows only', () => {
    const enc = TabularEncoder.fit(table, train, features, { minCategoryCount: 2, robust: false });
    // Training incomes 10,20,30,40,1000 → median 30; the validation rows' values play no part.
    expect(enc.featureNames).toEqual([
      'income',
      'income__missing',
      'region=north',
      'region=south',
      'region=__other',
    ]);
    const m = enc.transform(table);
    expect(m.rows).toBe(8);
    expect(m.cols).toBe(5);
    expect(row(m, 3)).toEqual([30, 1, 0, 1, 0]); // missing income → training median + indicator
    expect(row(m, 5)).toEqual([1000, 0, 0, 0, 1]); // "east" seen once < floor → __other
    expect(row(m, 6)).toEqual([30, 1, 0, 0, 1]); // "west" unknown → __other
    expect(row(m, 7)).toEqual([5, 0, 0, 0, 1]); // missing region, not a training level → __other
  });

  it('when training has no rare level, then an unknown category encodes as all zeros', () => {
    const enc = TabularEncoder.fit(table, [0, 1, 2, 3], features, { minCategoryCount: 1 });
    expect(enc.featureNames).toEqual(['income', 'income__missing', 'region=north', 'region=south']);
    expect(row(enc.transform(table, [6]), 0)).toEqual([20, 1, 0, 0]);
  });

  it('when a numeric column had no missing value in training, then it gets no indicator but is still imputed', () => {
    const enc = TabularEncoder.fit(table, [0, 1, 2], features, { minCategoryCount: 1 });
    expect(enc.featureNames).not.toContain('income__missing');
    expect(row(enc.transform(table, [3]), 0)[0]).toBe(20);
  });

  it('when saved as JSON and reloaded, then it encodes identically, even with columns in another order', () => {
    const enc = TabularEncoder.fit(table, train, features, { minCategoryCount: 2 });
    const reloaded = TabularEncoder.fromJSON(JSON.parse(JSON.stringify(enc)));
    expect(reloaded.featureNames).toEqual(enc.featureNames);
    expect(reloaded.transform(table).data).toEqual(enc.transform(table).data);
    const reordered = parseCsv('region,income\nwest,NA\nsouth,12\n');
    // income is skewed (1,000 among tens), so it is log-scaled: ln(1 + 12).
    expect(row(reloaded.transform(reordered), 1)).toEqual([Math.fround(Math.log1p(12)), 0, 0, 1, 0]);
  });

  it('when scoring rows lack a column or carry text in a numeric one, then the error names it', () => {
    const enc = TabularEncoder.fit(table, train, features);
    expect(() => enc.transform(parseCsv('income\n1\n', 'new.csv'))).toThrow(
      /new\.csv: column "region" is missing/,
    );
    expect(() => enc.transform(parseCsv('income,region\n1,a\nlots,b\n', 'new.csv'))).toThrow(
      /new\.csv line 3: column "income" is numeric but has "lots"/,
    );
  });

  it('when the JSON is not an encoder, then fromJSON refuses it', () => {
    expect(() => TabularEncoder.fromJSON({ format: 'x' })).toThrow(RiskfuseError);
  });
});

describe('spec', () => {
  it('when a column is all numbers with more than 10 distinct values, then it is numeric, else categorical', () => {
    const many = Array.from({ length: 11 }, (_, i) => String(i));
    expect(inferColumnType(many)).toBe('numeric');
    expect(inferColumnType(many.slice(0, 10))).toBe('categorical');
    expect(inferColumnType([...many, 'x'])).toBe('categorical');
    expect(inferColumnType([null, null])).toBe('empty');
  });

  it('when the spec has an unknown field or a bad type, then every problem is named', () => {
    expect(() => parseSpec({ label: 'y', colums: {} })).toThrow(/colums/);
    expect(() => parseSpec({ label: 'y', columns: { a: { type: 'number' } } })).toThrow(/columns\/a\/type/);
    expect(() =>
      parseSpec({ label: 'y', columns: { a: { type: 'categorical', missing: 'median' } } }),
    ).toThrow(/columns\.a/);
  });

  it('when no positive value is given, then the minority class is the default (y = 1)', () => {
    const t = parseCsv('x,y\n1,good\n2,good\n3,bad\n');
    const { spec, y } = resolveSpec(t, { label: 'y' });
    expect(spec.positive).toBe('bad');
    expect(Array.from(y)).toEqual([0, 0, 1]);
    expect(resolveSpec(t, { label: 'y', positive: 'good' }).y).toEqual(new Uint8Array([1, 1, 0]));
  });

  it('when the label is written 1 and 1.0, then they are one class', () => {
    const t = parseCsv('x,y\n1,1\n2,1.0\n3,0\n');
    expect(Array.from(resolveSpec(t, { label: 'y', positive: 1 }).y)).toEqual([1, 1, 0]);
  });
});

describe('stratified splits', () => {
  const y = new Uint8Array(Array.from({ length: 103 }, (_, i) => (i % 10 < 3 ? 1 : 0)));

  it('when split into 5 folds, then folds partition the rows, keep the class balance and are seeded', () => {
    const folds = stratifiedFolds(y, 5, 7);
    expect(folds.flat().sort((a, b) => a - b)).toEqual(Array.from(y, (_, i) => i));
    for (const f of folds) {
      expect(f.length).toBeGreaterThanOrEqual(20);
      expect(f.length).toBeLessThanOrEqual(21);
      const pos = f.filter((r) => y[r] === 1).length;
      expect(pos).toBeGreaterThanOrEqual(6);
      expect(pos).toBeLessThanOrEqual(7);
    }
    expect(stratifiedFolds(y, 5, 7)).toEqual(folds);
    expect(stratifiedFolds(y, 5, 8)).not.toEqual(folds);
  });

  it('when a 15 % holdout is taken, then it is disjoint from training and stratified', () => {
    const rows = Array.from(y, (_, i) => i);
    const { train, holdout } = stratifiedHoldout(y, rows, 0.15, 1);
    expect(new Set([...train, ...holdout]).size).toBe(103);
    expect(holdout.filter((r) => y[r] === 1).length).toBe(Math.round(31 * 0.15));
    expect(holdout.filter((r) => y[r] === 0).length).toBe(Math.round(72 * 0.15));
  });
});
