import { Type } from '@sinclair/typebox';
import { Pct } from './params.js';
import { readingEvidence, remember, transition, type ReadingRule } from './rule.js';

/**
 * battery-low: the battery is below belowPct (clears above clearAbovePct). Test: alerts/test/engine.test.ts.
 */
export const params = Type.Object(
  {
    belowPct: Pct('opens when the battery is below', 15),
    clearAbovePct: Pct('clears when it is back above', 25),
  },
  { additionalProperties: false },
);
export const doc = { description: 'battery below belowPct', severity: 'info', subject: 'device' } as const;

export const batteryLow: ReadingRule = {
  id: 'battery-low',
  kinds: ['stake', 'helmet', 'satellite'],
  evaluate(ctx, r, mem) {
    const rule = ctx.rules['battery-low'];
    const b = rule.for(r.borrowerId);
    const battery = r.fields.batteryPct;
    if (!b.enabled || typeof battery !== 'number') return;
    const st = remember(mem, 'battery-low', () => ({ low: false }));
    const decision =
      !st.low && battery < b.params.belowPct
        ? 'open'
        : st.low && battery > b.params.clearAbovePct
          ? 'clear'
          : undefined;
    if (decision !== undefined) st.low = decision === 'open';
    transition(
      ctx,
      decision,
      rule,
      b.severity,
      r,
      { kind: 'device', id: r.deviceId },
      `battery of ${r.deviceId} at ${battery.toFixed(0)} %`,
      { reading: readingEvidence(r) },
    );
  },
};
