/**
 * `npm run bench:detector` — what the streaming anomaly detector costs per series and per reading.
 *
 * BENCH_SERIES (100,000) detectors with the anomaly rule's default parameters (hourly bins of a day and of a week), each fed
 * BENCH_READINGS (50) readings of a noisy daily cycle, round-robin as an engine would see them. Reported: retained
 * heap per series (after a forced GC, all detectors alive) and readings/s, beside a baseline measured in the same
 * run: the simplest streaming detector NAB ranks (a running mean and variance, i.e. the windowed Gaussian's
 * z-score, three numbers of state). Ends with one JSON line.
 */
import { performance } from 'node:perf_hooks';
import { StreamingDetector, type DetectorParams } from '../alerts/detector.js';
import { envInt, runBench } from './support.js';

const SERIES = envInt('BENCH_SERIES', 100_000);
const READINGS = envInt('BENCH_READINGS', 50);
const HOUR = 3_600_000;
const params: DetectorParams = {
  zThreshold: 5,
  seasonPeriodMs: 24 * HOUR,
  seasonBins: 24,
  weekly: true,
  warmupReadings: 48,
  halfLifeReadings: 200,
};

class GaussianBaseline {
  private n = 0;
  private mean = 0;
  private m2 = 0;
  step(x: number): number {
    this.n += 1;
    const d = x - this.mean;
    this.mean += d / this.n;
    this.m2 += d * (x - this.mean);
    return this.n < 2 ? 0 : d / Math.sqrt(this.m2 / (this.n - 1) || 1);
  }
}

const gc = (globalThis as { gc?: () => void }).gc;
const heapMb = () => {
  gc?.();
  const m = process.memoryUsage();
  return (m.heapUsed + m.arrayBuffers) / 1e6;
};
const value = (s: number, r: number) =>
  20 + 5 * Math.sin((2 * Math.PI * (r % 24)) / 24) + ((s * 7 + r * 13) % 10) / 10;

function measure<T>(make: () => T, step: (d: T, ts: number, x: number) => void) {
  const before = heapMb();
  const ds = Array.from({ length: SERIES }, make);
  const t0 = performance.now();
  for (let r = 0; r < READINGS; r++) for (let s = 0; s < SERIES; s++) step(ds[s] as T, r * HOUR, value(s, r));
  const seconds = (performance.now() - t0) / 1000;
  const bytesPerSeries = ((heapMb() - before) * 1e6) / SERIES;
  ds.length = 0;
  return { readingsPerS: (SERIES * READINGS) / seconds, bytesPerSeries };
}

runBench(async () => {
  if (gc === undefined) throw new Error('run with node --expose-gc (npm run bench:detector does)');
  const base = measure(
    () => new GaussianBaseline(),
    (d, _ts, x) => d.step(x),
  );
  const det = measure(
    () => new StreamingDetector(params),
    (d, ts, x) => d.step(ts, x),
  );
  const out = {
    bench: 'detector',
    series: SERIES,
    readingsPerSeries: READINGS,
    readingsPerS: Math.round(det.readingsPerS),
    baselineReadingsPerS: Math.round(base.readingsPerS),
    ratio: Math.round((det.readingsPerS / base.readingsPerS) * 100) / 100,
    bytesPerSeries: Math.round(det.bytesPerSeries),
    baselineBytesPerSeries: Math.round(base.bytesPerSeries),
    heapFor100kSeriesMb: Math.round((det.bytesPerSeries * 100_000) / 1e6),
  };
  process.stdout.write(
    `detector: ${out.readingsPerS.toLocaleString('en')} readings/s (baseline ${out.baselineReadingsPerS.toLocaleString('en')}, ratio ${out.ratio}); ${out.bytesPerSeries} B/series (baseline ${out.baselineBytesPerSeries}) → ${out.heapFor100kSeriesMb} MB for 100k series\n`,
  );
  process.stdout.write(`${JSON.stringify(out)}\n`);
  await Promise.resolve();
});
