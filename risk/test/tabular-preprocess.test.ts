import { describe, expect, it } from 'vitest';
import { mulberry32 } from '../../core/random.js';
import { parseCsv } from '../tabular/csv.js';
import { TabularEncoder } from '../tabular/encode.js';
import { idLikeReason, resolveSpec } from '../tabular/spec.js';

/** Robust preprocessing of `riskfuse train`: id-like columns left out, heavy tails winsorised and logged. */

function csv(header: string[], rows: (string | number)[][]): string {
  return [header.join(','), ...rows.map((r) => r.join(','))].join('\n');
}

describe('id-like columns', () => {
  const n = 50;
  const random = mulberry32(7);
  const shuffled = Array.from({ length: n }, (_, i) => i + 1000).sort(() => random() - 0.5);

  it('when a column is a row number, a shuffled range or distinct text, then it is called id-like', () => {
    expect(idLikeReason(Array.from({ length: n }, (_, i) => String(i + 1)))).toMatch(/file order \(1 … 50\)/);
    expect(idLikeReason(shuffled.map(String))).toMatch(/1000 … 1049, each once/);
    expect(idLikeReason(Array.from({ length: n }, (_, i) => `ACC-${i * 7}`))).toMatch(/distinct text/);
  });

  it('when values repeat, are real numbers, miss, or the table is tiny, then the column is kept', () => {
    expect(idLikeReason(Array.from({ length: n }, (_, i) => String(i % 40)))).toBeUndefined();
    // Distinct amounts with cents are data, not ids.
    expect(idLikeReason(Array.from({ length: n }, (_, i) => (i * 13.37 + 0.5).toFixed(2)))).toBeUndefined();
    // Distinct integers with gaps, in no order (e.g. loan amounts) are data.
    expect(idLikeReason(shuffled.map((v) => String(v * 3)))).toBeUndefined();
    expect(idLikeReason([...Array.from({ length: n - 1 }, (_, i) => String(i)), null])).toBeUndefined();
    expect(idLikeReason(['1', '2', '3'])).toBeUndefined();
  });

  it('when a file has an unnamed row-number column, then resolveSpec leaves it out and says why', () => {
    const rows = Array.from({ length: n }, (_, i) => [i + 1, (i * 37) % 101, i % 3 === 0 ? 1 : 0]);
    const { spec } = resolveSpec(parseCsv(csv(['id', 'income', 'bad'], rows)), { label: 'bad' });
    expect(spec.features.map((f) => f.name)).toEqual(['income']);
    expect(spec.excluded.find((e) => e.name === 'id')?.reason).toMatch(
      /^id-like: distinct integers in file order/,
    );
  });
});

describe('robust numeric transform', () => {
  // 400 utilisation ratios in [0, 1] plus two absurd ones (50,000 and 20,000), as in real bureau data.
  const random = mulberry32(3);
  const values = [...Array.from({ length: 400 }, () => random()), 50_000, 20_000];
  const table = parseCsv(
    csv(
      ['util', 'y'],
      values.map((v, i) => [v, i % 2]),
    ),
  );
  const rows = values.map((_, i) => i);
  const features = [{ name: 'util', type: 'numeric', missing: 'median', inferred: true }] as const;

  it('when a column has a heavy tail, then it is winsorised at the training quantiles and log-scaled', () => {
    const enc = TabularEncoder.fit(table, rows, features);
    const col = enc.toJSON().columns[0] as { lo?: number; hi?: number; log?: boolean };
    expect(col.hi).toBeLessThan(1.01); // the 99.5 % quantile of the ratios, not 50,000
    const m = enc.transform(table);
    const max = Math.max(...m.data);
    expect(max).toBeCloseTo(col.log === true ? Math.log1p(col.hi as number) : (col.hi as number), 5);
    // Monotone: the order of the bulk of the rows is unchanged.
    const a = m.data[0] as number;
    const b = m.data[1] as number;
    expect(Math.sign(a - b)).toBe(Math.sign((values[0] as number) - (values[1] as number)));
  });

  it('when a skewed non-negative column is fitted, then it is log-scaled; a symmetric one is not', () => {
    const skew = Array.from({ length: 400 }, () => Math.exp(4 * random()));
    const sym = Array.from({ length: 400 }, () => random() - 0.5);
    const t = parseCsv(
      csv(
        ['amount', 'score', 'y'],
        skew.map((v, i) => [v, sym[i] as number, i % 2]),
      ),
    );
    const enc = TabularEncoder.fit(
      t,
      skew.map((_, i) => i),
      [
        { name: 'amount', type: 'numeric', missing: 'median', inferred: true },
        { name: 'score', type: 'numeric', missing: 'median', inferred: true },
      ],
    );
    const [amount, score] = enc.toJSON().columns as { log?: boolean }[];
    expect(amount?.log).toBe(true);
    expect(score?.log).toBe(false);
  });

  it('when an encoder saved before robust scaling is loaded, then it encodes raw values as it did', () => {
    const old = {
      format: 'riskfuse-tabular-encoder/1',
      columns: [{ name: 'util', kind: 'numeric', fill: 0.5, indicator: false }],
      featureNames: ['util'],
    };
    const m = TabularEncoder.fromJSON(old).transform(table, [400]);
    expect(m.data[0]).toBe(50_000);
  });

  it('when robust is off, then values pass through', () => {
    const enc = TabularEncoder.fit(table, rows, features, { robust: false });
    expect(enc.transform(table, [400]).data[0]).toBe(50_000);
  });
});
