import { isDeviceId } from '../core/contracts/topics.js';
import { RiskfuseError } from '../core/errors.js';
import type { Borrower, CollateralLot, Device, LatLon, Loan, Sector, Site } from '../core/state/index.js';
import { DAY_MS, localDay } from './calendar.js';
import { borrowerName, COMMODITIES, REGIONS, SITE_SIZE_M } from './catalog.js';
import { fencePolygon, offsetMeters } from './geo.js';
import { hash2, hash3, hashString, Rng } from './random.js';
import { applyFraudDistress } from './fraud-credit.js';
import { resolveScenario } from './world-scenarios.js';
import type {
  BorrowerProfile,
  DeclineEvent,
  DeviceProfile,
  DeviceRole,
  LotProfile,
  SatelliteProduct,
  SiteProfile,
  World,
  WorldOptions,
} from './world-types.js';

/**
 * The simulated world, generated purely from a seed: borrowers across three sectors, their sites (with
 * geofences), pledged collateral lots, devices and loans, plus the latent parameters that drive them (business
 * quality, the lag between trouble and missed payments, pre-drawn decline events). No I/O.
 *
 * Each borrower is generated from its own random stream (seed, borrower number), so a world of 500 borrowers
 * starts with the same 50 as a world of 50, and every device's noise is keyed by its id.
 */
export type {
  WorldOptions,
  DeclineEvent,
  BorrowerProfile,
  SiteProfile,
  LotProfile,
  DeviceRole,
  SatelliteProduct,
  DeviceProfile,
  ResolvedScenario,
  World,
} from './world-types.js';

const DEFAULT_SECTORS: Readonly<Record<Sector, number>> = {
  agriculture: 0.4,
  manufacturing: 0.3,
  trading: 0.3,
};
export const DEFAULT_DECLINE_RATE_PER_YEAR = 0.07;
export const DEFAULT_CASH_SHOCK_RATE_PER_YEAR = 0.015;
const STREAM_CASH = 0xca5;
const STREAM_BORROWER = 0xb0;
const STREAM_DECLINE = 0xdc;

/** Saskatchewan-style legal land description of a quarter section, e.g. `NW 14-36-5 W3`. */
function landDescription(rng: Rng): string {
  return `${rng.pick(['NE', 'NW', 'SE', 'SW'])} ${rng.int(1, 36)}-${rng.int(1, 60)}-${rng.int(1, 30)} W${rng.int(2, 3)}`;
}

function drawDeclines(
  seed: number,
  index: number,
  originDay: number,
  ratePerYear: number,
  horizonDays: number,
  stream: number = STREAM_DECLINE,
): DeclineEvent[] {
  const rng = new Rng(hash3(seed, stream, index));
  const out: DeclineEvent[] = [];
  if (ratePerYear <= 0) return out;
  let t = rng.exp(365 / ratePerYear);
  while (t < horizonDays) {
    const rampDays = Math.round(rng.range(15, 60));
    const recovers = rng.chance(0.35);
    const event: DeclineEvent = {
      startDay: originDay + Math.floor(t),
      depth: rng.range(2.2, 3.8),
      rampDays,
      recoverDays: Math.round(rng.range(40, 90)),
      cause: 'natural',
      ...(recovers ? { recoverAfterDays: Math.round(rng.range(30, 150)) } : {}),
    };
    out.push(event);
    // A business that never recovered has no second decline to suffer.
    if (!recovers) break;
    t += rampDays + (event.recoverAfterDays ?? 0) + event.recoverDays + rng.exp(365 / ratePerYear);
  }
  return out;
}

function idWidth(n: number): number {
  return Math.max(4, String(n).length);
}

