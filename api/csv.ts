import type { Readable } from 'node:stream';
import { parse, CsvError } from 'csv-parse';
import { RiskfuseError } from '../core/errors.js';

/**
 * A CSV upload, parsed while it streams in (csv-parse): the header and each row's cells with the line it
 * ends on, so rejections can name the line a spreadsheet shows. Malformed CSV (an unclosed quote, a stray
 * quote) is a 400 naming the line; a body over the limit is a 413, detected while streaming.
 */
export interface CsvTable {
  readonly format: 'csv';
  readonly header: string[];
  readonly rows: { readonly line: number; readonly cells: string[] }[];
}

export function readCsv(stream: Readable, limitBytes: number): Promise<CsvTable> {
  return new Promise((resolve, reject) => {
    let bytes = 0;
    let settled = false;
    const fail = (err: Error): void => {
      if (settled) return;
      settled = true;
      stream.unpipe();
      stream.resume();
      reject(err);
    };
    const parser = parse({
      bom: true,
      relax_column_count: true,
      skip_empty_lines: true,
      trim: true,
      info: true,
    });
    let header: string[] | undefined;
    const rows: { line: number; cells: string[] }[] = [];
    stream.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
      if (bytes > limitBytes) {
        fail(new RiskfuseError('PAYLOAD_TOO_LARGE', `CSV body over the limit of ${limitBytes} bytes`));
      }
    });
    stream.on('error', (err) => fail(err));
    parser.on('readable', () => {
      let rec: { record: string[]; info: { lines: number } } | null;
      while ((rec = parser.read() as { record: string[]; info: { lines: number } } | null) !== null) {
        if (header === undefined) header = rec.record;
        else rows.push({ line: rec.info.lines, cells: rec.record });
      }
    });
    parser.on('error', (err) => {
      const line = err instanceof CsvError ? (err as CsvError & { lines?: number }).lines : undefined;
      fail(
        new RiskfuseError(
          'VALIDATION_FAILED',
          `malformed CSV${line === undefined ? '' : ` at line ${line}`}: ${err.message}`,
          {
            details: {
              errors: [{ path: line === undefined ? 'body' : `line ${line}`, message: err.message }],
            },
          },
        ),
      );
    });
    parser.on('end', () => {
      if (settled) return;
      settled = true;
      if (header === undefined) {
        reject(new RiskfuseError('VALIDATION_FAILED', 'the CSV is empty: a header line is required'));
        return;
      }
      resolve({ format: 'csv', header, rows });
    });
    stream.pipe(parser);
  });
}
