import { describe, expect, it } from 'vitest';
import { fmtCount, fmtDuration, fmtMoney, fmtPd } from '../core/format.js';
import { hashOf } from '../core/router.js';

describe('the dashboard’s pure helpers', () => {
  it('when a page’s hash is built, then empty parameters are left out and values are encoded', () => {
    expect(hashOf('/portfolio')).toBe('#/portfolio');
    expect(hashOf('/alerts', { status: '', borrowerId: 'b 1&x', cursor: undefined, limit: 0 })).toBe(
      '#/alerts?borrowerId=b+1%26x&limit=0',
    );
  });

  it('when PDs, counts and durations are formatted, then units and rounding are the table’s', () => {
    expect(fmtPd(0.0123)).toBe('1.23 %');
    expect(fmtCount(undefined)).toBe('—');
    expect(fmtDuration(90 * 60_000)).toBe('1.5 h');
    expect(fmtDuration(36 * 3_600_000)).toBe('1.5 d');
    expect(fmtDuration(59 * 60_000)).toBe('59 min');
  });

  it('when an amount is formatted, then an ISO currency gets its symbol and an unknown code is shown as stored', () => {
    expect(fmtMoney('EUR', 1234.4)).toMatch(/1.?234/);
    expect(fmtMoney('EUR', 1234.4)).toMatch(/€/);
    expect(fmtMoney('bushels', 1234.6)).toBe(`${(1235).toLocaleString()} bushels`);
  });
});
