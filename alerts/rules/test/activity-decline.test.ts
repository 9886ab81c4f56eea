import { describe, expect, it } from 'vitest';
import { DAY, runWorld } from './pipeline.js';

/**
 * activity-decline on real readings: the night-light and yard scenes of 12 borrowers over 45 days (weekends,
 * holidays, shutdowns, cloud, the businesses' ordinary ups and downs), with b0003's plant sliding into a
 * business decline from day 5 (its latent health ramps down over a month). Only satellite payloads are sent.
 */
describe('rule activity-decline, real readings through the ingest pipeline', () => {
  it('when a plant’s business declines, then activity-decline opens on its night-light feed within weeks, and no other site raises it', async () => {
    const { world, alerts, startMs } = await runWorld({
      borrowers: 12,
      days: 45,
      scenarios: ['decline:b0003:5'],
      kinds: ['satellite'],
    });
    const feed = world.devices.find((d) => d.kind === 'satellite' && d.borrowerId === 'b0003')?.id;
    const decline = alerts.filter((a) => a.ruleId === 'activity-decline');
    expect(decline.map((a) => a.subjectId)).toEqual([feed]);
    expect(decline[0]).toMatchObject({ severity: 'warning', subjectKind: 'device', borrowerId: 'b0003' });
    expect(decline[0]?.openedAt).toBeGreaterThan(startMs + 10 * DAY);
    expect(decline[0]?.evidence.fallPct).toBeGreaterThan(25);
  }, 300_000);
});
