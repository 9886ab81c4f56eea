/**
 * The seasonal NDVI shape of prairie cropland, from the real MODIS MOD13Q1 sample in
 * `../shared/data/ndvi/sampled-ndvi-MODIS-MOD13Q1.csv` (7 points in Saskatchewan, 2015–2019, NASA open data).
 * One node per 16-day MODIS composite period (centre day of year): the mean of the good-quality pixels
 * (SummaryQA 0) where a period has enough of them, otherwise of all pixels — in winter every pixel is
 * snow-flagged (QA 2) and reads 0.06–0.12, which is what a satellite really sees over snow-covered fields.
 * `test/ndvi.test.ts` checks the simulated feed against the CSV itself.
 */
const NODES: readonly (readonly [doy: number, ndvi: number])[] = [
  [8, 0.115],
  [24, 0.121],
  [40, 0.09],
  [56, 0.075],
  [72, 0.065],
  [88, 0.1],
  [104, 0.3],
  [120, 0.48],
  [136, 0.52],
  [152, 0.78],
  [168, 0.8],
  [184, 0.85],
  [200, 0.856],
  [216, 0.85],
  [232, 0.81],
  [248, 0.78],
  [264, 0.59],
  [280, 0.45],
  [296, 0.43],
  [312, 0.38],
  [328, 0.3],
  [344, 0.13],
  [360, 0.11],
];

/** The dormant-season floor (snow / bare soil), below which crop vigour has nothing to act on. */
export const NDVI_FLOOR = 0.1;

/** Clear-sky NDVI of a typical parcel on day of year `doy` (periodic linear interpolation). */
export function ndviSeasonal(doy: number): number {
  const d = ((doy % 365) + 365) % 365;
  const first = NODES[0] as readonly [number, number];
  const last = NODES[NODES.length - 1] as readonly [number, number];
  if (d < first[0] || d >= last[0]) {
    const span = first[0] + 365 - last[0];
    const t = (d < first[0] ? d + 365 - last[0] : d - last[0]) / span;
    return last[1] + (first[1] - last[1]) * t;
  }
  for (let i = 1; i < NODES.length; i++) {
    const b = NODES[i] as readonly [number, number];
    if (d < b[0]) {
      const a = NODES[i - 1] as readonly [number, number];
      return a[1] + ((b[1] - a[1]) * (d - a[0])) / (b[0] - a[0]);
    }
  }
  return last[1];
}

/** 0 outside the growing season, rising to 1 at its peak: how much crop condition can show in NDVI. */
export function growingWeight(doy: number): number {
  return Math.max(0, (ndviSeasonal(doy) - NDVI_FLOOR) / (0.856 - NDVI_FLOOR));
}
