import { Type } from '@sinclair/typebox';
import { distanceM, distanceOutsidePolygonM } from '../../core/geo.js';
import { Hysteresis } from '../detector.js';
import { Count } from './params.js';
import { readingEvidence, remember, stakeSubject, transition, type ReadingRule } from './rule.js';

/**
 * geofence: the stake reports positions outside its site polygon. A fix counts as outside only when it lies
 * beyond the fence by more than marginM plus its own reported accuracy: a lot stacked by a warehouse wall sits
 * metres from the fence line, and indoor GNSS scatters by 3–8 m with a slow drift, so without the margin such a
 * stake flaps across the line for days (the 60-day evaluation saw most geofence alerts come from that). A lot
 * on a truck is kilometres out within minutes. Hysteresis (outsideToOpen fixes out to open, insideToClear in to
 * clear) rides over single outliers; fixes less accurate than maxAccuracyM (indoor multipath) are ignored. Test: alerts/test/engine.test.ts ('GPS jitters across the fence').
 */
export const params = Type.Object(
  {
    outsideToOpen: Count('consecutive readings outside the site polygon to open', 3),
    insideToClear: Count('consecutive readings inside to clear', 3),
    marginM: Type.Number({
      minimum: 0,
      maximum: 10_000,
      default: 30,
      description: 'a fix counts as outside only this far beyond the fence (plus its accuracy), m',
    }),
    maxAccuracyM: Type.Number({
      minimum: 1,
      maximum: 100_000,
      default: 200,
      description: 'fixes less accurate than this are ignored, m',
    }),
  },
  { additionalProperties: false },
);
export const doc = {
  description:
    'the stake reports positions outside its site polygon (hysteresis: N out to open, M in to clear)',
  severity: 'critical',
  subject: 'lot',
} as const;

export const geofence: ReadingRule = {
  id: 'geofence',
  kinds: ['stake'],
  evaluate(ctx, r, mem) {
    const rule = ctx.rules.geofence;
    const g = rule.for(r.borrowerId);
    const f = r.fields;
    const site = ctx.registry.site(r.siteId);
    const acc = f.gpsAccuracyM;
    if (
      !g.enabled ||
      site === undefined ||
      site.geofence.length < 3 ||
      typeof f.lat !== 'number' ||
      typeof f.lon !== 'number' ||
      (typeof acc === 'number' && acc > g.params.maxAccuracyM)
    )
      return;
    const h = remember(mem, 'geofence', () => new Hysteresis(g.params.outsideToOpen, g.params.insideToClear));
    const subject = stakeSubject(ctx, r);
    const beyondM = distanceOutsidePolygonM([f.lat, f.lon], site.geofence);
    const outside = beyondM > g.params.marginM + (typeof acc === 'number' ? acc : 0);
    transition(
      ctx,
      h.step(outside),
      rule,
      g.severity,
      r,
      subject,
      `${subject.kind} ${subject.id} outside site ${site.id}`,
      {
        reading: readingEvidence(r),
        siteId: site.id,
        beyondFenceM: Math.round(beyondM),
        distanceFromSiteM: Math.round(distanceM([f.lat, f.lon], [site.lat, site.lon])),
      },
    );
  },
};
