import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Reading } from '../contracts/index.js';
import { DAY_MS, HOUR_MS } from '../storage/resolution.js';
import { openSqliteTelemetryStore } from '../storage/sqlite-telemetry-store.js';
import type { FieldsGridQuery } from '../storage/telemetry-store.js';

/**
 * The SQLite store's reader threads (core/storage/sqlite-grid-readers.ts): a whole kind's grid read on a reader
 * thread is the grid the store's own thread reads; grids asked for together are read on both threads; a
 * reader that cannot start hands its query back; closing refuses a query still being read.
 */
const D0 = Date.UTC(2026, 2, 2);
const DAYS = 4;
const DEVICES = 6;

/** Stakes every 50 min for 4 days, one field missing from every fifth reading, a tamper now and then. */
function history(): Reading[] {
  const out: Reading[] = [];
  for (let d = 0; d < DEVICES; d++) {
    for (let i = 0; i < (DAYS * DAY_MS) / (50 * 60_000); i++) {
      out.push({
        kind: 'stake',
        deviceId: `stk-${d}`,
        borrowerId: `b-${d % 3}`,
        siteId: `s-${d}`,
        ts: D0 + i * 50 * 60_000 + d * 7_000,
        seq: i + 1,
        fields: {
          ...(i % 5 === 0 ? {} : { weightKg: 400 + d * 10 + ((i * 7_919) % 37) }),
          tamper: i % 17 === 0 ? 1 : 0,
        },
      });
    }
  }
  return out;
}

/** A whole kind over daily buckets, ending inside an hour: daily, hourly and raw segments in one statement. */
const WHOLE_KIND: FieldsGridQuery = {
  kind: 'stake',
  fields: [
    { field: 'weightKg', stats: ['mean', 'count', 'min'] },
    { field: 'tamper', stats: ['max'] },
  ],
  fromMs: D0,
  toMs: D0 + (DAYS - 1) * DAY_MS + 5 * HOUR_MS + 1_234,
  intervalMs: DAY_MS,
};

describe('SQLite telemetry reader threads', () => {
  let dir: string;
  let path: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'rf-readers-'));
    path = join(dir, 'telemetry.db');
    const writer = openSqliteTelemetryStore(path);
    await writer.writeReadings(history());
    await writer.close();
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("when a whole kind's grid is read on a reader thread, then it is the grid the store's own thread reads", async () => {
    const plain = openSqliteTelemetryStore(path);
    const threaded = openSqliteTelemetryStore(path, { readerThreads: 1 });
    try {
      const expected = await plain.aggregateGrid(WHOLE_KIND);
      expect(expected.devices.size).toBe(DEVICES);
      const got = await threaded.aggregateGrid(WHOLE_KIND);
      expect(threaded.threadedGridReads()).toBe(1);
      expect(got).toEqual(expected);
      // A few devices by id stay on the store's thread: a message to a thread costs more than reading them.
      const few = { ...WHOLE_KIND, deviceIds: ['stk-1', 'stk-4'] };
      expect(await threaded.aggregateGrid(few)).toEqual(await plain.aggregateGrid(few));
      expect(threaded.threadedGridReads()).toBe(1);
    } finally {
      await plain.close();
      await threaded.close();
    }
  });

  it("when grids are asked for together, then one is read on the reader thread and the others on the store's thread, each as read alone", async () => {
    const store = openSqliteTelemetryStore(path, { readerThreads: 1 });
    try {
      const queries: FieldsGridQuery[] = [
        WHOLE_KIND,
        { ...WHOLE_KIND, fields: [{ field: 'weightKg', stats: ['max'] }] },
        { ...WHOLE_KIND, intervalMs: HOUR_MS, fromMs: D0 + DAY_MS },
      ];
      const together = await Promise.all(queries.map((q) => store.aggregateGrid(q)));
      expect(store.threadedGridReads()).toBe(1);
      const alone = [];
      for (const q of queries) alone.push(await openAndRead(path, q));
      expect(together).toEqual(alone);
    } finally {
      await store.close();
    }
  });

  it("when the reader thread cannot start, then its query is answered on the store's thread and the failure is logged once", async () => {
    const lines: Record<string, unknown>[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
        done();
      },
    });
    const store = openSqliteTelemetryStore(path, {
      readerThreads: 1,
      readerModuleUrl: new URL('./no-such-reader-module.js', import.meta.url),
      log: pino({ level: 'warn' }, sink),
    });
    try {
      const expected = await openAndRead(path, WHOLE_KIND);
      expect(await store.aggregateGrid(WHOLE_KIND)).toEqual(expected);
      expect(await store.aggregateGrid(WHOLE_KIND)).toEqual(expected);
      expect(store.threadedGridReads()).toBe(0);
      const warnings = lines.filter((l) => String(l.msg).includes('reader thread failed'));
      expect(warnings).toHaveLength(1);
      expect(String(warnings[0]?.err)).toMatch(/no-such-reader-module/);
    } finally {
      await store.close();
    }
  });

  it('when the store closes while a reader thread reads, then that query is refused as shutting down', async () => {
    const store = openSqliteTelemetryStore(path, { readerThreads: 1 });
    // The thread is still starting: the query is waiting for it when the store closes.
    const refused = expect(store.aggregateGrid(WHOLE_KIND)).rejects.toMatchObject({ code: 'SHUTTING_DOWN' });
    await store.close();
    await refused;
    await expect(store.aggregateGrid(WHOLE_KIND)).rejects.toMatchObject({ code: 'SHUTTING_DOWN' });
  });

  it("when the aggregates cannot answer (raw readings only), then the grid is read on the store's thread", async () => {
    const store = openSqliteTelemetryStore(path, { readerThreads: 1, rawOnly: true });
    try {
      expect(await store.aggregateGrid(WHOLE_KIND)).toEqual(await openAndRead(path, WHOLE_KIND));
      expect(store.threadedGridReads()).toBe(0);
    } finally {
      await store.close();
    }
  });
});

async function openAndRead(path: string, q: FieldsGridQuery) {
  const store = openSqliteTelemetryStore(path);
  try {
    return await store.aggregateGrid(q);
  } finally {
    await store.close();
  }
}
