import { Type } from '@sinclair/typebox';
import { median } from './median.js';
import { Count, DAY, Ms, Pct } from './params.js';
import { readingEvidence, remember, stakeSubject, transition, type ReadingRule } from './rule.js';

/**
 * weight-drop: the collateral's weight falls beyond dropPct within windowMs, against the window's highest
 * rolling median (so a restock raises the baseline and the day's sales, spread over hours, stay under it). The
 * rolling median of medianOfReadings readings is the persistence: one load-cell glitch is not a drop.
 * Tests: alerts/test/engine.test.ts ('most of a lot disappears overnight', 'sold down through the working day').
 */
export const params = Type.Object(
  {
    dropPct: Pct('drop below the window baseline, % of max(pledged weight, baseline)', 35),
    windowMs: Ms('baseline window', 3 * DAY),
    medianOfReadings: Count('readings in the rolling median (persistence)', 5),
    restorePct: Pct('clears when the weight is back within this % of the pre-drop level', 15),
  },
  { additionalProperties: false },
);
export const doc = {
  description:
    'collateral weight falls beyond dropPct within windowMs, against a rolling baseline, on a rolling median (restocks and daily sales are not drops)',
  severity: 'critical',
  subject: 'lot',
} as const;

interface WeightState {
  readonly recent: number[];
  /** Monotonic deque (decreasing medians) for the window max. */
  readonly dq: { ts: number; kg: number }[];
  referenceKg?: number;
}

export const weightDrop: ReadingRule = {
  id: 'weight-drop',
  kinds: ['stake'],
  evaluate(ctx, r, mem) {
    const rule = ctx.rules['weight-drop'];
    const w = rule.for(r.borrowerId);
    const kg = r.fields.weightKg;
    if (!w.enabled || typeof kg !== 'number') return;
    const p = w.params;
    const device = ctx.registry.device(r.deviceId);
    const lot = device?.lotId === undefined ? undefined : ctx.registry.lot(device.lotId);
    const subject = stakeSubject(ctx, r);
    const ws = remember<WeightState>(mem, 'weight-drop', () => ({ recent: [], dq: [] }));
    ws.recent.push(kg);
    if (ws.recent.length > p.medianOfReadings) ws.recent.shift();
    if (ws.recent.length < p.medianOfReadings) return;
    const m = median(ws.recent);
    while (ws.dq.length > 0 && (ws.dq.at(-1)?.kg ?? Infinity) <= m) ws.dq.pop();
    ws.dq.push({ ts: r.ts, kg: m });
    while (ws.dq.length > 1 && (ws.dq[0]?.ts ?? 0) < r.ts - p.windowMs) ws.dq.shift();
    const baseline = ws.dq[0]?.kg ?? m;
    const denom = Math.max(lot?.pledgedWeightKg ?? 0, baseline, 1e-9);
    const active = ctx.plan.activeEvidence('weight-drop', subject.kind, subject.id);
    if (ws.referenceKg !== undefined || active !== undefined) {
      const ref = ws.referenceKg ?? Number(active?.baselineKg ?? baseline);
      ws.referenceKg = ref;
      if (m >= ref - (p.restorePct / 100) * Math.max(lot?.pledgedWeightKg ?? 0, ref)) {
        delete ws.referenceKg;
        transition(ctx, 'clear', rule, w.severity, r, subject, '', {
          reading: readingEvidence(r),
          medianKg: m,
        });
      }
    } else if (((baseline - m) / denom) * 100 >= p.dropPct) {
      ws.referenceKg = baseline;
      transition(
        ctx,
        'open',
        rule,
        w.severity,
        r,
        subject,
        `${subject.kind} ${subject.id} weight down ${(((baseline - m) / baseline) * 100).toFixed(0)} % (${Math.round(baseline)} → ${Math.round(m)} kg)`,
        {
          baselineKg: baseline,
          medianKg: m,
          dropPctOfBasis: ((baseline - m) / denom) * 100,
          ...(lot === undefined ? {} : { pledgedWeightKg: lot.pledgedWeightKg }),
          windowMs: p.windowMs,
          recentWeightsKg: [...ws.recent],
          reading: readingEvidence(r),
        },
      );
    }
  },
};
