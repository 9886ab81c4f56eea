import { readFile } from 'node:fs/promises';
import { CsvError, parse } from 'csv-parse/sync';
import { RiskfuseError } from '../../core/errors.js';

/**
 * A lender's tabular file, as read: a header and rows of cells, each cell trimmed text or `null` when missing.
 * Every row has exactly `header.length` cells (ragged files are rejected), and `lines[i]` is the 1-based line
 * of the file on which row `i` ends, so errors can point at the line a person would open.
 */
export interface CsvTable {
  /** Where the table came from, for messages (a path, or `<input>`). */
  readonly source: string;
  readonly delimiter: Delimiter;
  readonly header: readonly string[];
  readonly rows: readonly (readonly (string | null)[])[];
  readonly lines: readonly number[];
}

/** `whitespace` means a run of spaces and/or tabs, as in the UCI `.asc` files. */
export type Delimiter = ',' | ';' | '\t' | 'whitespace';

/** Cell values read as missing (after trimming, case-insensitive). */
export const MISSING_TOKENS: readonly string[] = ['', 'na', 'nan', 'null', '?'];
const MISSING = new Set(MISSING_TOKENS);

/** Ragged rows reported in one error message, at most. */
const MAX_REPORTED = 5;

export function isMissingToken(raw: string): boolean {
  return MISSING.has(raw.trim().toLowerCase());
}

/**
 * Chooses the delimiter from the header line: the most frequent of `,` `;` tab outside quotes; if none occurs,
 * runs of spaces when the header has any, else `,` (a one-column file).
 */
export function detectDelimiter(headerLine: string): Delimiter {
  const counts: Record<',' | ';' | '\t', number> = { ',': 0, ';': 0, '\t': 0 };
  let quoted = false;
  let spaces = 0;
  for (const ch of headerLine.trim()) {
    if (ch === '"') quoted = !quoted;
    else if (!quoted && (ch === ',' || ch === ';' || ch === '\t')) counts[ch] += 1;
    else if (!quoted && ch === ' ') spaces += 1;
  }
  const best = (Object.entries(counts) as [',' | ';' | '\t', number][]).reduce((a, b) =>
    b[1] > a[1] ? b : a,
  );
  if (best[1] > 0) return best[0];
  return spaces > 0 ? 'whitespace' : ',';
}

/**
 * Collapses each run of unquoted spaces/tabs into one space and trims each line, so that a whitespace-separated
 * file can be read by csv-parse with a single-space delimiter. Newlines are kept, so line numbers do not move.
 */
function collapseWhitespace(text: string): string {
  let out = '';
  let quoted = false;
  let pendingSpace = false;
  let atLineStart = true;
  for (const ch of text) {
    if (!quoted && (ch === ' ' || ch === '\t')) {
      if (!atLineStart) pendingSpace = true;
      continue;
    }
    if (!quoted && (ch === '\n' || ch === '\r')) {
      pendingSpace = false;
      atLineStart = true;
      out += ch;
      continue;
    }
    if (pendingSpace) out += ' ';
    pendingSpace = false;
    atLineStart = false;
    if (ch === '"') quoted = !quoted;
    out += ch;
  }
  return out;
}

function invalid(message: string, details?: unknown): RiskfuseError {
  return new RiskfuseError('VALIDATION_FAILED', message, details === undefined ? {} : { details });
}

/** Parses CSV text (see `CsvTable`). Throws RiskfuseError VALIDATION_FAILED naming the line of any problem. */
export function parseCsv(text: string, source = '<input>'): CsvTable {
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  const firstLine = body.split(/\r?\n/).find((l) => l.trim() !== '');
  if (firstLine === undefined) throw invalid(`${source}: the file is empty (a header row is required)`);
  const delimiter = detectDelimiter(firstLine);
  const input = delimiter === 'whitespace' ? collapseWhitespace(body) : body;

  let records: { record: string[]; info: { lines: number } }[];
  try {
    records = parse(input, {
      delimiter: delimiter === 'whitespace' ? ' ' : delimiter,
      relax_column_count: true,
      skip_empty_lines: true,
      skip_records_with_empty_values: false,
      info: true,
    }) as unknown as { record: string[]; info: { lines: number } }[];
  } catch (err) {
    const where = err instanceof CsvError && typeof err.lines === 'number' ? ` line ${err.lines}` : '';
    throw new RiskfuseError(
      'VALIDATION_FAILED',
      `${source}${where}: not readable as CSV: ${err instanceof Error ? err.message : String(err)}`,
      { cause: err },
    );
  }

  const [head, ...data] = records;
  if (head === undefined) throw invalid(`${source}: the file is empty (a header row is required)`);
  const header = head.record.map((h) => h.trim());
  const blank = header.findIndex((h) => h === '');
  if (blank >= 0) throw invalid(`${source} line ${head.info.lines}: header column ${blank + 1} has no name`);
  const seen = new Set<string>();
  for (const h of header) {
    if (seen.has(h)) throw invalid(`${source} line ${head.info.lines}: header names column "${h}" twice`);
    seen.add(h);
  }
  if (data.length === 0) throw invalid(`${source}: the file has a header but no data rows`);

  const ragged = data.filter((r) => r.record.length !== header.length);
  if (ragged.length > 0) {
    const shown = ragged
      .slice(0, MAX_REPORTED)
      .map((r) => `line ${r.info.lines} has ${r.record.length} fields`)
      .join('; ');
    const more = ragged.length > MAX_REPORTED ? `; and ${ragged.length - MAX_REPORTED} more` : '';
    throw invalid(
      `${source}: ragged rows — the header has ${header.length} columns but ${shown}${more}`,
      ragged.map((r) => ({ line: r.info.lines, fields: r.record.length })),
    );
  }

  return {
    source,
    delimiter,
    header,
    rows: data.map((r) => r.record.map((cell) => (isMissingToken(cell) ? null : cell.trim()))),
    lines: data.map((r) => r.info.lines),
  };
}

export async function readCsvFile(path: string): Promise<CsvTable> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new RiskfuseError('VALIDATION_FAILED', `cannot read ${path}: ${(err as Error).message}`, {
      cause: err,
    });
  }
  return parseCsv(text, path);
}
