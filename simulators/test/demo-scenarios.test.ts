import { describe, expect, it } from 'vitest';
import { demoScenarios } from '../demo-scenarios.js';

describe('the demo world’s scenarios', () => {
  const world = { seed: 42, borrowers: 50, replayDays: 7 };

  it('when auto, then each fraud kind, an outage and an off-site inspection land on distinct borrowers inside the replay, the same for the same seed', () => {
    const s = demoScenarios('auto', world);
    expect(s.map((x) => x.kind).sort()).toEqual(
      ['inspection-offsite', 'moved', 'outage', 'removal', 'spoof', 'tamper'].sort(),
    );
    expect(new Set(s.map((x) => x.target)).size).toBe(s.length);
    for (const x of s) {
      expect(x.target).toMatch(/^b00(0[1-9]|[1-4]\d|50)$/);
      expect(x.startDay).toBeGreaterThanOrEqual(1);
      expect(x.startDay).toBeLessThanOrEqual(6);
    }
    expect(demoScenarios('auto', world)).toEqual(s);
    expect(demoScenarios('auto', { ...world, seed: 43 })).not.toEqual(s);
  });

  it('when none or a list of specs, then exactly those; a bad spec is a clear error', () => {
    expect(demoScenarios('none', world)).toEqual([]);
    expect(demoScenarios('removal:b0003:2, tamper:b0010:4', world)).toMatchObject([
      { kind: 'removal', target: 'b0003', startDay: 2 },
      { kind: 'tamper', target: 'b0010', startDay: 4 },
    ]);
    expect(() => demoScenarios('theft:b0003', world)).toThrow(/invalid scenario "theft:b0003"/);
  });
});
