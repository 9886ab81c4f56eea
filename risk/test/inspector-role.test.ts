import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Device, State } from '../../core/state/index.js';
import { openTestState } from '../../core/state/test/backends.js';
import { loadPortfolio } from '../features/extract.js';

const T0 = Date.UTC(2026, 0, 5);

/**
 * Which helmet is the lender's inspector's comes from the registry's device role (migration 010), not from the
 * device's name: a helmet renamed or provisioned under another convention still counts as the inspection.
 */
describe("inspection features read the helmet's registered role", () => {
  const dir = mkdtempSync(join(tmpdir(), 'rf-insp-role-'));
  let state: State | undefined;
  afterAll(async () => {
    await state?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("when the inspector's helmet has no -insp suffix and a worker's has one, then the inspector's is the one the inspection features read", async () => {
    const s = await openTestState(dir);
    state = s;
    await s.portfolio.upsertBorrowers([
      { id: 'b1', name: 'Grain Co', sector: 'trading', region: 'north', createdAt: T0 },
    ]);
    await s.portfolio.upsertSites([
      {
        id: 's1',
        borrowerId: 'b1',
        name: 'Depot',
        kind: 'warehouse',
        lat: 10,
        lon: 20,
        geofence: [
          [9.999, 19.999],
          [9.999, 20.001],
          [10.001, 20.001],
        ],
      },
    ]);
    const helmet = (id: string, role: NonNullable<Device['role']>) => ({
      device: {
        id,
        kind: 'helmet',
        borrowerId: 'b1',
        siteId: 's1',
        role,
        status: 'active',
        createdAt: T0,
      } as const,
      credentials: { deviceId: id, salt: 'x', tokenHash: 'y' },
    });
    await s.devices.upsertDevices([helmet('hlm-b1-lender-7', 'inspector'), helmet('hlm-b1-insp', 'worker')]);
    const assets = (await loadPortfolio(s)).assets.get('b1');
    expect(assets?.inspectorHelmets.map((h) => h.device.id)).toEqual(['hlm-b1-lender-7']);
    expect(assets?.workerHelmets.map((d) => d.id)).toEqual(['hlm-b1-insp']);
  });
});
