/**
 * `npm run bench:ndvi` — what the ndvi-drought rule's far-away reference costs per clear scene at portfolio
 * scale, with its index (alerts/rules/scene-reference.ts) against the scan of every scene in the window that it
 * replaced (the baseline, measured in the same run on the same scenes).
 *
 * BENCH_PARCELS (100,000) parcels spread over a 10° × 20° region (a country's farms), each imaged once every
 * 5 days at a random hour, so a 7-day window holds ~1.4 scenes per parcel. The window is filled first, then a
 * satellite pass of BENCH_PASS (20,000) scenes with one timestamp is judged with the index (each judged, then
 * added, as the rule does); the scan judges the first BENCH_SCAN_SAMPLE (200) of the pass on the same window
 * (it would take minutes for all). Reported: µs per judgement both ways, their ratio, and the pass's time each
 * way (the scan's extrapolated), which is how long the ingest's event loop is held. Ends with one JSON line.
 */
import { performance } from 'node:perf_hooks';
import { SceneReference, scanReference, type Scene } from '../alerts/rules/scene-reference.js';
import { mulberry32 } from '../core/random.js';
import { envInt, runBench } from './support.js';

const PARCELS = envInt('BENCH_PARCELS', 100_000);
const PASS = envInt('BENCH_PASS', 20_000);
const SCAN_SAMPLE = envInt('BENCH_SCAN_SAMPLE', 200);
const DAY = 86_400_000;
const WINDOW_MS = 7 * DAY;
const REFERENCE_M = 150_000;

function main(): Promise<void> {
  const u = mulberry32(7);
  const parcels = Array.from({ length: PARCELS }, () => [42 + 10 * u(), 2 + 20 * u()] as const);
  const scenes: Scene[] = [];
  const index = new SceneReference(REFERENCE_M, WINDOW_MS);
  // Seven days of scenes before the pass, in time order (each parcel every 5 days at its own phase).
  const start = 30 * DAY;
  const history: Scene[] = [];
  for (const at of parcels) {
    const phase = u() * 5 * DAY;
    for (let ts = start - WINDOW_MS + phase; ts < start; ts += 5 * DAY)
      history.push({ ts: Math.floor(ts), at, ndvi: 0.3 + 0.4 * u() });
  }
  history.sort((a, b) => a.ts - b.ts);
  let t0 = performance.now();
  for (const sc of history) {
    scenes.push(sc);
    index.add(sc);
  }
  const fillMs = performance.now() - t0;
  const pass = Array.from({ length: PASS }, (_, i) => ({
    ts: start,
    at: parcels[i % PARCELS] as readonly [number, number],
    ndvi: 0.3 + 0.4 * u(),
  }));

  // The scan first, on the window as it stands (the sample's own scenes are not added: the same question each way).
  t0 = performance.now();
  let check = 0;
  const sample = pass.slice(0, SCAN_SAMPLE);
  const scanned = sample.map((sc) => scanReference(scenes, sc.ts, sc.at, REFERENCE_M, WINDOW_MS));
  const scanUs = ((performance.now() - t0) * 1000) / sample.length;
  const indexed = sample.map((sc) => index.reference(sc.ts, sc.at));
  for (let i = 0; i < sample.length; i++)
    if (scanned[i]?.scenes !== indexed[i]?.scenes || scanned[i]?.median !== indexed[i]?.median) check += 1;
  if (check > 0)
    throw new Error(`the index and the scan disagree on ${String(check)} of ${String(sample.length)}`);

  t0 = performance.now();
  for (const sc of pass) {
    index.reference(sc.ts, sc.at);
    scenes.push(sc);
    index.add(sc);
  }
  const indexUs = ((performance.now() - t0) * 1000) / pass.length;
  const windowScenes = history.length;
  const ratio = scanUs / indexUs;
  console.log(
    `${PARCELS.toLocaleString('en')} parcels, ${windowScenes.toLocaleString('en')} scenes in the 7-day window (filled in ${fillMs.toFixed(0)} ms)`,
  );
  console.log(
    `index: ${indexUs.toFixed(1)} µs per judgement (a pass of ${PASS.toLocaleString('en')}: ${((indexUs * PASS) / 1e6).toFixed(2)} s)`,
  );
  console.log(
    `scan (baseline, ${String(SCAN_SAMPLE)} judgements, same answers): ${scanUs.toFixed(0)} µs per judgement (the pass: ${((scanUs * PASS) / 1e6).toFixed(0)} s); ratio ${ratio.toFixed(0)}×`,
  );
  console.log(
    JSON.stringify({
      bench: 'ndvi',
      parcels: PARCELS,
      windowScenes,
      pass: PASS,
      indexUsPerScene: Number(indexUs.toFixed(2)),
      scanUsPerScene: Number(scanUs.toFixed(1)),
      ratio: Number(ratio.toFixed(1)),
      indexPassS: Number(((indexUs * PASS) / 1e6).toFixed(3)),
      scanPassS: Number(((scanUs * PASS) / 1e6).toFixed(1)),
    }),
  );
  return Promise.resolve();
}

runBench(main);
