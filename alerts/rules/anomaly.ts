import { Type } from '@sinclair/typebox';
import { detectorOf } from './detectors.js';
import { detectorParams } from './params.js';
import { readingEvidence, transition, type ReadingRule } from './rule.js';

/**
 * anomaly: a streaming robust, seasonal anomaly detector on any numeric series named in its parameters.
 * Test: alerts/test/engine.test.ts ('anomaly').
 */
const SeriesRef = Type.Object(
  {
    kind: Type.Union([Type.Literal('stake'), Type.Literal('helmet'), Type.Literal('satellite')]),
    field: Type.String({ minLength: 1, maxLength: 64, description: 'a numeric reading field' }),
  },
  { additionalProperties: false },
);
export const params = Type.Object(
  {
    ...detectorParams,
    series: Type.Array(SeriesRef, {
      maxItems: 50,
      default: [{ kind: 'stake', field: 'temperatureC' }],
      description: 'numeric series watched, per device',
    }),
  },
  { additionalProperties: false },
);
export const doc = {
  description: 'streaming robust (median/MAD-like), seasonal anomaly detector on any numeric series',
  severity: 'info',
  subject: 'device',
} as const;

export const anomaly: ReadingRule = {
  id: 'anomaly',
  kinds: ['stake', 'helmet', 'satellite'],
  evaluate(ctx, r, mem) {
    const rule = ctx.rules.anomaly;
    const a = rule.for(r.borrowerId);
    if (!a.enabled) return;
    for (const s of a.params.series) {
      if (s.kind !== r.kind) continue;
      const x = r.fields[s.field];
      if (typeof x !== 'number') continue;
      const d = detectorOf(mem, `any:${s.field}`, a.params);
      const step = d.det.step(r.ts, x);
      transition(
        ctx,
        d.hyst.step(step.flagged),
        rule,
        a.severity,
        r,
        { kind: 'device', id: r.deviceId },
        `${s.field} of ${r.deviceId} anomalous: ${x.toFixed(2)}, expected ${step.expected.toFixed(2)}`,
        { reading: readingEvidence(r), field: s.field, value: x, expected: step.expected, z: step.z },
      );
    }
  },
};
