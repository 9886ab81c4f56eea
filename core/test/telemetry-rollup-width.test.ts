import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Reading } from '../contracts/index.js';
import { DAY_MS, HOUR_MS } from '../storage/resolution.js';
import { openSqliteTelemetryStore } from '../storage/sqlite-telemetry-store.js';
import type { AggregateQuery } from '../storage/telemetry-store.js';
import { expectAggregatesEqual, expectedAggregates } from './telemetry-store.contract.js';

/**
 * The writer upserts a rollup row over the slots its kind uses so far, not all of them
 * (core/storage/sqlite-rollup.ts, upsertSql): a field that takes a new slot after a device's hour and day rows
 * exist, or in the middle of a batch, widens the row, and every field's aggregates stay exact.
 */
const D0 = Date.UTC(2026, 4, 4);

function reading(deviceId: string, minute: number, seq: number, fields: Reading['fields']): Reading {
  return {
    kind: 'stake',
    deviceId,
    borrowerId: 'w-b1',
    siteId: 'w-s1',
    ts: D0 + minute * 60_000,
    seq,
    fields,
  };
}

describe('SQLite rollup rows as a kind gains fields', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'rf-rollup-width-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('when fields take new slots after rows exist and within one batch, then every field aggregates exactly at hour and day', async () => {
    const path = join(dir, 'telemetry.db');
    const store = openSqliteTelemetryStore(path);
    // One field first: the kind's rows are one slot wide.
    const first = [reading('w-1', 1, 1, { weightKg: 10 }), reading('w-2', 2, 1, { weightKg: 20 })];
    // Same hour and day: a second field widens existing rows; w-1's second reading adds a third field in the
    // middle of the batch, after its row's accumulator was made.
    const second = [
      reading('w-1', 3, 2, { weightKg: 11, temperatureC: 5 }),
      reading('w-1', 4, 3, { weightKg: 12, temperatureC: 7, humidityPct: 40 }),
      reading('w-2', 5, 2, { temperatureC: -3 }),
    ];
    // Only the newest field, an hour later (a new row of the widest kind).
    const third = [reading('w-2', 65, 3, { humidityPct: 55 }), reading('w-1', 66, 4, { weightKg: 9 })];
    const world = [...first, ...second, ...third];
    try {
      await store.writeReadings(first);
      await store.writeReadings(second);
      await store.writeReadings(third);
      for (const field of ['weightKg', 'temperatureC', 'humidityPct']) {
        for (const intervalMs of [HOUR_MS, DAY_MS]) {
          const q: AggregateQuery = {
            kind: 'stake',
            field,
            fromMs: D0,
            toMs: D0 + DAY_MS,
            intervalMs,
            groupBy: 'device',
          };
          expectAggregatesEqual(await store.aggregate(q), expectedAggregates(world, q));
        }
      }
    } finally {
      await store.close();
    }
    // And the rows themselves count every reading once, at both resolutions.
    const db = new Database(path, { readonly: true });
    try {
      const counts = db
        .prepare('SELECT res_ms, sum(n) AS n FROM readings_rollup GROUP BY res_ms ORDER BY res_ms')
        .all();
      expect(counts).toEqual([
        { res_ms: HOUR_MS, n: world.length },
        { res_ms: DAY_MS, n: world.length },
      ]);
    } finally {
      db.close();
    }
  });
});
