import { describe, expect, it } from 'vitest';
import { createEngine } from '../../../simulators/index.js';
import { runWorld } from './pipeline.js';

/**
 * anomaly on real readings: stakes in heated plants (b0003, b0004, b0011 of seed 7) read the plant's air, which
 * drifts a little with the weather outside (simulators/climate.ts indoorTempC); the spoof scenario drives
 * b0003's lot out into the open at night while its stake replays one fix inside the fence, so only its
 * temperature says the lot has left the building.
 */
describe('rule anomaly, real readings through the ingest pipeline', () => {
  it('when a lot is driven out of a heated plant, then anomaly opens on its stake, and the weather moving the other plants’ air raises nothing', async () => {
    const { world, alerts } = await runWorld({
      borrowers: 12,
      days: 7,
      scenarios: ['spoof:b0003:4'],
    });
    const stake = world.devices.find((d) => d.kind === 'stake' && d.lotId === 'b0003-l1')?.id ?? '';
    const watched = world.lots.filter((l) => world.sites.find((s) => s.id === l.siteId)?.kind === 'factory');
    expect(watched.length).toBeGreaterThan(2);
    const anomaly = alerts.filter((a) => a.ruleId === 'anomaly');
    expect(anomaly.map((a) => a.subjectId)).toEqual([stake]);
    expect(anomaly[0]).toMatchObject({ severity: 'info', subjectKind: 'device', borrowerId: 'b0003' });
    expect(anomaly[0]?.evidence).toMatchObject({ field: 'temperatureC' });
    // An hour of readings far from the plant's daily profile opens it, after the lot has left.
    const lot = world.lots.findIndex((l) => l.id === 'b0003-l1');
    const departMs = createEngine(world).effects.relocationByLot.get(lot)?.departMs ?? NaN;
    expect(anomaly[0]?.openedAt).toBeGreaterThan(departMs);
    expect(anomaly[0]?.openedAt).toBeLessThan(departMs + 3 * 3_600_000);
  }, 300_000);
});
