import { Type } from '@sinclair/typebox';
import { distanceM, pointInPolygon } from '../../core/geo.js';
import { Hysteresis } from '../detector.js';
import { Count } from './params.js';
import { readingEvidence, remember, transition, type ReadingRule } from './rule.js';

/**
 * inspection-offsite: an inspector's helmet logs inspection fixes outside the site (polygon, or toleranceM of
 * its centre), with hysteresis. Test: alerts/test/engine.test.ts ('inspection').
 */
export const params = Type.Object(
  {
    outsideToOpen: Count('consecutive inspection fixes outside the site polygon to open', 3),
    insideToClear: Count('consecutive inspection fixes inside to clear', 3),
    toleranceM: Type.Number({
      minimum: 0,
      maximum: 100_000,
      default: 250,
      description: 'fixes this close to the site centre count as on site, m',
    }),
  },
  { additionalProperties: false },
);
export const doc = {
  description:
    "an inspector's helmet (role inspector in the registry) reports inspection fixes outside the site",
  severity: 'critical',
  subject: 'device',
} as const;

export const inspectionOffsite: ReadingRule = {
  id: 'inspection-offsite',
  kinds: ['helmet'],
  evaluate(ctx, r, mem) {
    const f = r.fields;
    // Only the lender's inspectors log inspections; the registry records who wears a helmet.
    if (f.mode !== 'inspection' || ctx.registry.device(r.deviceId)?.role !== 'inspector') return;
    if (typeof f.lat !== 'number' || typeof f.lon !== 'number') return;
    const rule = ctx.rules['inspection-offsite'];
    const i = rule.for(r.borrowerId);
    const site = ctx.registry.site(r.siteId);
    if (!i.enabled || site === undefined) return;
    const onSite =
      (site.geofence.length >= 3 && pointInPolygon([f.lat, f.lon], site.geofence)) ||
      distanceM([f.lat, f.lon], [site.lat, site.lon]) <= i.params.toleranceM;
    const h = remember(
      mem,
      'inspection-offsite',
      () => new Hysteresis(i.params.outsideToOpen, i.params.insideToClear),
    );
    const distance = Math.round(distanceM([f.lat, f.lon], [site.lat, site.lon]));
    transition(
      ctx,
      h.step(!onSite),
      rule,
      i.severity,
      r,
      { kind: 'device', id: r.deviceId },
      `inspection ${String(f.inspectionId ?? '')} by ${r.deviceId} ${(distance / 1000).toFixed(1)} km from site ${site.id}`,
      {
        reading: readingEvidence(r),
        siteId: site.id,
        distanceFromSiteM: distance,
        inspectionId: f.inspectionId ?? null,
      },
    );
  },
};
