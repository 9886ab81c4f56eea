import { Type } from '@sinclair/typebox';
import { Count, HOUR, Ms, Pct } from './params.js';
import { readingEvidence, remember, transition, type ReadingRule } from './rule.js';

/**
 * battery-low, by what the device is:
 * - a stake or satellite terminal runs on a pack that only a technician replaces: low below belowPct (clears
 *   above clearAbovePct);
 * - a helmet is charged every night and drains ~7.5 %/h through a shift, so an evening at 15 % is normal. It is
 *   low when it *misses charges*: missedChargesToOpen shifts in a row started below chargedPct (a charger
 *   or a pack that no longer holds); a shift that starts charged clears it. A shift starts at the first reading
 *   after sessionGapMs of silence.
 * Tests: alerts/rules/test/battery-low.test.ts.
 */
export const params = Type.Object(
  {
    belowPct: Pct('stakes and satellite terminals: opens when the battery is below', 15),
    clearAbovePct: Pct('stakes and satellite terminals: clears when it is back above', 25),
    chargedPct: Pct('helmets: a shift starting below this missed its charge', 80),
    missedChargesToOpen: Count('helmets: shifts in a row starting uncharged to open', 3),
    sessionGapMs: Ms('helmets: silence that ends a shift', 4 * HOUR),
  },
  { additionalProperties: false },
);
export const doc = {
  description:
    'stakes/satellite: battery below belowPct; helmets (charged nightly): missedChargesToOpen shifts in a row started below chargedPct',
  severity: 'info',
  subject: 'device',
} as const;

interface BatteryState {
  low: boolean;
  lastTs: number;
  missed: number;
}

export const batteryLow: ReadingRule = {
  id: 'battery-low',
  kinds: ['stake', 'helmet', 'satellite'],
  evaluate(ctx, r, mem) {
    const rule = ctx.rules['battery-low'];
    const b = rule.for(r.borrowerId);
    const battery = r.fields.batteryPct;
    if (!b.enabled || typeof battery !== 'number') return;
    const st = remember<BatteryState>(mem, 'battery-low', () => ({
      low: false,
      lastTs: -Infinity,
      missed: 0,
    }));
    let decision: 'open' | 'clear' | undefined;
    let title = `battery of ${r.deviceId} at ${battery.toFixed(0)} %`;
    if (r.kind === 'helmet') {
      const shiftStart = r.ts - st.lastTs >= b.params.sessionGapMs;
      st.lastTs = r.ts;
      if (!shiftStart) return;
      st.missed = battery < b.params.chargedPct ? st.missed + 1 : 0;
      if (!st.low && st.missed >= b.params.missedChargesToOpen) decision = 'open';
      else if (st.low && st.missed === 0) decision = 'clear';
      title = `helmet ${r.deviceId} missed ${st.missed} charges in a row (shift started at ${battery.toFixed(0)} %)`;
    } else {
      decision =
        !st.low && battery < b.params.belowPct
          ? 'open'
          : st.low && battery > b.params.clearAbovePct
            ? 'clear'
            : undefined;
    }
    if (decision !== undefined) st.low = decision === 'open';
    transition(ctx, decision, rule, b.severity, r, { kind: 'device', id: r.deviceId }, title, {
      reading: readingEvidence(r),
      ...(r.kind === 'helmet' ? { missedCharges: st.missed } : {}),
    });
  },
};
