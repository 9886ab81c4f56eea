import { describe, expect, it } from 'vitest';
import { RiskfuseError } from '../../core/errors.js';
import { detectDelimiter, parseCsv } from '../tabular/csv.js';

function errorOf(fn: () => unknown): RiskfuseError {
  try {
    fn();
  } catch (err) {
    if (err instanceof RiskfuseError) return err;
    throw err;
  }
  throw new Error('expected a RiskfuseError');
}

describe('parseCsv', () => {
  it.each([
    [',', 'a,b,c\n1,2,3\n4,5,6\n'],
    [';', 'a;b;c\n1;2;3\n4;5;6\n'],
    ['\t', 'a\tb\tc\n1\t2\t3\n4\t5\t6\n'],
    ['whitespace', 'a b   c\n 1  2 3\n4 5     6  \n'],
  ])('when the delimiter is %j, then it is detected and the cells split on it', (delimiter, text) => {
    const t = parseCsv(text);
    expect(t.delimiter).toBe(delimiter);
    expect(t.header).toEqual(['a', 'b', 'c']);
    expect(t.rows).toEqual([
      ['1', '2', '3'],
      ['4', '5', '6'],
    ]);
  });

  it('when fields are quoted, then delimiters, quotes and newlines inside them are kept and lines still count', () => {
    const t = parseCsv('name,note\n"Smith, J","said ""hi"""\n"multi\nline",x\nlast,y\n');
    expect(t.rows).toEqual([
      ['Smith, J', 'said "hi"'],
      ['multi\nline', 'x'],
      ['last', 'y'],
    ]);
    expect(t.lines).toEqual([2, 4, 5]);
  });

  it('when a header has more semicolons than commas, then semicolon wins (decimal commas in data)', () => {
    expect(detectDelimiter('a;b;c,d')).toBe(';');
  });

  it('when cells are empty, NA, NaN, null or ?, then they read as missing', () => {
    const t = parseCsv('a,b,c,d,e,f\n,NA,NaN,null,?,na\n1, 2 ,x,NULL,0,?\n');
    expect(t.rows[0]).toEqual([null, null, null, null, null, null]);
    expect(t.rows[1]).toEqual(['1', '2', 'x', null, '0', null]);
  });

  it('when a row has too few or too many fields, then the error names its line and the field counts', () => {
    const err = errorOf(() => parseCsv('a,b,c\n1,2,3\n4,5\n6,7,8\n9,10,11,12\n', 'loans.csv'));
    expect(err.code).toBe('VALIDATION_FAILED');
    expect(err.message).toContain('loans.csv');
    expect(err.message).toContain('line 3 has 2 fields');
    expect(err.message).toContain('line 5 has 4 fields');
    expect(err.message).toContain('header has 3 columns');
  });

  it('when the file is empty or blank, then the error says it is empty', () => {
    expect(errorOf(() => parseCsv('', 'x.csv')).message).toMatch(/x\.csv: the file is empty/);
    expect(errorOf(() => parseCsv('\n  \n', 'x.csv')).message).toMatch(/empty/);
  });

  it('when the file has only a header, then the error says there are no data rows', () => {
    expect(errorOf(() => parseCsv('a,b,c\n', 'h.csv')).message).toBe(
      'h.csv: the file has a header but no data rows',
    );
  });

  it('when the header repeats a name, then the error names the column', () => {
    expect(errorOf(() => parseCsv('a,b,a\n1,2,3\n')).message).toContain('column "a" twice');
  });

  it('when the file starts with a byte-order mark, then the first column name is clean', () => {
    expect(parseCsv('\ufeffid,x\n1,2\n').header).toEqual(['id', 'x']);
  });
});
