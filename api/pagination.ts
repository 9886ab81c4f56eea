import { RiskfuseError } from '../core/errors.js';

/**
 * Cursor pagination: a cursor is the base64url JSON of the last item's sort key, opaque to clients. Pages
 * are read one item long, so whether another page follows is known without a count.
 */
export function encodeCursor(key: unknown): string {
  return Buffer.from(JSON.stringify(key), 'utf8').toString('base64url');
}

export function decodeCursor<T>(cursor: string, check: (v: unknown) => v is T): T {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    value = undefined;
  }
  if (!check(value)) {
    throw new RiskfuseError('VALIDATION_FAILED', 'invalid cursor: pass the nextCursor of a previous page', {
      details: { errors: [{ path: 'querystring/cursor', message: 'is not a cursor of this list' }] },
    });
  }
  return value;
}

export const isString = (v: unknown): v is string => typeof v === 'string' && v.length <= 64;
export const isNumber = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v);

/** Splits a list read with `limit + 1` into the page and the cursor of the next one. */
export function paged<T, K>(
  rows: T[],
  limit: number,
  keyOf: (item: T) => K,
): { items: T[]; nextCursor?: string } {
  if (rows.length <= limit) return { items: rows };
  const items = rows.slice(0, limit);
  const last = items.at(-1);
  return last === undefined ? { items } : { items, nextCursor: encodeCursor(keyOf(last)) };
}
