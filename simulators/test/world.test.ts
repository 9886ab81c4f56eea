import { describe, expect, it } from 'vitest';
import { isDeviceId } from '../../core/contracts/topics.js';
import { createEngine } from '../engine.js';
import { pointInPolygon } from '../geo.js';
import { generateWorld } from '../world.js';
import { DAY_MS, START_MS } from './support.js';

describe('generateWorld', () => {
  it('when generated twice with the same seed, then the worlds are identical', () => {
    const a = generateWorld({ seed: 42, borrowers: 30, startMs: START_MS });
    const b = generateWorld({ seed: 42, borrowers: 30, startMs: START_MS });
    expect(b).toEqual(a);
  });

  it('when the seed differs, then names, places and sizes differ', () => {
    const a = generateWorld({ seed: 1, borrowers: 20, startMs: START_MS });
    const b = generateWorld({ seed: 2, borrowers: 20, startMs: START_MS });
    expect(b.borrowers.map((x) => x.name)).not.toEqual(a.borrowers.map((x) => x.name));
    expect(b.lots.map((x) => x.pledgedWeightKg)).not.toEqual(a.lots.map((x) => x.pledgedWeightKg));
  });

  it('when the portfolio grows, then the first borrowers stay exactly the same', () => {
    const small = generateWorld({ seed: 9, borrowers: 10, startMs: START_MS });
    const big = generateWorld({ seed: 9, borrowers: 60, startMs: START_MS });
    expect(big.borrowers.slice(0, 10)).toEqual(small.borrowers);
    expect(big.devices.slice(0, small.devices.length)).toEqual(small.devices);
  });

  it('when generated, then every sector is present and every entity is consistent', () => {
    const w = generateWorld({ seed: 3, borrowers: 80, startMs: START_MS });
    expect(new Set(w.borrowers.map((b) => b.sector))).toEqual(
      new Set(['agriculture', 'manufacturing', 'trading']),
    );
    const borrowerIds = new Set(w.borrowers.map((b) => b.id));
    const siteById = new Map(w.sites.map((s) => [s.id, s]));
    const lotIds = new Set(w.lots.map((l) => l.id));
    for (const s of w.sites) {
      expect(borrowerIds.has(s.borrowerId)).toBe(true);
      expect(s.geofence.length).toBeGreaterThanOrEqual(4);
      expect(pointInPolygon([s.lat, s.lon], s.geofence)).toBe(true);
      // Canadian prairies.
      expect(s.lat).toBeGreaterThan(48.5);
      expect(s.lat).toBeLessThan(55);
      expect(s.lon).toBeGreaterThan(-116);
      expect(s.lon).toBeLessThan(-95);
    }
    for (const l of w.lots) {
      expect(siteById.get(l.siteId)?.borrowerId).toBe(l.borrowerId);
      expect(l.pledgedWeightKg).toBeGreaterThan(0);
      expect(l.unitPricePerKg).toBeGreaterThan(0);
    }
    const ids = new Set<string>();
    for (const d of w.devices) {
      expect(isDeviceId(d.id)).toBe(true);
      expect(ids.has(d.id)).toBe(false);
      ids.add(d.id);
      expect(siteById.get(d.siteId)?.borrowerId).toBe(d.borrowerId);
      if (d.kind === 'stake') expect(lotIds.has(d.lotId ?? '')).toBe(true);
      else expect(d.lotId).toBeUndefined();
    }
    for (const b of w.borrowers) {
      const mine = w.devices.filter((d) => d.borrowerId === b.id);
      expect(mine.filter((d) => d.id === `hlm-${b.id}-insp`)).toHaveLength(1);
      expect(mine.filter((d) => d.kind === 'stake').length).toBe(
        w.lots.filter((l) => l.borrowerId === b.id).length,
      );
      expect(w.loans.filter((l) => l.borrowerId === b.id).length).toBeGreaterThanOrEqual(1);
    }
    // Every parcel has a satellite feed.
    for (const s of w.sites.filter((x) => x.kind === 'parcel')) expect(ids.has(`sat-${s.id}`)).toBe(true);
    expect(w.devices[0]?.id).toMatch(/^stk-b0001-l1$/);
  });

  it('when the same seed generates readings twice, then the first readings are identical; another seed differs', () => {
    const first = (seed: number): unknown[] => {
      const e = createEngine(generateWorld({ seed, borrowers: 8, startMs: START_MS }));
      return e
        .readings(START_MS, START_MS + 2 * DAY_MS)
        .slice(0, 500)
        .map((r) => r.payload);
    };
    const a = first(77);
    expect(a).toHaveLength(500);
    expect(first(77)).toEqual(a);
    expect(first(78)).not.toEqual(a);
  });

  it('when invalid options are given, then it refuses with VALIDATION_FAILED', () => {
    expect(() => generateWorld({ seed: 1.5, borrowers: 3, startMs: START_MS })).toThrow(/seed/);
    expect(() => generateWorld({ seed: 1, borrowers: 0, startMs: START_MS })).toThrow(/borrowers/);
  });
});
