import { describe, expect, it } from 'vitest';
import { createEngine } from '../engine.js';
import { distanceM, pointInPolygon } from '../geo.js';
import { parseScenario, type ScenarioSpec } from '../scenarios.js';
import type { GeneratedReading } from '../stream.js';
import { generateWorld, type World } from '../world.js';
import { asHelmet, asSatellite, asStake, DAY_MS, mean } from './support.js';

/**
 * Each scenario must show in the readings: the same world is run with and without it, and the difference is
 * what a lender's analytics would see.
 */
const START = Date.UTC(2024, 5, 3);
const SEED = 5;
const BORROWERS = 14;
const base = generateWorld({ seed: SEED, borrowers: BORROWERS, startMs: START });

function withScenario(spec: string): World {
  return generateWorld({
    seed: SEED,
    borrowers: BORROWERS,
    startMs: START,
    scenarios: [parseScenario(spec)],
  });
}

/** Readings of one device in [fromDay, toDay) after the start, in a world. */
function deviceReadings(world: World, deviceId: string, fromDay: number, toDay: number): GeneratedReading[] {
  const index = world.devices.findIndex((d) => d.id === deviceId);
  return createEngine(world).readings(
    START + fromDay * DAY_MS,
    START + toDay * DAY_MS,
    (p) => p.index === index,
  );
}

const firstLot = (borrowerId: string): string => base.lots.find((l) => l.borrowerId === borrowerId)?.id ?? '';
const sector = (id: string): string => base.borrowers.find((b) => b.id === id)?.sector ?? '';

describe('scenario parsing', () => {
  it('when a scenario is written kind:target[:startDay[:durationDays]], then it parses with defaults', () => {
    expect(parseScenario('removal:b0003:10')).toEqual({ kind: 'removal', target: 'b0003', startDay: 10 });
    expect(parseScenario('outage:stk-b0001-l1')).toEqual({
      kind: 'outage',
      target: 'stk-b0001-l1',
      startDay: 3,
    });
    expect(parseScenario('drought:SK-SAS:0:90')).toEqual({
      kind: 'drought',
      target: 'SK-SAS',
      startDay: 0,
      durationDays: 90,
    });
  });

  it('when a scenario is malformed, then the error says what is wrong', () => {
    expect(() => parseScenario('melt:b0001')).toThrow(/unknown kind "melt"/);
    expect(() => parseScenario('removal')).toThrow(/kind:target/);
    expect(() => parseScenario('removal:b0001:soon')).toThrow(/startDay/);
    expect(() => parseScenario('removal:b0001:1:0')).toThrow(/durationDays/);
  });

  it('when a target does not exist in the world, then generating the world fails with the target named', () => {
    const specs: ScenarioSpec[] = [parseScenario('removal:b9999')];
    expect(() => generateWorld({ seed: 1, borrowers: 3, startMs: START, scenarios: specs })).toThrow(/b9999/);
    expect(() =>
      generateWorld({ seed: 1, borrowers: 3, startMs: START, scenarios: [parseScenario('drought:XX-NOPE')] }),
    ).toThrow(/region code/);
  });
});

