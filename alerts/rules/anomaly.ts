import { Type } from '@sinclair/typebox';
import { detectOnDevice } from './detectors.js';
import { Count, detectorParams, FlagOnScore } from './params.js';
import type { ReadingRule } from './rule.js';

/**
 * anomaly: a streaming robust, seasonal anomaly detector on any numeric series named in its parameters,
 * optionally only at sites of some kinds (by default stake temperatures in heated plants).
 * Test: alerts/test/engine.test.ts ('anomaly').
 */
const SeriesRef = Type.Object(
  {
    kind: Type.Union([Type.Literal('stake'), Type.Literal('helmet'), Type.Literal('satellite')]),
    field: Type.String({ minLength: 1, maxLength: 64, description: 'a numeric reading field' }),
    siteKinds: Type.Optional(
      Type.Array(
        Type.Union([
          Type.Literal('warehouse'),
          Type.Literal('factory'),
          Type.Literal('parcel'),
          Type.Literal('yard'),
        ]),
        { maxItems: 4, description: 'only devices at sites of these kinds (default: all)' },
      ),
    ),
  },
  { additionalProperties: false },
);
export const params = Type.Object(
  {
    ...detectorParams,
    flagOnScore: FlagOnScore(false),
    zThreshold: Type.Number({ minimum: 1, maximum: 100, default: 6, description: 'robust z-score to flag' }),
    persistReadings: Count('consecutive flagged readings to open', 4),
    series: Type.Array(SeriesRef, {
      maxItems: 50,
      // An unheated warehouse or yard follows the weather (a cold front is a 'temperature anomaly' in every
      // one of them at once); a heated plant holds its temperature, so a swing there means something.
      default: [{ kind: 'stake', field: 'temperatureC', siteKinds: ['factory'] }],
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
      if (s.siteKinds !== undefined) {
        const site = ctx.registry.site(r.siteId);
        if (site === undefined || !(s.siteKinds as readonly string[]).includes(site.kind)) continue;
      }
      const x = r.fields[s.field];
      if (typeof x !== 'number') continue;
      detectOnDevice(
        ctx,
        mem,
        rule,
        a,
        r,
        { key: `any:${s.field}`, field: s.field, x },
        (expected) =>
          `${s.field} of ${r.deviceId} anomalous: ${x.toFixed(2)}, expected ${expected.toFixed(2)}`,
      );
    }
  },
};
