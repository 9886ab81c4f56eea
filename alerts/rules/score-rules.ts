import { Type } from '@sinclair/typebox';
import type { ScoreChangeInput } from '../engine.js';
import { Count } from './params.js';
import type { RuleContext } from './rule.js';

/**
 * The rules over score changes from the scoring service: pd-threshold (the official PD crosses above pdAbove;
 * clears below clearBelow) and grade-downgrade (the grade moves down by minSteps or more; clears when back at the
 * grade before). Tests: alerts/test/engine.test.ts ('PD', 'downgrade').
 */
export const pdThresholdParams = Type.Object(
  {
    pdAbove: Type.Number({
      minimum: 0,
      maximum: 1,
      default: 0.2,
      description: 'opens when the PD crosses above',
    }),
    clearBelow: Type.Number({
      minimum: 0,
      maximum: 1,
      default: 0.15,
      description: 'clears when it falls below',
    }),
  },
  { additionalProperties: false },
);
export const pdThresholdDoc = {
  description: 'the official PD crosses above pdAbove',
  severity: 'warning',
  subject: 'borrower',
} as const;
export const gradeDowngradeParams = Type.Object(
  { minSteps: Count('grade steps down (A→C = 2) to open', 1) },
  { additionalProperties: false },
);
export const gradeDowngradeDoc = {
  description: 'the official grade moves down by minSteps or more',
  severity: 'warning',
  subject: 'borrower',
} as const;

export function onScoreChange(ctx: RuleContext, c: ScoreChangeInput): void {
  const evidence = {
    borrowerId: c.borrowerId,
    at: c.at,
    ...(c.modelVersion === undefined ? {} : { modelVersion: c.modelVersion }),
    pd: c.current.pd,
    grade: c.current.grade,
    previous: { pd: c.previous.pd, grade: c.previous.grade },
    gradeSteps: c.gradeSteps,
  };
  const subject = { subjectKind: 'borrower' as const, subjectId: c.borrowerId, borrowerId: c.borrowerId };
  const pd = ctx.rules['pd-threshold'];
  const pdr = pd.for(c.borrowerId);
  if (pdr.enabled) {
    if (c.current.pd >= pdr.params.pdAbove && c.previous.pd < pdr.params.pdAbove) {
      ctx.plan.open({
        ruleId: 'pd-threshold',
        severity: pdr.severity,
        ...subject,
        title: `PD of ${c.borrowerId} rose to ${(c.current.pd * 100).toFixed(1)} % (threshold ${(pdr.params.pdAbove * 100).toFixed(1)} %)`,
        evidence,
        at: c.at,
      });
    } else if (c.current.pd < pdr.params.clearBelow && pd.autoResolve) {
      ctx.plan.clear('pd-threshold', 'borrower', c.borrowerId, c.at, evidence);
    }
  }
  const gd = ctx.rules['grade-downgrade'];
  const gdr = gd.for(c.borrowerId);
  if (gdr.enabled) {
    if (c.gradeSteps >= gdr.params.minSteps) {
      ctx.plan.open({
        ruleId: 'grade-downgrade',
        severity: gdr.severity,
        ...subject,
        title: `${c.borrowerId} downgraded ${c.previous.grade} → ${c.current.grade}`,
        evidence,
        at: c.at,
      });
    } else if (c.gradeSteps < 0 && gd.autoResolve) {
      const active = ctx.plan.activeEvidence('grade-downgrade', 'borrower', c.borrowerId);
      const from = (active?.previous as { grade?: string } | undefined)?.grade;
      // Grades are letters, A best: back at (or above) the grade before the downgrade clears it.
      if (from === undefined || c.current.grade <= from) {
        ctx.plan.clear('grade-downgrade', 'borrower', c.borrowerId, c.at, evidence);
      }
    }
  }
}
