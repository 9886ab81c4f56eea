import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Reading } from '../../../core/contracts/index.js';
import { satellite, T0, world, type World } from '../../test/support.js';

const DAY = 86_400_000;

/**
 * ndvi-drought's reference of far-away parcels (alerts/rules/ndvi-drought.ts) when scenes arrive late: the
 * engine's list of scenes is in arrival order, and a parcel's scenes sent long after they were taken (a
 * satellite feed's backfill, a replay) must not stand in for the reference window of scenes taken now.
 */
describe('rule ndvi-drought, scenes that arrive late', () => {
  let w: World;
  beforeEach(async () => {
    w = await world();
    // A parcel ~2,200 km north of b1's site s1: far enough to be part of s1's reference.
    await w.state.portfolio.upsertSites([
      { id: 's-far', borrowerId: 'b1', name: 'Far parcel', kind: 'parcel', lat: 30, lon: 20, geofence: [] },
    ]);
    // Two feeds over it: one current, one that was silent for weeks and then sends its backlog.
    await w.state.devices.upsertDevices(
      ['sat-far', 'sat-far-backlog'].map((id) => ({
        device: { id, kind: 'satellite', borrowerId: 'b1', siteId: 's-far', status: 'active', createdAt: T0 },
        credentials: { deviceId: id, salt: 'x', tokenHash: 'y' },
      })),
    );
  });
  afterEach(() => w.close());

  const far = (ts: number, ndvi: number, deviceId = 'sat-far'): Reading => ({
    ...satellite(ts, { ndvi }),
    deviceId,
    siteId: 's-far',
  });
  const feed = (rs: Reading[]) => w.alerts.engine.onReadings(rs);

  it("when a far feed's scenes from weeks ago arrive after the recent ones, then they do not count in the reference, and a parcel whose NDVI halves against the recent far scenes opens the alert", async () => {
    let t = T0 + 60 * DAY;
    // Two weeks of clear scenes at both parcels, the same NDVI: s1's usual ratio to the far parcel is 1.
    for (let d = 0; d < 14; d++) {
      t += DAY;
      await feed([far(t - 3_600_000, 0.6)]);
      await feed([satellite(t, { ndvi: 0.6 })]);
    }
    // The other feed's scenes of a month before, sent only now (bare soil then): 20 of them.
    await feed(
      Array.from({ length: 20 }, (_, i) => far(T0 + 20 * DAY + i * 3_600_000, 0.15, 'sat-far-backlog')),
    );
    // s1 halves; the far parcel goes on as before.
    for (let d = 0; d < 3; d++) {
      t += DAY;
      await feed([far(t - 3_600_000, 0.6)]);
      await feed([satellite(t, { ndvi: 0.3 })]);
    }
    const alerts = await w.alerts.service.list({ limit: 10, ruleId: 'ndvi-drought' });
    expect(alerts).toMatchObject([{ status: 'open', subjectId: 'sat-b1' }]);
    expect(alerts[0]?.evidence.referenceNdvi).toBeCloseTo(0.6, 6);
  });
});
