import { Type } from '@sinclair/typebox';
import { Hysteresis } from '../detector.js';
import { alphaOf } from '../anomaly/likelihood.js';
import { median } from './median.js';
import { Count, DAY, Ms, Pct } from './params.js';
import { readingEvidence, remember, transition, type DeviceMemory, type ReadingRule } from './rule.js';
import { SceneReference, scanReference, type Scene } from './scene-reference.js';

/**
 * ndvi-drought: a parcel's crop falls behind the season, judged as an agronomist would: its clear-sky NDVI
 * against that of parcels far away (beyond `referenceKm`, outside any regional weather) seen over the same
 * days, as a ratio, against the parcel's own usual ratio. Comparing with far-away parcels of the same season
 * takes spring growth and autumn senescence out (all crops green up and ripen together, give or take a week or
 * two of sowing date) without a year of history, which a 52-bin yearly profile (satellite-anomaly) needs; the
 * parcel's own usual ratio takes out what is particular to it (crop, soil, sowing date). A region-wide drought
 * then shows in every parcel of the region, where an anomaly measured against the region's own mean
 * (`ndvi_anomaly_30d`) cancels out. Only scenes under `maxCloudPct` cloud count (cloud pulls NDVI toward
 * bare-soil values); the median of the last `recentScenes` ratios must stay `dropPct` below the usual for
 * `persistScenes` scenes in a row. Test: alerts/rules/test/ndvi-drought.test.ts.
 */
export const params = Type.Object(
  {
    maxCloudPct: Pct('scenes cloudier than this are ignored', 30),
    referenceKm: Type.Number({
      minimum: 10,
      maximum: 5_000,
      default: 150,
      description: 'parcels at least this far away form the reference, km',
    }),
    referenceWindowMs: Ms('reference scenes from the last', 7 * DAY),
    minReferenceScenes: Count('reference scenes needed to judge a scene', 5),
    dropPct: Pct("recent ratio to the reference this far below the parcel's usual ratio", 20),
    recentScenes: Count('clear scenes in the recent median', 3),
    usualHalfLifeScenes: Count("half-life of the parcel's usual ratio, clear scenes", 4),
    warmupScenes: Count('clear scenes before the parcel is judged', 4),
    persistScenes: Count('consecutive clear scenes below to open', 2),
    clearScenes: Count('consecutive clear scenes back to clear', 3),
  },
  { additionalProperties: false },
);
export const doc = {
  description:
    "a parcel's clear-sky NDVI falls dropPct below its usual ratio to far-away parcels of the same season (a drought, a failing crop)",
  severity: 'warning',
  subject: 'device',
} as const;

/** The indexes of the far-away reference (scene-reference.ts), one per reference distance and window in use. */
const indexes = (shared: DeviceMemory): Map<string, SceneReference> =>
  remember(shared, 'ndvi-drought:indexes', () => new Map<string, SceneReference>());

function referenceIndex(
  shared: DeviceMemory,
  referenceM: number,
  windowMs: number,
  scenes: readonly Scene[],
): SceneReference {
  const all = indexes(shared);
  const key = `${String(referenceM)}/${String(windowMs)}`;
  let index = all.get(key);
  if (index === undefined) {
    // A borrower's override with its own distance or window: built from the scenes kept so far.
    index = new SceneReference(referenceM, windowMs);
    for (const sc of scenes) index.add(sc);
    all.set(key, index);
  }
  return index;
}

interface ParcelState {
  readonly recent: number[];
  usual: number;
  scenes: number;
  readonly hyst: Hysteresis;
}

export const ndviDrought: ReadingRule = {
  id: 'ndvi-drought',
  kinds: ['satellite'],
  evaluate(ctx, r, mem) {
    const rule = ctx.rules['ndvi-drought'];
    const s = rule.for(r.borrowerId);
    if (!s.enabled) return;
    const p = s.params;
    const ndvi = r.fields.ndvi;
    const cloud = r.fields.cloudPct;
    if (typeof ndvi !== 'number' || ndvi <= 0 || (typeof cloud === 'number' && cloud > p.maxCloudPct)) return;
    const site = ctx.registry.site(r.siteId);
    if (site === undefined) return;
    // Every clear parcel scene, newest last, for the reference of the others (one list per engine).
    const scenes = remember(ctx.shared, 'ndvi-drought:scenes', (): Scene[] => []);
    while (scenes.length > 0 && (scenes[0] as Scene).ts < r.ts - p.referenceWindowMs) scenes.shift();
    const here = [site.lat, site.lon] as const;
    const index = referenceIndex(ctx.shared, p.referenceKm * 1000, p.referenceWindowMs, scenes);
    const { scenes: referenceScenes, median: reference } = index.answers(r.ts)
      ? index.reference(r.ts, here)
      : scanReference(scenes, r.ts, here, p.referenceKm * 1000, p.referenceWindowMs);
    const scene = { ts: r.ts, at: here, ndvi };
    scenes.push(scene);
    for (const ix of indexes(ctx.shared).values()) ix.add(scene);
    if (referenceScenes < p.minReferenceScenes) return;
    if (!(reference > 0)) return;
    const ratio = Math.log(ndvi / reference);

    const st = remember(mem, 'ndvi-drought', (): ParcelState => ({
      recent: [],
      usual: 0,
      scenes: 0,
      hyst: new Hysteresis(p.persistScenes, p.clearScenes),
    }));
    st.recent.push(ratio);
    if (st.recent.length > p.recentScenes) st.recent.shift();
    const recent = median(st.recent);
    const below = recent < st.usual + Math.log(1 - p.dropPct / 100);
    const judged = st.scenes >= p.warmupScenes;
    const decision = judged ? st.hyst.step(below) : undefined;
    // The usual ratio learns from normal scenes only: a drought must not become the parcel's usual.
    if (!judged) st.usual = st.scenes === 0 ? ratio : st.usual + (ratio - st.usual) / (st.scenes + 1);
    else if (!st.hyst.active) st.usual += alphaOf(p.usualHalfLifeScenes) * (ratio - st.usual);
    st.scenes += 1;
    transition(
      ctx,
      decision,
      rule,
      s.severity,
      r,
      { kind: 'device', id: r.deviceId },
      `NDVI of ${r.deviceId} ${Math.round(100 * (1 - Math.exp(recent - st.usual)))} % below its usual against far-away parcels`,
      {
        reading: readingEvidence(r),
        ndvi,
        referenceNdvi: reference,
        referenceScenes,
        recentRatio: Math.exp(recent),
        usualRatio: Math.exp(st.usual),
      },
    );
  },
};
