import { describe, expect, it } from 'vitest';
import { DAY, runWorld } from './pipeline.js';

/**
 * tamper on real readings: the simulated stakes' switches bounce (a lone `open` on ~0.06 % of readings) and the
 * tamper scenario opens one lot's enclosure in episodes of 25–180 min.
 */
describe('rule tamper, real readings through the ingest pipeline', () => {
  it('when one stake is opened in episodes among 30 stakes whose switches bounce, then tamper opens on that stake alone, within its first episode', async () => {
    const { world, alerts, startMs } = await runWorld({
      borrowers: 12,
      days: 6,
      scenarios: ['tamper:b0003:2'],
    });
    const tamper = alerts.filter((a) => a.ruleId === 'tamper');
    const stake = `stk-${world.lots.find((l) => l.borrowerId === 'b0003')?.id ?? ''}`;
    expect(tamper.length).toBeGreaterThan(0);
    expect(new Set(tamper.map((a) => a.subjectId))).toEqual(new Set([stake]));
    // The first episode starts at 21–24 h local on day 2 and lasts at least 25 min.
    expect(Math.min(...tamper.map((a) => a.openedAt))).toBeLessThan(startMs + 3.5 * DAY);
  }, 240_000);
});