describe('scenarios in the readings', () => {
  it('when collateral is silently removed, then the stake weight drops by most of the lot overnight', () => {
    const lot = firstLot('b0002');
    const stake = `stk-${lot}`;
    const w = withScenario('removal:b0002:5');
    const before = mean(deviceReadings(w, stake, 3, 5).map((r) => asStake(r.payload).weightKg));
    const after = mean(deviceReadings(w, stake, 7, 9).map((r) => asStake(r.payload).weightKg));
    const baseAfter = mean(deviceReadings(base, stake, 7, 9).map((r) => asStake(r.payload).weightKg));
    expect(after).toBeLessThan(0.4 * before);
    expect(baseAfter).toBeGreaterThan(0.7 * before);
    // Silent: the stake stays put and the seal intact.
    expect(
      deviceReadings(w, stake, 5, 9).filter((x) => asStake(x.payload).tamper).length,
    ).toBeLessThanOrEqual(1);
  });

  it('when collateral is moved out of its geofence, then the stake reports positions kilometres outside it', () => {
    const lot = base.lots.find((l) => l.id === firstLot('b0003'));
    const site = base.sites.find((s) => s.id === lot?.siteId);
    if (!lot || !site) throw new Error('fixture');
    const outside = (rs: GeneratedReading[]): number =>
      rs.filter((r) => {
        const p = asStake(r.payload);
        return (
          !pointInPolygon([p.lat, p.lon], site.geofence) &&
          distanceM([p.lat, p.lon], [site.lat, site.lon]) > 1_000
        );
      }).length;
    const moved = deviceReadings(withScenario('moved:b0003:5'), `stk-${lot.id}`, 6, 9);
    expect(outside(moved)).toBeGreaterThan(0.9 * moved.length);
    expect(outside(deviceReadings(base, `stk-${lot.id}`, 6, 9))).toBe(0);
    // The goods went with the stake: the weight is still there.
    expect(mean(moved.map((r) => asStake(r.payload).weightKg))).toBeGreaterThan(0.3 * lot.pledgedWeightKg);
  });

  it('when a stake is tampered with, then its tamper switch reads open in episodes', () => {
    const stake = `stk-${firstLot('b0004')}`;
    const tampered = deviceReadings(withScenario('tamper:b0004:5'), stake, 5, 7).filter(
      (r) => asStake(r.payload).tamper,
    );
    const baseline = deviceReadings(base, stake, 5, 7).filter((r) => asStake(r.payload).tamper);
    expect(tampered.length).toBeGreaterThanOrEqual(3);
    expect(baseline.length).toBeLessThanOrEqual(1);
  });

  it('when GPS is spoofed, then the stake repeats one exact fix while the lot is away', () => {
    const stake = `stk-${firstLot('b0005')}`;
    const longestRepeat = (rs: GeneratedReading[]): number => {
      let best = 1;
      let run = 1;
      for (let i = 1; i < rs.length; i++) {
        const a = asStake((rs[i - 1] as GeneratedReading).payload);
        const b = asStake((rs[i] as GeneratedReading).payload);
        run = a.lat === b.lat && a.lon === b.lon ? run + 1 : 1;
        best = Math.max(best, run);
      }
      return best;
    };
    const spoofed = deviceReadings(withScenario('spoof:b0005:5'), stake, 4, 9);
    expect(longestRepeat(spoofed)).toBeGreaterThan(100);
    expect(longestRepeat(deviceReadings(base, stake, 4, 9))).toBeLessThan(3);
    // Real GNSS jitters: the spoofed fix never does, and its accuracy never changes either.
    const late = spoofed
      .filter((r) => r.trueMs > START + 6 * DAY_MS)
      .map((r) => asStake(r.payload).gpsAccuracyM);
    expect(new Set(late).size).toBe(1);
  });

  it('when devices have an outage, then they send nothing during it and resume afterwards', () => {
    const w = withScenario('outage:b0006:5:3');
    const ids = w.devices.filter((d) => d.borrowerId === 'b0006' && d.kind !== 'satellite').map((d) => d.id);
    for (const id of ids) {
      expect(deviceReadings(w, id, 5, 8)).toHaveLength(0);
    }
    const stake = `stk-${firstLot('b0006')}`;
    expect(deviceReadings(base, stake, 5, 8).length).toBeGreaterThan(200);
    expect(deviceReadings(w, stake, 8, 9).length).toBeGreaterThan(80);
  });

  it("when an inspection is logged off site, then the inspector's helmet is in inspection mode far from the site", () => {
    const helmet = 'hlm-b0007-insp';
    const site = base.sites.find((s) => s.borrowerId === 'b0007');
    if (!site) throw new Error('fixture');
    const far = (rs: GeneratedReading[]): GeneratedReading[] =>
      rs.filter((r) => {
        const p = asHelmet(r.payload);
        return p.mode === 'inspection' && distanceM([p.lat, p.lon], [site.lat, site.lon]) > 10_000;
      });
    const fake = far(deviceReadings(withScenario('inspection-offsite:b0007:5'), helmet, 0, 10));
    expect(fake.length).toBeGreaterThan(10);
    expect(new Set(fake.map((r) => asHelmet(r.payload).inspectionId)).size).toBe(1);
    expect(far(deviceReadings(base, helmet, 0, 60))).toHaveLength(0);
    // Real inspections happen on site.
    const real = deviceReadings(base, helmet, 0, 60).filter((r) => asHelmet(r.payload).mode === 'inspection');
    expect(real.length).toBeGreaterThan(10);
  });

  it('when a region has a drought, then its parcels read a lower NDVI in the growing season', () => {
    const farm = base.borrowers.find((b) => b.sector === 'agriculture');
    if (!farm) throw new Error('fixture');
    const w = withScenario(`drought:${farm.region}:0:90`);
    const parcels = base.devices
      .filter((d) => d.kind === 'satellite' && d.borrowerId === farm.id)
      .map((d) => d.id);
    const clearNdvi = (world: World): number =>
      mean(
        parcels.flatMap((id) =>
          deviceReadings(world, id, 30, 80)
            .map((r) => asSatellite(r.payload))
            .filter((p) => p.cloudPct < 30)
            .map((p) => p.ndvi as number),
        ),
      );
    expect(clearNdvi(w)).toBeLessThan(clearNdvi(base) - 0.12);
  });

  it('when a business declines, then its site goes quiet and its stock runs down', () => {
    const id = base.borrowers.find((b) => sector(b.id) !== 'agriculture')?.id ?? 'b0004';
    const w = withScenario(`decline:${id}:5`);
    const workers = base.devices.filter((d) => d.borrowerId === id && d.id.includes('-w')).map((d) => d.id);
    const wornHours = (world: World): number =>
      workers.reduce(
        (s, h) => s + deviceReadings(world, h, 50, 70).filter((r) => asHelmet(r.payload).worn).length / 12,
        0,
      );
    expect(wornHours(w)).toBeLessThan(0.4 * wornHours(base));
    const stake = `stk-${firstLot(id)}`;
    const stock = (world: World): number =>
      mean(deviceReadings(world, stake, 50, 70).map((r) => asStake(r.payload).weightKg));
    expect(stock(w)).toBeLessThan(0.6 * stock(base));
  });
});
