import { describe, expect, it } from 'vitest';
import { checkBorrowerCap, checkCoLending, checkCoverage, checkTenor } from '../../policy/checks.js';
import { DEFAULT_POLICY, parsePolicy } from '../../policy/policy.js';

describe('lending policy checks', () => {
  it("when the lender's own share is 25 %, then POLICY_CO_LENDING_SHARE; at 30 % it passes", () => {
    const at = (own: number) =>
      checkCoLending(
        [
          { funderId: 'lender', sharePct: own },
          { funderId: 'bank-b', sharePct: 100 - own },
        ],
        'lender',
        DEFAULT_POLICY,
      ).map((v) => v.code);
    expect(at(25)).toEqual(['POLICY_CO_LENDING_SHARE']);
    expect(at(30)).toEqual([]);
  });

  it("when the funders' shares do not add up to 100 %, then POLICY_FUNDER_SHARES", () => {
    const v = checkCoLending([{ funderId: 'lender', sharePct: 60 }], 'lender', DEFAULT_POLICY);
    expect(v.map((x) => x.code)).toEqual(['POLICY_FUNDER_SHARES']);
  });

  it('when the borrower would owe over its cap, then POLICY_BORROWER_CAP; a sector cap overrides the default', () => {
    expect(checkBorrowerCap(1_000_000, undefined, 'CAD', DEFAULT_POLICY)).toEqual([]);
    expect(checkBorrowerCap(1_000_001, undefined, 'CAD', DEFAULT_POLICY)[0]?.code).toBe(
      'POLICY_BORROWER_CAP',
    );
    const p = { ...DEFAULT_POLICY, borrowerCap: { default: 1_000_000, bySector: { trading: 500_000 } } };
    expect(checkBorrowerCap(600_000, 'trading', 'CAD', p)[0]?.limit).toBe(500_000);
  });

  it('when a secured line is under the minimum verified coverage, then POLICY_MIN_COVERAGE; unsecured passes', () => {
    expect(checkCoverage(0.8, true, DEFAULT_POLICY)[0]?.code).toBe('POLICY_MIN_COVERAGE');
    expect(checkCoverage(0.8, false, DEFAULT_POLICY)).toEqual([]);
    expect(checkCoverage(1.2, true, DEFAULT_POLICY)).toEqual([]);
  });

  it('when the tenor exceeds the maximum, then POLICY_MAX_TENOR', () => {
    expect(checkTenor(1_101, DEFAULT_POLICY)[0]?.code).toBe('POLICY_MAX_TENOR');
    expect(checkTenor(365, DEFAULT_POLICY)).toEqual([]);
  });

  it('when a policy document is malformed, then every problem is reported', () => {
    expect(() => parsePolicy({ ...DEFAULT_POLICY, maxTenorDays: 0, extra: 1 })).toThrow(/maxTenorDays/);
    expect(parsePolicy(DEFAULT_POLICY)).toEqual(DEFAULT_POLICY);
  });
});
