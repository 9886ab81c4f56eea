import { describe, expect, it } from 'vitest';
import { DAY, runWorld } from './pipeline.js';

/**
 * ndvi-drought on real readings: the simulated parcels' scenes (seasonal curve, sowing-date shift, cloud,
 * regional good or bad year) from late April, the growing season, with a drought over b0001's region from day
 * 10. Only satellite payloads are sent (the rule reads nothing else).
 */
describe('rule ndvi-drought, real readings through the ingest pipeline', () => {
  it('when a drought sets in over a region in spring, then ndvi-drought opens on parcels of that region’s farms only, while spring growth elsewhere raises nothing', async () => {
    const startMs = Date.UTC(2026, 3, 20);
    const { world, alerts } = await runWorld({
      borrowers: 100,
      days: 40,
      startMs,
      scenarios: ['drought:b0001:10'],
      kinds: ['satellite'],
    });
    const region = world.borrowers.find((b) => b.id === 'b0001')?.region;
    const farmsThere = new Set(
      world.borrowers.filter((b) => b.region === region && b.sector === 'agriculture').map((b) => b.id),
    );
    const parcels = new Set(world.sites.filter((s) => s.kind === 'parcel').map((s) => s.id));
    const parcelsElsewhere = world.devices.filter(
      (d) => parcels.has(d.siteId ?? '') && !farmsThere.has(d.borrowerId),
    );
    const drought = alerts.filter((a) => a.ruleId === 'ndvi-drought');
    expect(drought.length).toBeGreaterThan(0);
    for (const a of drought) {
      expect(farmsThere.has(a.borrowerId ?? '')).toBe(true);
      expect(a.openedAt).toBeGreaterThan(startMs + 10 * DAY);
      expect(a).toMatchObject({ severity: 'warning', subjectKind: 'device' });
    }
    expect(parcelsElsewhere.length).toBeGreaterThan(0);
  }, 300_000);
});
