import type { Sector, Site } from '../core/state/index.js';

/**
 * The simulated portfolio's geography and goods: a lender in the Canadian prairies financing farms, metal
 * and plastics manufacturers and commodity traders. Farms sit in the same agro-climatic zone as the MODIS NDVI
 * sample (`../shared/data/ndvi`, Saskatchewan), so the vegetation curve and the seasons fit the places.
 */
export interface Region {
  readonly code: string;
  readonly name: string;
  readonly lat: number;
  readonly lon: number;
  /** Fixed UTC offset of local standard time, hours. */
  readonly tzOffsetH: number;
  /** Climate: annual mean and seasonal amplitude of daily mean air temperature, °C. */
  readonly tempMeanC: number;
  readonly tempAmplitudeC: number;
  /** MGRS tile used in optical scene ids. */
  readonly tile: string;
}

export const REGIONS: readonly Region[] = [
  {
    code: 'SK-SAS',
    name: 'Saskatoon, SK',
    lat: 52.13,
    lon: -106.67,
    tzOffsetH: -6,
    tempMeanC: 2.2,
    tempAmplitudeC: 19.5,
    tile: 'T13UDR',
  },
  {
    code: 'SK-REG',
    name: 'Regina, SK',
    lat: 50.45,
    lon: -104.61,
    tzOffsetH: -6,
    tempMeanC: 3.1,
    tempAmplitudeC: 19.0,
    tile: 'T13UEQ',
  },
  {
    code: 'AB-CGY',
    name: 'Calgary, AB',
    lat: 51.05,
    lon: -114.07,
    tzOffsetH: -7,
    tempMeanC: 4.4,
    tempAmplitudeC: 13.5,
    tile: 'T11UQS',
  },
  {
    code: 'AB-EDM',
    name: 'Edmonton, AB',
    lat: 53.55,
    lon: -113.49,
    tzOffsetH: -7,
    tempMeanC: 3.4,
    tempAmplitudeC: 15.5,
    tile: 'T12UVC',
  },
  {
    code: 'MB-WPG',
    name: 'Winnipeg, MB',
    lat: 49.9,
    lon: -97.14,
    tzOffsetH: -6,
    tempMeanC: 2.6,
    tempAmplitudeC: 20.0,
    tile: 'T14UPA',
  },
];

export interface Commodity {
  readonly name: string;
  /** Price per kg in CAD, roughly 2024 prairie spot. */
  readonly unitPricePerKg: number;
  /** Weight of one counted item (tote, coil, pallet, bundle), kg. */
  readonly itemKg: number;
  /** Pledged lot size range, kg. */
  readonly lotKg: readonly [number, number];
  /** Bulk density for stockpile volume, kg/m³. */
  readonly densityKgM3: number;
}

export const COMMODITIES: { readonly [S in Sector]: readonly Commodity[] } = {
  agriculture: [
    { name: 'canola', unitPricePerKg: 0.65, itemKg: 1000, lotKg: [80_000, 400_000], densityKgM3: 650 },
    {
      name: 'hard red spring wheat',
      unitPricePerKg: 0.3,
      itemKg: 1000,
      lotKg: [150_000, 700_000],
      densityKgM3: 780,
    },
    { name: 'malt barley', unitPricePerKg: 0.27, itemKg: 1000, lotKg: [100_000, 500_000], densityKgM3: 620 },
    { name: 'red lentils', unitPricePerKg: 0.82, itemKg: 1000, lotKg: [60_000, 250_000], densityKgM3: 800 },
    { name: 'oats', unitPricePerKg: 0.28, itemKg: 1000, lotKg: [80_000, 400_000], densityKgM3: 430 },
  ],
  manufacturing: [
    {
      name: 'hot-rolled steel coil',
      unitPricePerKg: 1.15,
      itemKg: 15_000,
      lotKg: [90_000, 600_000],
      densityKgM3: 3_500,
    },
    {
      name: 'aluminium ingot',
      unitPricePerKg: 3.3,
      itemKg: 1_000,
      lotKg: [40_000, 200_000],
      densityKgM3: 1_400,
    },
    {
      name: 'copper cathode',
      unitPricePerKg: 12.5,
      itemKg: 2_500,
      lotKg: [20_000, 80_000],
      densityKgM3: 4_000,
    },
    {
      name: 'HDPE resin pellets',
      unitPricePerKg: 1.8,
      itemKg: 1_375,
      lotKg: [40_000, 220_000],
      densityKgM3: 550,
    },
  ],
  trading: [
    {
      name: 'granular urea',
      unitPricePerKg: 0.72,
      itemKg: 1_000,
      lotKg: [100_000, 600_000],
      densityKgM3: 750,
    },
    {
      name: 'potash (MOP)',
      unitPricePerKg: 0.5,
      itemKg: 1_000,
      lotKg: [150_000, 800_000],
      densityKgM3: 1_050,
    },
    {
      name: 'SPF dimension lumber',
      unitPricePerKg: 0.85,
      itemKg: 1_800,
      lotKg: [60_000, 300_000],
      densityKgM3: 450,
    },
    {
      name: 'rebar bundles',
      unitPricePerKg: 1.05,
      itemKg: 2_000,
      lotKg: [80_000, 400_000],
      densityKgM3: 2_600,
    },
  ],
};

