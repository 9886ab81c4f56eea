import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { evaluateNab, NAB_PARAMS } from '../nab.js';

const DEV = new URL('../../../shared/data/nab-dev', import.meta.url).pathname;

describe('streaming anomaly detector on the NAB development set', () => {
  it.skipIf(!existsSync(DEV))(
    'when it runs over the 36 development series with NAB scoring, then every profile and every category with windows scores well, held-out categories included',
    () => {
      // A one-candidate grid keeps this fast; `npm run eval:nab` searches the full grid.
      const r = evaluateNab(DEV, NAB_PARAMS, [NAB_PARAMS]);
      expect(r.files).toHaveLength(36);
      // 72.5 / 67.7 / 76.0 with the weekly profile (70.3 / 66.6 / 73.5 without; README "Streaming detector");
      // Numenta HTM 73.2 / 66.8 / 76.5 here.
      expect(r.profiles.standard.score).toBeGreaterThanOrEqual(71);
      expect(r.profiles.reward_low_FP_rate.score).toBeGreaterThanOrEqual(65);
      expect(r.profiles.reward_low_FN_rate.score).toBeGreaterThanOrEqual(74);
      // No category far below the rest: 67.4–91.2 with windows (known cause was 52.5 without the weekly profile).
      for (const [c, k] of Object.entries(r.profiles.standard.categories)) {
        if (k.score === null) expect(k.falsePositives, c).toBeLessThanOrEqual(3);
        else expect(k.score, c).toBeGreaterThanOrEqual(62);
      }
      // Thresholds chosen without the held-out category (70.8 / 66.0 pooled; 68.6 / 63.4 without weekly).
      expect(r.locoOverall.standard).toBeGreaterThanOrEqual(69);
      expect(r.locoOverall.reward_low_FP_rate).toBeGreaterThanOrEqual(64);
    },
    120_000,
  );
});
