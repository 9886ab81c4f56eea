// Formatting for tables and cards: times, PDs, counts, money in its currency, durations. Pure: no DOM,
// so web/test/format.test.ts runs it in Node.

export const DAY_MS = 86_400_000;

export const fmtTime = (ms) => (ms === undefined ? '—' : new Date(ms).toLocaleString());

export const shortTime = new Intl.DateTimeFormat(undefined, { dateStyle: 'short', timeStyle: 'short' });

export const fmtPd = (pd) => `${(pd * 100).toFixed(2)} %`;

export const fmtCount = (n) => (typeof n === 'number' ? n.toLocaleString() : '—');

const moneyFormats = new Map();

/** An amount in its currency, whole units (Intl.NumberFormat per currency, kept). */
export function fmtMoney(currency, amount) {
  let f = moneyFormats.get(currency);
  if (f === undefined) {
    try {
      f = new Intl.NumberFormat(undefined, {
        style: 'currency',
        currency,
        minimumFractionDigits: 0,
        maximumFractionDigits: 0,
      });
    } catch {
      // Not an ISO 4217 code: the number and the code as stored.
      f = { format: (n) => `${Math.round(n).toLocaleString()} ${currency}` };
    }
    moneyFormats.set(currency, f);
  }
  return f.format(amount);
}

export function fmtDuration(ms) {
  if (ms >= DAY_MS) return `${+(ms / DAY_MS).toFixed(1)} d`;
  if (ms >= 3_600_000) return `${+(ms / 3_600_000).toFixed(1)} h`;
  return `${Math.round(ms / 60_000)} min`;
}
