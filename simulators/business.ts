import type { Sector } from '../core/state/index.js';
import { dayOfYear, isWorkday, weekday } from './calendar.js';
import type { BorrowerProfile } from './world.js';

/**
 * Sector seasonality and opening days: the normal rhythms that make a naive offline signal raise false alarms
 * (a farm's grain store runs down before harvest, a plant shuts for two summer weeks, Christmas is quiet).
 */
export const inSeeding = (doy: number): boolean => doy >= 120 && doy <= 158;
export const inHarvest = (doy: number): boolean => doy >= 232 && doy <= 292;

/** Is the business working on local day `day`? */
export function isOpen(b: Pick<BorrowerProfile, 'sector' | 'shutdown'>, day: number): boolean {
  const doy = dayOfYear(day);
  if (b.shutdown !== undefined && doy >= b.shutdown[0] && doy < b.shutdown[0] + b.shutdown[1]) return false;
  if (b.sector !== 'agriculture' && (doy >= 358 || doy <= 1)) return false;
  if (isWorkday(day)) return true;
  return b.sector === 'agriculture' && weekday(day) === 6 && (inSeeding(doy) || inHarvest(doy));
}

/**
 * Normal stock level through the year, relative to the pledged weight. Farms fill their bins at harvest and
 * sell down to about half by next summer; input traders build stock for the spring season; plants hold steady.
 */
export function stockSeason(sector: Sector, doy: number): number {
  switch (sector) {
    case 'agriculture': {
      if (doy >= 235 && doy <= 290) return 0.55 + (0.45 * (doy - 235)) / 55;
      const since = (doy - 290 + 365) % 365;
      return 1 - (0.45 * since) / 310;
    }
    case 'trading':
      return 0.94 + 0.1 * Math.cos((2 * Math.PI * (doy - 80)) / 365.25);
    case 'manufacturing':
      return 1;
  }
}

/** How busy the crew is by season (farms: seeding and harvest; winter is slack). */
export function crewSeason(sector: Sector, doy: number): number {
  if (sector !== 'agriculture') return 1;
  if (inSeeding(doy) || inHarvest(doy)) return 1;
  if (doy < 90 || doy > 320) return 0.45;
  return 0.8;
}
