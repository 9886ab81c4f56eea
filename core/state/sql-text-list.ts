import type { Dialect } from './database.js';

/**
 * A subquery of the strings of one JSON array parameter, for `col IN (${textListSql(dialect)})` with
 * `JSON.stringify(ids)`: one SQL text for any number of ids (no statement per list length), and both engines
 * seek the column's index per element. The engines name the table function differently (SQLite's `json_each`,
 * PostgreSQL's `json_array_elements_text`); both call its column `value`.
 */
export const textListSql = (dialect: Dialect): string =>
  dialect === 'postgres'
    ? 'SELECT value FROM json_array_elements_text(CAST(? AS json))'
    : 'SELECT value FROM json_each(?)';

/** `textListSql` for BIGINT ids (PostgreSQL's function yields text, which must be cast to compare). */
export const idListSql = (dialect: Dialect): string =>
  dialect === 'postgres'
    ? 'SELECT CAST(value AS BIGINT) FROM json_array_elements_text(CAST(? AS json))'
    : 'SELECT value FROM json_each(?)';
