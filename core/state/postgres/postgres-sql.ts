import type { SqlParams, SqlValue } from '../database.js';

/**
 * Placeholders as PostgreSQL wants them: the repositories' `?` (positional) and `@name` (named) become `$1 …`,
 * skipping string literals, quoted identifiers, comments and dollar-quoted bodies. Each SQL text is parsed once.
 */
interface Parsed {
  readonly text: string;
  /** Named placeholders in `$n` order; undefined for positional SQL. */
  readonly names?: readonly string[];
}

const cache = new Map<string, Parsed>();
const CACHE_SIZE = 2_000;

export function toPostgres(sql: string, params: SqlParams | undefined): { text: string; values: SqlValue[] } {
  let parsed = cache.get(sql);
  if (parsed === undefined) {
    if (cache.size >= CACHE_SIZE) cache.clear();
    parsed = parse(sql);
    cache.set(sql, parsed);
  }
  if (params === undefined) return { text: parsed.text, values: [] };
  if (Array.isArray(params)) return { text: parsed.text, values: [...(params as readonly SqlValue[])] };
  const named = params as Readonly<Record<string, SqlValue>>;
  return {
    text: parsed.text,
    values: (parsed.names ?? []).map((name) => {
      const v = named[name];
      if (v === undefined) throw new Error(`SQL parameter @${name} has no value`);
      return v;
    }),
  };
}

function parse(sql: string): Parsed {
  let out = '';
  let positional = 0;
  const names: string[] = [];
  let i = 0;
  while (i < sql.length) {
    const c = sql[i] ?? '';
    const next = sql[i + 1] ?? '';
    if (c === "'" || c === '"') {
      const end = closing(sql, i, c);
      out += sql.slice(i, end);
      i = end;
    } else if (c === '-' && next === '-') {
      const end = sql.indexOf('\n', i);
      const stop = end === -1 ? sql.length : end;
      out += sql.slice(i, stop);
      i = stop;
    } else if (c === '/' && next === '*') {
      const end = sql.indexOf('*/', i + 2);
      const stop = end === -1 ? sql.length : end + 2;
      out += sql.slice(i, stop);
      i = stop;
    } else if (c === '$' && /[A-Za-z_$]/.test(next)) {
      // A dollar-quoted body ($$ … $$ or $tag$ … $tag$) passes through untouched.
      const tagEnd = sql.indexOf('$', i + 1);
      const tag = sql.slice(i, tagEnd + 1);
      const end = tagEnd === -1 ? -1 : sql.indexOf(tag, tagEnd + 1);
      const stop = end === -1 ? sql.length : end + tag.length;
      out += sql.slice(i, stop);
      i = stop;
    } else if (c === '?') {
      out += `$${String(++positional)}`;
      i++;
    } else if (c === '@' && /[A-Za-z_]/.test(next)) {
      let j = i + 1;
      while (j < sql.length && /\w/.test(sql[j] ?? '')) j++;
      const name = sql.slice(i + 1, j);
      let at = names.indexOf(name);
      if (at === -1) at = names.push(name) - 1;
      out += `$${String(at + 1)}`;
      i = j;
    } else {
      out += c;
      i++;
    }
  }
  if (positional > 0 && names.length > 0) throw new Error('SQL mixes ? and @name placeholders');
  return names.length > 0 ? { text: out, names } : { text: out };
}

/** Index just past the quote that closes the one at `start` (a doubled quote is an escaped one). */
function closing(sql: string, start: number, quote: string): number {
  let i = start + 1;
  while (i < sql.length) {
    if (sql[i] === quote) {
      if (sql[i + 1] === quote) i += 2;
      else return i + 1;
    } else i++;
  }
  return sql.length;
}
