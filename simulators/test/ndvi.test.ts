import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { dayOfYear, localDay } from '../calendar.js';
import { createEngine } from '../engine.js';
import { generateWorld } from '../world.js';
import { asSatellite, DAY_MS, mean, pearson } from './support.js';

/** The real MODIS MOD13Q1 sample (Saskatchewan, 2015–2019), outside the repository: ../shared/data. */
const MODIS_CSV = fileURLToPath(
  new URL('../../../shared/data/ndvi/sampled-ndvi-MODIS-MOD13Q1.csv', import.meta.url),
);
const BIN_DAYS = 16;
const BINS = 23;

function modisMeanByBin(): number[] {
  const lines = readFileSync(MODIS_CSV, 'utf8').trim().split('\n').slice(1);
  const sums = new Array<number>(BINS).fill(0);
  const counts = new Array<number>(BINS).fill(0);
  for (const line of lines) {
    const [, ndvi, , doy] = line.split(',');
    const bin = Math.min(BINS - 1, Math.floor((Number(doy) - 1) / BIN_DAYS));
    sums[bin] = (sums[bin] ?? 0) + Number(ndvi);
    counts[bin] = (counts[bin] ?? 0) + 1;
  }
  return sums.map((s, i) => s / (counts[i] ?? 1));
}

/**
 * Simulated NDVI per 16-day bin of the year, over every parcel of a farm-only world, three years: the mean of
 * all daily scenes, of clear and of cloudy ones, and of 16-day maximum-value composites — MOD13Q1's own
 * compositing, which keeps the clearest (highest) observation of each period — for a like-for-like comparison.
 */
function simulatedByBin(): { all: number[]; clear: number[]; cloudy: number[]; composite: number[] } {
  const start = Date.UTC(2021, 0, 1);
  const world = generateWorld({
    seed: 31,
    borrowers: 25,
    startMs: start,
    sectorWeights: { agriculture: 1, manufacturing: 0, trading: 0 },
  });
  const engine = createEngine(world);
  const rs = engine.readings(start, start + 3 * 365 * DAY_MS, (p) => p.product === 'ndvi');
  const all: number[][] = Array.from({ length: BINS }, () => []);
  const clear: number[][] = Array.from({ length: BINS }, () => []);
  const cloudy: number[][] = Array.from({ length: BINS }, () => []);
  const best = new Map<string, number>();
  for (const r of rs) {
    const p = asSatellite(r.payload);
    const tz =
      world.profiles.borrowers[world.profiles.devices[r.deviceIndex]?.borrowerIndex ?? 0]?.tzOffsetH ?? 0;
    const bin = Math.min(BINS - 1, Math.floor((dayOfYear(localDay(r.trueMs, tz)) - 1) / BIN_DAYS));
    const v = p.ndvi as number;
    all[bin]?.push(v);
    if (p.cloudPct < 20) clear[bin]?.push(v);
    if (p.cloudPct > 70) cloudy[bin]?.push(v);
    const key = `${r.deviceIndex}:${new Date(r.trueMs).getUTCFullYear()}:${bin}`;
    best.set(key, Math.max(best.get(key) ?? -1, v));
  }
  const composite: number[][] = Array.from({ length: BINS }, () => []);
  for (const [key, v] of best) composite[Number(key.split(':')[2])]?.push(v);
  return {
    all: all.map(mean),
    clear: clear.map(mean),
    cloudy: cloudy.map(mean),
    composite: composite.map(mean),
  };
}

describe('satellite NDVI', () => {
  it.skipIf(!existsSync(MODIS_CSV))(
    'when parcels are observed for three years, then the mean seasonal curve correlates with the MODIS sample',
    () => {
      const modis = modisMeanByBin();
      const sim = simulatedByBin();
      // The daily feed, clouds and all, has the MODIS shape …
      expect(pearson(sim.all, modis)).toBeGreaterThan(0.9);
      // … and composited the MODIS way it has the MODIS levels too: winter near 0.1, mid-summer above 0.75.
      expect(pearson(sim.composite, modis)).toBeGreaterThan(0.95);
      expect(Math.max(...sim.composite)).toBeGreaterThan(0.75);
      expect(Math.min(...sim.composite)).toBeLessThan(0.2);
      const meanAbsDiff = mean(sim.composite.map((v, i) => Math.abs(v - (modis[i] as number))));
      expect(meanAbsDiff).toBeLessThan(0.08);
    },
  );

  it('when a summer scene is cloudy, then its NDVI reads lower than clear scenes of the same season', () => {
    const { clear, cloudy } = simulatedByBin();
    // Bins 11–14: late June to early August, the peak.
    for (const bin of [11, 12, 13, 14]) {
      expect(cloudy[bin] as number).toBeLessThan((clear[bin] as number) - 0.2);
    }
  });
});