export function generateWorld(options: WorldOptions): World {
  const { seed, startMs } = options;
  if (!Number.isInteger(seed))
    throw new RiskfuseError('VALIDATION_FAILED', `seed must be an integer, got ${seed}`);
  if (!Number.isInteger(options.borrowers) || options.borrowers < 1) {
    throw new RiskfuseError(
      'VALIDATION_FAILED',
      `borrowers must be an integer ≥ 1, got ${options.borrowers}`,
    );
  }
  if (!Number.isFinite(startMs)) throw new RiskfuseError('VALIDATION_FAILED', 'startMs must be an epoch ms');
  const sectorWeights = options.sectorWeights ?? DEFAULT_SECTORS;
  const declineRatePerYear = options.declineRatePerYear ?? DEFAULT_DECLINE_RATE_PER_YEAR;
  const cashShockRatePerYear = options.cashShockRatePerYear ?? DEFAULT_CASH_SHOCK_RATE_PER_YEAR;
  const horizonDays = options.horizonDays ?? 3650;
  const stakeIntervalMs = options.stakeIntervalMs ?? 900_000;
  const helmetIntervalMs = options.helmetIntervalMs ?? 300_000;
  for (const [name, v] of [
    ['stakeIntervalMs', stakeIntervalMs],
    ['helmetIntervalMs', helmetIntervalMs],
  ] as const) {
    if (!Number.isInteger(v) || v < 60_000 || v > DAY_MS) {
      throw new RiskfuseError(
        'VALIDATION_FAILED',
        `${name} must be an integer from 60,000 to ${DAY_MS}, got ${v}`,
      );
    }
  }
  const width = idWidth(options.borrowers);

  const borrowers: Borrower[] = [];
  const sites: Site[] = [];
  const lots: CollateralLot[] = [];
  const devices: Device[] = [];
  const loans: Loan[] = [];
  const bProfiles: BorrowerProfile[] = [];
  const sProfiles: SiteProfile[] = [];
  const lProfiles: LotProfile[] = [];
  const dProfiles: DeviceProfile[] = [];

  for (let b = 0; b < options.borrowers; b++) {
    const rng = new Rng(hash3(seed, STREAM_BORROWER, b));
    const id = `b${String(b + 1).padStart(width, '0')}`;
    const sector = rng.weighted(sectorWeights);
    const regionIndex = rng.int(0, REGIONS.length - 1);
    const region = REGIONS[regionIndex] as (typeof REGIONS)[number];
    const createdAt = startMs - Math.round(rng.range(200, 1500)) * DAY_MS;
    borrowers.push({
      id,
      name: borrowerName(sector, (items) => rng.pick(items)),
      sector,
      region: region.code,
      createdAt,
    });

    // Sites: the main operating site first, then the rest of the footprint.
    const siteKinds: Site['kind'][] =
      sector === 'agriculture'
        ? ['warehouse', ...Array.from({ length: rng.int(1, 3) }, () => 'parcel' as const)]
        : sector === 'manufacturing'
          ? ['factory', ...(rng.chance(0.4) ? (['warehouse'] as const) : [])]
          : ['warehouse', ...(rng.chance(0.5) ? (['yard'] as const) : [])];
    const distKm = sector === 'agriculture' ? rng.range(15, 70) : rng.range(2, 12);
    const bearing = rng.range(0, 2 * Math.PI);
    const main = offsetMeters(
      region.lat,
      region.lon,
      distKm * 1000 * Math.sin(bearing),
      distKm * 1000 * Math.cos(bearing),
    );
    const siteIndexes: number[] = [];
    siteKinds.forEach((kind, k) => {
      const siteId = `${id}-s${k + 1}`;
      const near = k === 0 ? 0 : kind === 'parcel' ? rng.range(1200, 8000) : rng.range(800, 5000);
      const dir = rng.range(0, 2 * Math.PI);
      const center =
        k === 0 ? main : offsetMeters(main[0], main[1], near * Math.sin(dir), near * Math.cos(dir));
      const [w, h] = SITE_SIZE_M[kind];
      const scale = kind === 'parcel' ? 1 : rng.range(0.8, 1.3);
      const vertices = kind === 'parcel' ? 4 : rng.int(4, 8);
      const jitter = Array.from({ length: vertices }, () => (kind === 'parcel' ? 0 : rng.range(-0.08, 0.12)));
      const angle = kind === 'parcel' ? 0 : rng.range(0, Math.PI);
      const name =
        kind === 'parcel'
          ? `Parcel ${landDescription(rng)}`
          : kind === 'factory'
            ? `${region.name.split(',')[0] ?? ''} plant`
            : kind === 'yard'
              ? 'Storage yard'
              : sector === 'agriculture'
                ? 'Farmstead grain storage'
                : `${region.name.split(',')[0] ?? ''} warehouse`;
      const site: Site = {
        id: siteId,
        borrowerId: id,
        name,
        kind,
        lat: center[0],
        lon: center[1],
        geofence: fencePolygon(center, w * scale, h * scale, angle, jitter),
      };
      siteIndexes.push(sites.length);
      sProfiles.push({ index: sites.length, site, borrowerIndex: b, heated: kind === 'factory' });
      sites.push(site);
    });
    const mainSiteIndex = siteIndexes[0] as number;

    // Pledged lots, in the buildings (and on the yard).
    const lotSites: number[] = [];
    const nMain = rng.int(1, 3);
    for (let k = 0; k < nMain; k++) lotSites.push(mainSiteIndex);
    for (const si of siteIndexes.slice(1)) {
      const kind = (sites[si] as Site).kind;
      if (kind === 'warehouse') lotSites.push(si);
      if (kind === 'yard') for (let k = rng.int(1, 2); k > 0; k--) lotSites.push(si);
    }
    const lotIndexes: number[] = [];
    lotSites.forEach((si, k) => {
      const site = sites[si] as Site;
      const commodity = rng.pick(COMMODITIES[sector]);
      const [lo, hi] = commodity.lotKg;
      const [w, h] = SITE_SIZE_M[site.kind];
      const lot: CollateralLot = {
        id: `${id}-l${k + 1}`,
        borrowerId: id,
        siteId: site.id,
        commodity: commodity.name,
        pledgedWeightKg: Math.round(rng.range(lo, hi) / 100) * 100,
        unitPricePerKg: Math.round(commodity.unitPricePerKg * rng.range(0.92, 1.08) * 1000) / 1000,
        currency: 'CAD',
        pledgedAt: startMs - Math.round(rng.range(20, 300)) * DAY_MS,
      };
      lotIndexes.push(lots.length);
      lProfiles.push({
        index: lots.length,
        lot,
        borrowerIndex: b,
        siteIndex: si,
        commodity,
        offsetEastM: rng.range(-0.25, 0.25) * w,
        offsetNorthM: rng.range(-0.25, 0.25) * h,
        initialFill: rng.range(0.95, 1.08),
      });
      lots.push(lot);
    });

    // Devices: a stake per lot, helmets for the crew and the lender's inspector, a satellite feed per parcel/site.
    const deviceIndexes: number[] = [];
    const addDevice = (
      deviceId: string,
      role: DeviceRole,
      siteIndex: number,
      lotIndex: number,
      extra: Partial<Pick<DeviceProfile, 'product' | 'intervalMs' | 'gpsSigmaM'>> = {},
    ): void => {
      if (!isDeviceId(deviceId))
        throw new RiskfuseError('INTERNAL', `generated an invalid device id ${deviceId}`);
      const site = sites[siteIndex] as Site;
      const device: Device = {
        id: deviceId,
        kind: role === 'stake' ? 'stake' : role === 'satellite' ? 'satellite' : 'helmet',
        borrowerId: id,
        siteId: site.id,
        ...(lotIndex >= 0 ? { lotId: (lots[lotIndex] as CollateralLot).id } : {}),
        ...(role === 'worker' || role === 'inspector' ? { role } : {}),
        status: 'active',
        createdAt: startMs,
      };
      const dr = new Rng(hash2(seed, hashString(deviceId)));
      const intervalMs =
        extra.intervalMs ??
        (role === 'stake' ? stakeIntervalMs : role === 'satellite' ? DAY_MS : helmetIntervalMs);
      deviceIndexes.push(devices.length);
      dProfiles.push({
        index: devices.length,
        device,
        role,
        borrowerIndex: b,
        siteIndex,
        lotIndex,
        key: hash2(seed, hashString(deviceId)),
        skewMs: Math.round(Math.max(-8000, Math.min(8000, dr.gauss(0, 2500)))),
        phaseMs: Math.floor(dr.next() * intervalMs),
        intervalMs,
        gpsSigmaM: extra.gpsSigmaM ?? (role === 'stake' ? dr.range(3, 8) : dr.range(2.5, 5)),
        ...(extra.product === undefined ? {} : { product: extra.product }),
        ndviShiftDays: dr.range(-9, 9),
        ndviAmplitude: dr.range(0.9, 1.06),
        shiftStartH: dr.gauss(7, 0.45),
      });
      devices.push(device);
    };
    for (const li of lotIndexes) {
      const lp = lProfiles[li] as LotProfile;
      addDevice(`stk-${lp.lot.id}`, 'stake', lp.siteIndex, li);
    }
    const workers = sector === 'manufacturing' ? rng.int(4, 9) : rng.int(2, sector === 'agriculture' ? 4 : 5);
    for (let w = 1; w <= workers; w++) addDevice(`hlm-${id}-w${w}`, 'worker', mainSiteIndex, -1);
    addDevice(`hlm-${id}-insp`, 'inspector', mainSiteIndex, -1);
    for (const si of siteIndexes) {
      const kind = (sites[si] as Site).kind;
      const product: SatelliteProduct | undefined =
        kind === 'parcel' ? 'ndvi' : kind === 'yard' ? 'yard' : kind === 'factory' ? 'nightlight' : undefined;
      // Trading warehouses get a night-light feed on the main warehouse; a farm's grain store has none.
      const p = product ?? (sector === 'trading' && si === mainSiteIndex ? 'nightlight' : undefined);
      if (p !== undefined) addDevice(`sat-${(sites[si] as Site).id}`, 'satellite', si, -1, { product: p });
    }

    // Loans outstanding at the start: a working-capital loan, sometimes a longer equipment loan.
    const collateralValue = lotIndexes.reduce((s, li) => {
      const l = lots[li] as CollateralLot;
      return s + l.pledgedWeightKg * l.unitPricePerKg;
    }, 0);
    const nLoans = rng.chance(0.4) ? 2 : 1;
    const ltv = rng.range(0.45, 0.7);
    for (let k = 1; k <= nLoans; k++) {
      const months = k === 1 ? rng.pick([6, 12, 12, 18]) : rng.pick([24, 36]);
      const ageDays = Math.round(rng.range(10, Math.min(months * 30 - 20, 330)));
      const share = nLoans === 1 ? 1 : k === 1 ? 0.6 : 0.4;
      loans.push({
        id: `${id}-ln${k}`,
        borrowerId: id,
        principal: Math.round((collateralValue * ltv * share) / 1000) * 1000,
        currency: 'CAD',
        annualRatePct: Math.round(rng.range(6.5, 12.5) * 100) / 100,
        startAt: localDayStart(startMs - ageDays * DAY_MS, region.tzOffsetH) + 10 * 3_600_000,
        termDays: Math.round(months * 30.4375),
        status: 'active',
      });
    }

    const originDay = localDay(startMs, region.tzOffsetH);
    bProfiles.push({
      index: b,
      id,
      sector,
      regionIndex,
      tzOffsetH: region.tzOffsetH,
      quality: rng.gauss(0.15, 0.3),
      paymentLagDays: rng.int(28, 63),
      shockRatePerDay: rng.range(1 / 500, 1 / 200),
      declines: drawDeclines(seed, b, originDay, declineRatePerYear, horizonDays),
      cashShocks: drawDeclines(seed, b, originDay, cashShockRatePerYear, horizonDays, STREAM_CASH),
      ...(sector === 'manufacturing'
        ? { shutdown: [rng.int(182, 215), rng.pick([7, 10, 14])] as const }
        : {}),
      mainSiteIndex,
      siteIndexes,
      lotIndexes,
      deviceIndexes,
    });
  }

  const partial = { borrowers, sites, lots, devices, bProfiles, sProfiles, lProfiles, dProfiles };
  const resolved = (options.scenarios ?? []).map((spec) => resolveScenario(spec, startMs, partial));
  // A decline scenario is a decline event the borrower would not otherwise have had.
  for (const s of resolved) {
    if (s.kind !== 'decline') continue;
    for (const bi of s.borrowerIndexes) {
      const bp = bProfiles[bi] as BorrowerProfile;
      const durationDays = s.spec.durationDays ?? Number.POSITIVE_INFINITY;
      const event: DeclineEvent = {
        startDay: localDay(s.startMs, bp.tzOffsetH),
        depth: 3.2,
        rampDays: 30,
        recoverDays: 45,
        cause: 'scenario',
        ...(Number.isFinite(durationDays)
          ? { recoverAfterDays: Math.max(0, Math.round(durationDays) - 30) }
          : {}),
      };
      bProfiles[bi] = { ...bp, declines: [...bp.declines, event] };
    }
  }

  // A collateral fraud is often followed by the borrower's financial failure (fraud-credit.ts).
  const scenarios =
    options.fraudDefaults === false ? resolved : applyFraudDistress(seed, resolved, bProfiles);

  return {
    seed,
    startMs,
    declineRatePerYear,
    borrowers,
    sites,
    lots,
    devices,
    loans,
    profiles: { borrowers: bProfiles, sites: sProfiles, lots: lProfiles, devices: dProfiles },
    scenarios,
  };
}

function localDayStart(ms: number, tzOffsetH: number): number {
  return localDay(ms, tzOffsetH) * DAY_MS - tzOffsetH * 3_600_000;
}

/** The site centre as a point. */
export const siteCenter = (s: Site): LatLon => [s.lat, s.lon];