/** Site footprints by kind: geofence width × height, m (a farm parcel is a prairie quarter section). */
export const SITE_SIZE_M: { readonly [K in Site['kind']]: readonly [number, number] } = {
  warehouse: [140, 90],
  factory: [320, 220],
  yard: [220, 160],
  parcel: [805, 805],
};

const SURNAMES = [
  'Anderson',
  'Bergstrom',
  'Chen',
  'Dubois',
  'Epp',
  'Friesen',
  'Gauthier',
  'Hoffman',
  'Ivanchuk',
  'Janzen',
  'Kowalski',
  'Lindqvist',
  'MacLeod',
  'Nakamura',
  'Olafson',
  'Petrenko',
  'Quinn',
  'Rempel',
  'Singh',
  'Thiessen',
  'Ukrainetz',
  'Vandermeer',
  'Wiebe',
  'Yakimchuk',
  'Zacharias',
  'Bjornson',
  'Dyck',
  'Harder',
  'Klassen',
  'Loewen',
];
const PLACES = [
  'Aberdeen',
  'Biggar',
  'Carrot River',
  'Davidson',
  'Estevan',
  'Foam Lake',
  'Gravelbourg',
  'Humboldt',
  'Kindersley',
  'Lanigan',
  'Melfort',
  'Nipawin',
  'Outlook',
  'Prince Albert',
  'Rosetown',
  'Shaunavon',
  'Tisdale',
  'Unity',
  'Wadena',
  'Yorkton',
  'Lacombe',
  'Olds',
  'Steinbach',
  'Portage',
  'Morden',
];
const WORDS = [
  'Prairie',
  'Northern',
  'Aspen',
  'Parkland',
  'Western',
  'Riverbend',
  'Chinook',
  'Big Sky',
  'Red River',
  'Boreal',
];

const PATTERNS: { readonly [S in Sector]: readonly ((s: string, p: string, w: string) => string)[] } = {
  agriculture: [
    (s) => `${s} Farms Ltd.`,
    (s, p) => `${p} Grain Growers Co-op`,
    (s) => `${s} & Sons Seed Farm`,
    (_s, p, w) => `${w} ${p} Ag Ventures`,
  ],
  manufacturing: [
    (s) => `${s} Steel Fabricators Inc.`,
    (_s, _p, w) => `${w} Metal Works Ltd.`,
    (s, p) => `${p} ${s} Plastics`,
    (_s, p) => `${p} Machining & Welding`,
  ],
  trading: [
    (s) => `${s} Commodities Ltd.`,
    (_s, _p, w) => `${w} Trading Co.`,
    (_s, p, w) => `${w} ${p} Supply`,
    (s) => `${s} Building Supply`,
  ],
};

export function borrowerName(sector: Sector, pick: <T>(items: readonly T[]) => T): string {
  const pattern = pick(PATTERNS[sector]);
  return pattern(pick(SURNAMES), pick(PLACES), pick(WORDS));
}
