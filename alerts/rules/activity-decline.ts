import { Type } from '@sinclair/typebox';
import { Hysteresis } from '../detector.js';
import { median } from './median.js';
import { Count, DAY, Ms, Pct } from './params.js';
import { readingEvidence, remember, transition, type ReadingRule } from './rule.js';

/**
 * activity-decline: a site's satellite activity index (night-time lights of a plant or warehouse, trucks at a
 * yard) settles `dropPct` below the best it showed over `windowMs`: a business winding down, weeks before it
 * misses a payment. The level is the median of the last `medianOfScenes` usable scenes, so weekends, holidays
 * and a shutdown week (a fifth to two fifths dimmer for a few scenes) do not move it; scenes under heavy cloud
 * (`maxCloudPct`: cloud dims night lights) are skipped; the level must stay below for `persistScenes` scenes.
 * Test: alerts/rules/test/activity-decline.test.ts.
 */
export const params = Type.Object(
  {
    dropPct: Pct("the activity level's fall below its best over the window, %", 25),
    windowMs: Ms('baseline window (its best level)', 45 * DAY),
    medianOfScenes: Count('usable scenes in the rolling median (the level)', 9),
    maxCloudPct: Pct('scenes cloudier than this are skipped', 60),
    persistScenes: Count('consecutive scenes below to open', 3),
    clearScenes: Count('consecutive scenes back within dropPct / 2 to clear', 5),
  },
  { additionalProperties: false },
);
export const doc = {
  description:
    "a site's satellite activity index (night lights, yard trucks) settles dropPct below its best rolling median over windowMs",
  severity: 'warning',
  subject: 'device',
} as const;

interface ActivityState {
  readonly recent: number[];
  /** Monotonic deque (decreasing levels) for the window's best level. */
  readonly dq: { ts: number; level: number }[];
  readonly hyst: Hysteresis;
}

export const activityDecline: ReadingRule = {
  id: 'activity-decline',
  kinds: ['satellite'],
  evaluate(ctx, r, mem) {
    const rule = ctx.rules['activity-decline'];
    const s = rule.for(r.borrowerId);
    if (!s.enabled) return;
    const p = s.params;
    const x = r.fields.activityIndex;
    const cloud = r.fields.cloudPct;
    if (typeof x !== 'number' || (typeof cloud === 'number' && cloud > p.maxCloudPct)) return;
    const st = remember(mem, 'activity-decline', (): ActivityState => ({
      recent: [],
      dq: [],
      hyst: new Hysteresis(p.persistScenes, p.clearScenes),
    }));
    st.recent.push(x);
    if (st.recent.length > p.medianOfScenes) st.recent.shift();
    if (st.recent.length < p.medianOfScenes) return;
    const level = median(st.recent);
    while (st.dq.length > 0 && (st.dq[0] as { ts: number }).ts < r.ts - p.windowMs) st.dq.shift();
    const best = st.dq[0]?.level ?? level;
    const fall = best > 0 ? 1 - level / best : 0;
    // Opens beyond dropPct; clears only once back within half of it (no flapping at the line).
    const below = st.hyst.active ? fall > p.dropPct / 200 : fall > p.dropPct / 100;
    const decision = st.hyst.step(below);
    while (st.dq.length > 0 && (st.dq[st.dq.length - 1] as { level: number }).level <= level) st.dq.pop();
    st.dq.push({ ts: r.ts, level });
    transition(
      ctx,
      decision,
      rule,
      s.severity,
      r,
      { kind: 'device', id: r.deviceId },
      `activity of ${r.deviceId} ${Math.round(100 * fall)} % below its best of the last ${Math.round(p.windowMs / DAY)} days`,
      { reading: readingEvidence(r), level, bestLevel: best, fallPct: 100 * fall },
    );
  },
};
