import { Type } from '@sinclair/typebox';
import { Hysteresis } from '../detector.js';
import { Count } from './params.js';
import { readingEvidence, remember, transition, type ReadingRule } from './rule.js';

/**
 * tamper: the stake's enclosure/seal switch reads open. Test: alerts/test/engine.test.ts ('tamper').
 */
export const params = Type.Object(
  { closedToClear: Count('consecutive readings with the seal closed to clear', 4) },
  { additionalProperties: false },
);
export const doc = {
  description: 'the stake enclosure/seal switch reads open',
  severity: 'critical',
  subject: 'device',
} as const;

export const tamper: ReadingRule = {
  id: 'tamper',
  kinds: ['stake'],
  evaluate(ctx, r, mem) {
    const rule = ctx.rules.tamper;
    const t = rule.for(r.borrowerId);
    if (!t.enabled || typeof r.fields.tamper !== 'number') return;
    const h = remember(mem, 'tamper', () => new Hysteresis(1, t.params.closedToClear));
    transition(
      ctx,
      h.step(r.fields.tamper === 1),
      rule,
      t.severity,
      r,
      { kind: 'device', id: r.deviceId },
      `tamper switch open on ${r.deviceId}`,
      { reading: readingEvidence(r) },
    );
  },
};
