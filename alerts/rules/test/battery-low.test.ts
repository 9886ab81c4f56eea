import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { helmet, MIN, stake, T0, world, type World } from '../../test/support.js';
import { runWorld } from './pipeline.js';

const HOUR = 60 * MIN;

describe('rule battery-low knows the device kind', () => {
  it('when helmets drain through their shifts and charge at night (real readings, 12 borrowers, 7 days), then no helmet battery alert opens', async () => {
    const { world: w, alerts } = await runWorld({ borrowers: 12, days: 7 });
    const helmets = new Set(w.devices.filter((d) => d.kind === 'helmet').map((d) => d.id));
    expect(helmets.size).toBeGreaterThan(30);
    expect(alerts.filter((a) => a.ruleId === 'battery-low' && helmets.has(a.subjectId))).toEqual([]);
  }, 240_000);

  describe('on crafted readings', () => {
    let w: World;
    beforeEach(async () => {
      w = await world();
    });
    afterEach(() => w.close());
    const shift = async (day: number, startPct: number) => {
      for (let k = 0; k < 8; k++) {
        await w.alerts.engine.onReadings([
          helmet('hlm-b1-w1', T0 + day * 24 * HOUR + k * HOUR, {
            batteryPct: Math.max(0, startPct - 7.5 * k),
          }),
        ]);
      }
    };
    const batteryAlerts = () => w.alerts.service.list({ limit: 10, ruleId: 'battery-low' });

    it('when a helmet ends its shift at 10 %, then nothing; when it starts three shifts in a row uncharged, then it opens; a charged shift clears it', async () => {
      await shift(0, 95);
      expect(await batteryAlerts()).toEqual([]);
      await shift(1, 55);
      await shift(2, 50);
      expect(await batteryAlerts()).toEqual([]);
      await shift(3, 45);
      expect(await batteryAlerts()).toMatchObject([
        { status: 'open', subjectId: 'hlm-b1-w1', severity: 'info' },
      ]);
      await shift(4, 98);
      expect((await batteryAlerts())[0]?.status).toBe('resolved');
    });

    it('when a stake pack falls below 15 %, then it opens (stakes are not charged nightly)', async () => {
      await w.alerts.engine.onReadings([stake(T0, { batteryPct: 14 })]);
      expect(await batteryAlerts()).toMatchObject([{ status: 'open', subjectId: 'stk-l1' }]);
    });
  });
});
