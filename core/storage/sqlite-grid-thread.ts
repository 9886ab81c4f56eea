import Database from 'better-sqlite3';
import type { MessagePort } from 'node:worker_threads';
import { errorMessage } from '../errors.js';
import { readGrid } from './sqlite-grid-query.js';
import { sqliteReadContext } from './sqlite-read-context.js';
import type { FieldsGrid, FieldsGridQuery } from './telemetry-store.js';

/**
 * A reader thread of the SQLite telemetry store (`sqlite-grid-readers.ts` starts it): its own read-only
 * connection to the file, answering grid queries one at a time. WAL lets it read beside the store's thread and
 * the writer thread; each query sees the file as committed when it starts, as on the store's own connection.
 */
export interface GridThreadData {
  readonly path: string;
  readonly busyTimeoutMs: number;
}

/** The store thread's request: a grid query, already checked there. */
export interface GridRequest {
  readonly id: number;
  readonly q: FieldsGridQuery;
}

/** The thread's messages: ready once open; then one reply per request. */
export type GridReply =
  | { readonly ready: true }
  | { readonly id: number; readonly grid: FieldsGrid }
  | { readonly id: number; readonly error: { readonly code: string; readonly message: string } };

/** Opens the connection and serves requests on `port` (called by the thread's bootstrap). */
export function serveGridReads(port: MessagePort, data: GridThreadData): void {
  const db = new Database(data.path, { readonly: true, timeout: data.busyTimeoutMs });
  const ctx = sqliteReadContext(db);
  port.on('message', (req: GridRequest) => {
    let reply: GridReply;
    let transfer: ArrayBuffer[] = [];
    try {
      const grid = readGrid(ctx, req.q);
      reply = { id: req.id, grid };
      // The devices' arrays are views into a few shared slabs (fields-grid.ts): moved, not copied.
      const buffers = new Set<ArrayBuffer>();
      for (const arr of grid.devices.values()) buffers.add(arr.buffer as ArrayBuffer);
      transfer = [...buffers];
    } catch (err) {
      const code = err instanceof Error && 'code' in err && typeof err.code === 'string' ? err.code : '';
      reply = { id: req.id, error: { code, message: errorMessage(err) } };
    }
    port.postMessage(reply, transfer);
  });
  port.postMessage({ ready: true } satisfies GridReply);
}
