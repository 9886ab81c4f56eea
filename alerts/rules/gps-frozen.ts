import { Type } from '@sinclair/typebox';
import { Count } from './params.js';
import { readingEvidence, remember, stakeSubject, transition, type ReadingRule } from './rule.js';

/**
 * gps-frozen: the stake reports the very same fix, to the last digit, frozenToOpen times in a row. A real
 * GNSS receiver never does: indoors its fixes scatter by metres (the simulated stakes: 3–8 m, plus a slow
 * drift). A replayed fix is what a GPS spoofer (or a jammed receiver repeating its last solution) sends while
 * the lot is driven away — the geofence rule cannot see that, the fix is inside the fence. Clears after
 * movingToClear fixes that differ from the one before. Tests: alerts/rules/test/gps-frozen.test.ts.
 */
export const params = Type.Object(
  {
    frozenToOpen: Count('consecutive identical fixes to open', 4),
    movingToClear: Count('consecutive changing fixes to clear', 4),
  },
  { additionalProperties: false },
);
export const doc = {
  description:
    'the stake repeats one identical GPS fix frozenToOpen times in a row (spoofed or stuck receiver; real fixes scatter)',
  severity: 'critical',
  subject: 'lot',
} as const;

interface FrozenState {
  lat: number;
  lon: number;
  same: number;
  moving: number;
  open: boolean;
}

export const gpsFrozen: ReadingRule = {
  id: 'gps-frozen',
  kinds: ['stake'],
  evaluate(ctx, r, mem) {
    const rule = ctx.rules['gps-frozen'];
    const g = rule.for(r.borrowerId);
    const { lat, lon } = r.fields;
    if (!g.enabled || typeof lat !== 'number' || typeof lon !== 'number') return;
    const st = remember<FrozenState>(mem, 'gps-frozen', () => ({
      lat: NaN,
      lon: NaN,
      same: 0,
      moving: 0,
      open: false,
    }));
    const same = lat === st.lat && lon === st.lon;
    st.lat = lat;
    st.lon = lon;
    st.same = same ? st.same + 1 : 0;
    st.moving = same ? 0 : st.moving + 1;
    let decision: 'open' | 'clear' | undefined;
    if (!st.open && st.same + 1 >= g.params.frozenToOpen) decision = 'open';
    else if (st.open && st.moving >= g.params.movingToClear) decision = 'clear';
    if (decision === undefined) return;
    st.open = decision === 'open';
    const subject = stakeSubject(ctx, r);
    transition(
      ctx,
      decision,
      rule,
      g.severity,
      r,
      subject,
      `${subject.kind} ${subject.id}: stake ${r.deviceId} repeats one GPS fix (${st.same + 1} readings) — spoofed or stuck`,
      { reading: readingEvidence(r), identicalFixes: st.same + 1 },
    );
  },
};
