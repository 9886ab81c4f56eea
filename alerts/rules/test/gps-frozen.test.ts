import { describe, expect, it } from 'vitest';
import { DAY, runWorld } from './pipeline.js';

/**
 * gps-frozen on real readings: the spoof scenario drives a lot away at night while its stake replays one fix
 * inside the fence; every other stake's indoor fixes scatter as real GNSS does.
 */
describe('rule gps-frozen, real readings through the ingest pipeline', () => {
  it('when a lot is driven off under a spoofed GPS fix, then gps-frozen opens on that lot within hours, geofence stays silent, and no honest stake raises it', async () => {
    const { world, alerts, startMs } = await runWorld({
      borrowers: 12,
      days: 5,
      scenarios: ['spoof:b0004:2'],
    });
    const lot = world.lots.find((l) => l.borrowerId === 'b0004')?.id ?? '';
    const frozen = alerts.filter((a) => a.ruleId === 'gps-frozen');
    expect(frozen.map((a) => a.subjectId)).toEqual([lot]);
    expect(frozen[0]).toMatchObject({ severity: 'critical', subjectKind: 'lot', borrowerId: 'b0004' });
    // Departure is at 22–23.5 h local on day 2; four identical fixes take an hour.
    expect(frozen[0]?.openedAt).toBeLessThan(startMs + 3.5 * DAY);
    expect(alerts.filter((a) => a.ruleId === 'geofence' && a.subjectId === lot)).toEqual([]);
  }, 240_000);
});
