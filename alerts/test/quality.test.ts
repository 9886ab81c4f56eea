import { describe, expect, it } from 'vitest';
import {
  GRACE_MS,
  per100BorrowersWeek,
  scoreAlerts,
  type GroundTruthEvent,
  type ScoredAlert,
} from '../quality.js';

const H = 3_600_000;
const WEEK = 7 * 24 * H;
const removal: GroundTruthEvent = {
  id: 'sc1',
  kind: 'removal',
  fraud: true,
  scenario: true,
  borrowerIds: ['b1'],
  subjectIds: ['b1-l1', 'stk-b1-l1'],
  startMs: 10 * H,
  onsetMs: 12 * H,
  endMs: 40 * H,
};
const alert = (x: Partial<ScoredAlert>): ScoredAlert => ({
  ruleId: 'weight-drop',
  severity: 'critical',
  subjectId: 'b1-l1',
  borrowerId: 'b1',
  openedAt: 13 * H,
  ...x,
});

describe('alert quality against ground truth', () => {
  it('when an alert is on the event subject inside its window, then it is a true positive that detects the event, timed from the onset', () => {
    const r = scoreAlerts([alert({})], [removal], { borrowers: 100, fromMs: 0, toMs: WEEK });
    expect(r.precision).toBe(1);
    expect(r.byKind.removal?.recall).toBe(1);
    expect(r.byKind.removal?.ttdP50H).toBeCloseTo(1);
    expect(r.fraudRecallWithin6h).toBe(1);
    expect(r.noisePer100BorrowersWeek).toBe(0);
  });

  it('when an alert is on the borrower but another subject, then it overlaps (precision) without detecting the event (recall)', () => {
    const r = scoreAlerts([alert({ ruleId: 'battery-low', subjectId: 'hlm-b1-w1' })], [removal], {
      borrowers: 100,
      fromMs: 0,
      toMs: WEEK,
    });
    expect(r.byRule['battery-low']?.precision).toBe(1);
    expect(r.byKind.removal?.recall).toBe(0);
  });

  it('when an alert opens after the end plus the grace, or on another borrower, then it is noise per 100 borrowers per week', () => {
    const late = alert({ openedAt: removal.endMs + GRACE_MS + 1 });
    const other = alert({ subjectId: 'b2-l1', borrowerId: 'b2' });
    const r = scoreAlerts([late, other], [removal], { borrowers: 200, fromMs: 0, toMs: WEEK });
    expect(r.precision).toBe(0);
    expect(r.criticalPrecision).toBe(0);
    // 2 alerts over 2 hundred borrowers over one week.
    expect(r.noisePer100BorrowersWeek).toBeCloseTo(1);
    expect(r.byKind.removal?.detected).toBe(0);
  });

  it('when detection comes later than 6 h after the onset, then it counts for recall but not for recall within 6 h', () => {
    const r = scoreAlerts([alert({ openedAt: removal.onsetMs + 7 * H })], [removal], {
      borrowers: 100,
      fromMs: 0,
      toMs: WEEK,
    });
    expect(r.byKind.removal?.recall).toBe(1);
    expect(r.fraudRecallWithin6h).toBe(0);
  });

  it('when 30 alerts open among 500 borrowers over two weeks, then that is 3 per 100 borrowers per week (the figure npm start and eval:alerts print); before any time has passed there is none', () => {
    expect(per100BorrowersWeek(30, { borrowers: 500, fromMs: WEEK, toMs: 3 * WEEK })).toBeCloseTo(3);
    expect(per100BorrowersWeek(30, { borrowers: 500, fromMs: WEEK, toMs: WEEK })).toBeUndefined();
    expect(per100BorrowersWeek(30, { borrowers: 0, fromMs: 0, toMs: WEEK })).toBeUndefined();
    // The report's noise is the same figure over the alerts outside true events.
    const r = scoreAlerts([alert({ openedAt: 5 * WEEK })], [removal], {
      borrowers: 50,
      fromMs: 0,
      toMs: 2 * WEEK,
    });
    expect(r.noisePer100BorrowersWeek).toBeCloseTo(
      per100BorrowersWeek(1, { borrowers: 50, fromMs: 0, toMs: 2 * WEEK }) ?? NaN,
    );
  });
});
