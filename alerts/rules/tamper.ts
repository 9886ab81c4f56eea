import { Type } from '@sinclair/typebox';
import { Hysteresis } from '../detector.js';
import { Count } from './params.js';
import { readingEvidence, remember, transition, type ReadingRule } from './rule.js';

/**
 * tamper: the stake's enclosure/seal switch reads open on openToOpen readings in a row. A reed switch bounces:
 * the simulated stakes read a lone `open` on ~0.06 % of readings (signals/stake.ts), ~70 a day over 1,200
 * stakes, each of them an alert when one reading sufficed; a real opening lasts 25 min or more, two readings
 * at a 15-min cadence. Tests: alerts/rules/test/tamper.test.ts, alerts/test/engine.test.ts ('tamper').
 */
export const params = Type.Object(
  {
    openToOpen: Count('consecutive readings with the seal open to open', 2),
    closedToClear: Count('consecutive readings with the seal closed to clear', 4),
  },
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
    const h = remember(mem, 'tamper', () => new Hysteresis(t.params.openToOpen, t.params.closedToClear));
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
