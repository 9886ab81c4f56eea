/**
 * Simulated calendar: epoch days, local time at a fixed UTC offset, day of year, working days and the
 * statutory holidays of the Canadian prairie provinces (where the simulated portfolio sits). Offsets are
 * fixed standard time: Saskatchewan keeps CST all year; for Alberta and Manitoba the one-hour summer shift is
 * ignored, which moves shifts by an hour in summer and changes nothing a risk model could use.
 */
export const MINUTE_MS = 60_000;
export const HOUR_MS = 3_600_000;
export const DAY_MS = 86_400_000;

/** UTC epoch day of an instant. */
export const epochDay = (ms: number): number => Math.floor(ms / DAY_MS);

/** The instant's local wall-clock time, as epoch ms of a UTC date with the same digits. */
export const localMs = (ms: number, tzOffsetH: number): number => ms + tzOffsetH * HOUR_MS;

/** Local epoch day. */
export const localDay = (ms: number, tzOffsetH: number): number => epochDay(localMs(ms, tzOffsetH));

/** The UTC instant at which local day `day` reaches `hour` (fractional hours allowed). */
export const localDayHourToMs = (day: number, hour: number, tzOffsetH: number): number =>
  day * DAY_MS + hour * HOUR_MS - tzOffsetH * HOUR_MS;

/** Local hour of day, fractional. */
export const localHour = (ms: number, tzOffsetH: number): number => {
  const l = localMs(ms, tzOffsetH);
  return (l - epochDay(l) * DAY_MS) / HOUR_MS;
};

const yearCache = new Map<number, readonly [year: number, doy: number]>();

function yearAndDoy(day: number): readonly [number, number] {
  let v = yearCache.get(day);
  if (v === undefined) {
    const year = new Date(day * DAY_MS).getUTCFullYear();
    v = [year, day - Date.UTC(year, 0, 1) / DAY_MS + 1];
    if (yearCache.size > 100_000) yearCache.clear();
    yearCache.set(day, v);
  }
  return v;
}

/** Day of year (1–366) of an epoch day. */
export const dayOfYear = (day: number): number => yearAndDoy(Math.floor(day))[1];

export const yearOf = (day: number): number => yearAndDoy(Math.floor(day))[0];

/** 0 = Sunday … 6 = Saturday. */
export const weekday = (day: number): number => (day + 4) % 7;

const utcDay = (y: number, m: number, d: number): number => Date.UTC(y, m, d) / DAY_MS;

/** The n-th (1-based) given weekday of a month. */
function nthWeekday(y: number, m: number, wd: number, n: number): number {
  const first = utcDay(y, m, 1);
  return first + ((wd - weekday(first) + 7) % 7) + 7 * (n - 1);
}

/** Western Easter Sunday (anonymous Gregorian algorithm). */
function easter(y: number): number {
  const a = y % 19;
  const b = Math.floor(y / 100);
  const c = y % 100;
  const d = Math.floor(b / 4);
  const e = b % 4;
  const f = Math.floor((b + 8) / 25);
  const g = Math.floor((b - f + 1) / 3);
  const h = (19 * a + b - d - g + 15) % 30;
  const i = Math.floor(c / 4);
  const k = c % 4;
  const l = (32 + 2 * e + 2 * i - h - k) % 7;
  const m = Math.floor((a + 11 * h + 22 * l) / 451);
  const month = Math.floor((h + l - 7 * m + 114) / 31);
  const day = ((h + l - 7 * m + 114) % 31) + 1;
  return utcDay(y, month - 1, day);
}

const holidayCache = new Map<number, ReadonlySet<number>>();

/** Statutory holidays shared by SK, AB and MB (local epoch days). */
export function holidays(year: number): ReadonlySet<number> {
  let set = holidayCache.get(year);
  if (set) return set;
  const victoria = utcDay(year, 4, 24) - ((weekday(utcDay(year, 4, 24)) + 6) % 7); // Monday on or before 24 May
  set = new Set([
    utcDay(year, 0, 1), // New Year's Day
    nthWeekday(year, 1, 1, 3), // Family Day / Louis Riel Day
    easter(year) - 2, // Good Friday
    victoria, // Victoria Day
    utcDay(year, 6, 1), // Canada Day
    nthWeekday(year, 7, 1, 1), // Civic holiday (Saskatchewan Day, Heritage Day, Terry Fox Day)
    nthWeekday(year, 8, 1, 1), // Labour Day
    nthWeekday(year, 9, 1, 2), // Thanksgiving
    utcDay(year, 10, 11), // Remembrance Day
    utcDay(year, 11, 25), // Christmas Day
    utcDay(year, 11, 26), // Boxing Day
  ]);
  holidayCache.set(year, set);
  return set;
}

export const isHoliday = (day: number): boolean => holidays(yearOf(day)).has(day);

/** Monday–Friday and not a statutory holiday. */
export const isWorkday = (day: number): boolean => {
  const wd = weekday(day);
  return wd >= 1 && wd <= 5 && !isHoliday(day);
};

/** An ISO-like compact stamp, e.g. `20240613T175909`, for scene ids. */
export function compactStamp(ms: number): string {
  return new Date(ms).toISOString().replace(/[-:]/g, '').slice(0, 15);
}
