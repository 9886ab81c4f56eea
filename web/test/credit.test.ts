import { describe, expect, it } from 'vitest';
import { breachLabel, fmtCoverage, fourEyesState, lotWhy, parseFunders } from '../core/credit.js';

const lot = (over: Record<string, unknown>) => ({
  lotId: 'l1',
  commodity: 'canola',
  currency: 'CAD',
  haircut: 0.2,
  claimedValue: 80_000,
  measuredWeightKg: 100_000,
  verifiedValue: 80_000,
  factor: 1,
  conditions: [] as string[],
  ...over,
});

const app = (over: Record<string, unknown>) => ({
  id: 'a1',
  amount: 300_000,
  currency: 'CAD',
  createdAt: 0,
  status: 'pending',
  ...over,
});

describe('the dashboard’s credit helpers', () => {
  it('when a lot counts reduced, then the page says why in words with the share it keeps; a full lot counts in full', () => {
    expect(lotWhy(lot({}))).toBe('counts in full');
    expect(lotWhy(lot({ conditions: ['outside-geofence'], factor: 0, verifiedValue: 0 }))).toBe(
      'outside its geofence: counts at 0 %',
    );
    expect(lotWhy(lot({ conditions: ['tampered', 'offline'], factor: 0.5, verifiedValue: 40_000 }))).toBe(
      'tampered (seal opened), stake offline: counts at 50 %',
    );
    // Weight carried off without any condition: the verified value is under the claim for that reason alone.
    expect(lotWhy(lot({ measuredWeightKg: 60_000, verifiedValue: 48_000 }))).toBe(
      'measured weight below the pledge',
    );
    expect(
      lotWhy(lot({ measuredWeightKg: undefined, conditions: ['unverified'], factor: 0, verifiedValue: 0 })),
    ).toBe('weight unverified (no recent reading): counts at 0 %');
  });

  it('when co-lending shares are typed as "funder share" pairs, then they become the API\'s funders, and a malformed pair is named', () => {
    expect(parseFunders('lender 40, bank-b 60 %')).toEqual([
      { funderId: 'lender', sharePct: 40 },
      { funderId: 'bank-b', sharePct: 60 },
    ]);
    expect(parseFunders('  ')).toEqual([]);
    expect(() => {
      parseFunders('lender 40, bank-b sixty');
    }).toThrow('"bank-b sixty" is not "funder share"');
  });

  it('when an application awaits a second approver, then the first approver is named and may not decide again; another may', () => {
    const first = {
      approverKeyId: 'k1',
      approverName: 'Ana',
      outcome: 'approve',
      amount: 300_000,
      reasons: [],
    };
    const a = app({ status: 'awaiting-second' });
    const mine = fourEyesState(a, [first], 'k1');
    expect(mine.text).toMatch(/^First approval by you .*awaiting a second, different approver\.$/);
    expect(mine.mayDecide).toBe(false);
    const other = fourEyesState(a, [first], 'k2');
    expect(other.text).toContain('First approval by Ana');
    expect(other.mayDecide).toBe(true);
    const second = { ...first, approverKeyId: 'k2', approverName: 'Ben', amount: 280_000 };
    const done = fourEyesState(app({ status: 'approved', decidedAmount: 280_000 }), [first, second], 'k3');
    expect(done.text).toBe(`Approved for ${(280_000).toLocaleString()} CAD by Ana and Ben.`);
    expect(done.mayDecide).toBe(false);
    expect(fourEyesState(app({}), [], 'k1')).toEqual({ text: 'Awaiting a decision.', mayDecide: true });
  });

  it('when policy codes and coverages are shown, then codes read as words and a missing ratio is a dash', () => {
    expect(breachLabel('POLICY_MIN_COVERAGE')).toBe('min coverage');
    expect(fmtCoverage(1.234)).toBe('1.23×');
    expect(fmtCoverage(undefined)).toBe('—');
  });
});
