import { describe, expect, it } from 'vitest';
import { checkReading, type DeviceKind } from '../../core/contracts/payloads.js';
import { createEngine } from '../engine.js';
import { parseScenario } from '../scenarios.js';
import type { GeneratedReading } from '../stream.js';
import { generateWorld } from '../world.js';
import { DAY_MS, HOUR_MS, START_MS } from './support.js';

function checkAll(
  kinds: readonly DeviceKind[],
  rs: readonly GeneratedReading[],
): { checked: number; problems: string[] } {
  const problems: string[] = [];
  rs.forEach((r) => {
    const kind = kinds[r.deviceIndex] as DeviceKind;
    const p = checkReading(kind, r.payload);
    if (p.length > 0 && problems.length < 5)
      problems.push(`${kind} ${JSON.stringify(r.payload)}: ${JSON.stringify(p)}`);
  });
  return { checked: rs.length, problems };
}

describe('generated readings', () => {
  it('when a portfolio runs for two months with every scenario injected, then every payload passes checkReading', () => {
    const world = generateWorld({
      seed: 101,
      borrowers: 40,
      startMs: START_MS,
      scenarios: [
        'removal:b0002:5',
        'moved:b0003:6',
        'tamper:b0004:7',
        'spoof:b0005:8',
        'outage:b0006:9',
        'inspection-offsite:b0007:10',
        'drought:b0001:0:60',
        'decline:b0008:3',
      ].map(parseScenario),
    });
    const engine = createEngine(world);
    const kinds = world.devices.map((d) => d.kind);
    const rs = engine.readings(START_MS, START_MS + 60 * DAY_MS);
    const { checked, problems } = checkAll(kinds, rs);
    expect(problems).toEqual([]);
    expect(checked).toBeGreaterThan(500_000);
    const seen = new Set(rs.map((r) => kinds[r.deviceIndex]));
    expect(seen).toEqual(new Set(['stake', 'helmet', 'satellite']));
  });

  it('when a few borrowers run through 400 days of seasons, battery changes and declines, then every payload is valid', () => {
    const world = generateWorld({ seed: 202, borrowers: 5, startMs: START_MS, declineRatePerYear: 0.5 });
    const engine = createEngine(world);
    const rs = engine.readings(START_MS, START_MS + 400 * DAY_MS);
    const { checked, problems } = checkAll(
      world.devices.map((d) => d.kind),
      rs,
    );
    expect(problems).toEqual([]);
    expect(checked).toBeGreaterThan(100_000);
  });

  it('when readings are generated, then per device seq starts at 1 and increases and ts increases', () => {
    const world = generateWorld({ seed: 5, borrowers: 10, startMs: START_MS });
    const engine = createEngine(world);
    const rs = engine.readings(START_MS, START_MS + 10 * DAY_MS);
    const last = new Map<number, { seq: number; ts: number }>();
    let gaps = 0;
    for (const r of rs) {
      const prev = last.get(r.deviceIndex);
      if (prev === undefined) expect(r.payload.seq).toBeLessThanOrEqual(3);
      else {
        expect(r.payload.seq).toBeGreaterThan(prev.seq);
        expect(r.payload.ts).toBeGreaterThan(prev.ts);
        if (r.payload.seq > prev.seq + 1) gaps++;
      }
      last.set(r.deviceIndex, { seq: r.payload.seq, ts: r.payload.ts });
      // Device clocks are off by at most 8 s.
      expect(Math.abs(r.payload.ts - r.trueMs)).toBeLessThanOrEqual(8_000);
    }
    // Lost messages leave gaps: present, but rare.
    expect(gaps).toBeGreaterThan(0);
    expect(gaps / rs.length).toBeLessThan(0.05);
  });

  it('when a device stream is drained in uneven chunks (live) or in one go (backfill), then the readings are identical', () => {
    const world = generateWorld({
      seed: 6,
      borrowers: 6,
      startMs: START_MS,
      scenarios: [parseScenario('removal:b0001:1')],
    });
    const oneGo = createEngine(world).readings(START_MS, START_MS + 5 * DAY_MS);
    const engine = createEngine(world);
    const chunked: GeneratedReading[] = [];
    for (const p of world.profiles.devices) {
      const s = engine.stream(p.index);
      let t = START_MS;
      let k = 0;
      while (t < START_MS + 5 * DAY_MS) {
        t = Math.min(START_MS + 5 * DAY_MS, t + ((k++ * 7919) % 11) * 0.37 * HOUR_MS + 1000);
        s.drain(t, chunked);
      }
    }
    expect(chunked).toEqual(oneGo);
  });

  it('when a stream starts mid-history, then it continues the sequence the full history has', () => {
    const world = generateWorld({ seed: 8, borrowers: 4, startMs: START_MS });
    const full = createEngine(world).readings(START_MS, START_MS + 6 * DAY_MS);
    const tail = createEngine(world).readings(START_MS + 4 * DAY_MS + 5 * HOUR_MS, START_MS + 6 * DAY_MS);
    expect(tail.length).toBeGreaterThan(0);
    const fromFull = full.filter((r) => r.trueMs >= START_MS + 4 * DAY_MS + 5 * HOUR_MS);
    expect(tail).toEqual(fromFull);
  });

  it('when counted per simulated hour, then each kind reports at its documented cadence', () => {
    const world = generateWorld({ seed: 12, borrowers: 50, startMs: Date.UTC(2024, 4, 6) });
    const engine = createEngine(world);
    const rs = engine.readings(world.startMs, world.startMs + 14 * DAY_MS);
    const perRole = new Map<string, number>();
    for (const r of rs) {
      const role = world.profiles.devices[r.deviceIndex]?.role ?? '?';
      perRole.set(role, (perRole.get(role) ?? 0) + 1);
    }
    const count = (role: string): number => world.profiles.devices.filter((d) => d.role === role).length;
    const rate = (role: string): number => (perRole.get(role) ?? 0) / count(role) / (14 * 24);
    expect(rate('stake')).toBeGreaterThan(3.7); // every 15 min, minus losses and outages
    expect(rate('stake')).toBeLessThanOrEqual(4);
    expect(rate('worker')).toBeGreaterThan(1.5); // 12/h on shift, ~9 h on working days
    expect(rate('worker')).toBeLessThan(4);
    expect(rate('satellite')).toBeGreaterThan(0.025); // a scene on ~80 % of days
    expect(rate('satellite')).toBeLessThan(1 / 24);
    expect(rate('inspector')).toBeGreaterThan(0.01); // 1–3 h every 3–6 weeks
    expect(rate('inspector')).toBeLessThan(0.1);
  });
});
