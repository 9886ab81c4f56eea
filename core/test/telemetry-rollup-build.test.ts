import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Reading } from '../contracts/index.js';
import { DAY_MS, HOUR_MS } from '../storage/resolution.js';
import { openSqliteTelemetryStore } from '../storage/sqlite-telemetry-store.js';
import type { BuildProgress } from '../storage/sqlite-writer.js';
import type { AggregateQuery } from '../storage/telemetry-store.js';
import { expectAggregatesEqual, expectedAggregates } from './telemetry-store.contract.js';

/**
 * The one-time build of the hourly and daily aggregates of a SQLite file written before they existed
 * (core/storage/sqlite-rollup.ts, rollup_build): the store opens at once, answers from raw readings meanwhile,
 * builds in pages with progress, resumes after a stop, and counts readings written during the build once.
 */
const D0 = Date.UTC(2026, 0, 5);
const DEVICES = ['stake-a', 'stake-b', 'stake-c'];

function history(perDevice: number): Reading[] {
  return DEVICES.flatMap((deviceId, d) =>
    Array.from({ length: perDevice }, (_, i) => ({
      kind: 'stake' as const,
      deviceId,
      borrowerId: `b-${d}`,
      siteId: `s-${d}`,
      ts: D0 + i * 17 * 60_000 + d * 1_000,
      seq: i + 1,
      fields: { weightKg: 500 + ((i * 7_919) % 97), tamper: i % 13 === 0 ? 1 : 0 },
    })),
  );
}

/** A file as the store wrote it before the aggregates (schema version 1). */
function writeVersion1(path: string, readings: readonly Reading[]): void {
  const db = new Database(path);
  db.exec(`CREATE TABLE readings (
     device_id TEXT NOT NULL, ts INTEGER NOT NULL, seq INTEGER NOT NULL, kind TEXT NOT NULL,
     borrower_id TEXT NOT NULL, site_id TEXT NOT NULL, fields TEXT NOT NULL,
     PRIMARY KEY (device_id, ts, seq)
   ) WITHOUT ROWID;
   CREATE INDEX readings_borrower_ts ON readings (borrower_id, ts);
   CREATE INDEX readings_kind_ts ON readings (kind, ts);`);
  const insert = db.prepare('INSERT INTO readings VALUES (?, ?, ?, ?, ?, ?, ?)');
  db.transaction(() => {
    for (const r of readings)
      insert.run(r.deviceId, r.ts, r.seq, r.kind, r.borrowerId, r.siteId, JSON.stringify(r.fields));
  })();
  db.pragma('user_version = 1');
  db.close();
}

/** Readings counted in the daily aggregates, and whether a build is still pending. */
function rollupState(path: string): { daily: number; hourly: number; pending: number } {
  const db = new Database(path, { readonly: true });
  try {
    const n = (res: number): number =>
      db
        .prepare('SELECT coalesce(sum(n), 0) FROM readings_rollup WHERE res_ms = ?')
        .pluck()
        .get(res) as number;
    const pending = db.prepare('SELECT count(*) FROM rollup_build').pluck().get() as number;
    return { daily: n(DAY_MS), hourly: n(HOUR_MS), pending };
  } finally {
    db.close();
  }
}

const daily = (fromMs: number, toMs: number): AggregateQuery => ({
  kind: 'stake',
  field: 'weightKg',
  fromMs,
  toMs,
  intervalMs: DAY_MS,
  groupBy: 'device',
});

describe('SQLite aggregates build of a file that predates them', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'rf-rollup-build-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('when an old file is opened, then it answers at once from raw readings, builds in pages reporting progress, and then answers the same from the aggregates', async () => {
    const path = join(dir, 'telemetry.db');
    const world = history(1_000);
    writeVersion1(path, world);
    const progress: BuildProgress[] = [];
    const store = openSqliteTelemetryStore(path, {
      rollupBuildPage: 400,
      onRollupBuild: (p) => progress.push(p),
    });
    try {
      const q = daily(D0, D0 + 13 * DAY_MS);
      expectAggregatesEqual(await store.aggregate(q), expectedAggregates(world, q));
      await store.rollupsBuilt();
      expect(progress.length).toBeGreaterThanOrEqual(world.length / 400);
      expect(progress.map((p) => p.done)).toEqual([...progress.map((p) => p.done)].sort((a, b) => a - b));
      expect(progress.at(-1)).toEqual({ done: world.length, total: world.length });
      expect(rollupState(path)).toEqual({ daily: world.length, hourly: world.length, pending: 0 });
      expectAggregatesEqual(await store.aggregate(q), expectedAggregates(world, q));
      const fields = await store.aggregateFields({ ...q, fields: ['weightKg', 'tamper'] });
      expect(fields.map((r) => [r.group, r.startMs, r.fields.tamper?.max])).toEqual(
        expectedAggregates(world, { ...q, field: 'tamper' }).map((r) => [r.group, r.startMs, r.max]),
      );
    } finally {
      await store.close();
    }
  });

  it('when the store closes during the build and readings arrive meanwhile, then the next open resumes where it stopped and every reading is counted once', async () => {
    const path = join(dir, 'telemetry.db');
    const world = history(1_000);
    writeVersion1(path, world);
    // Written between pages: before the build's cursor (stake-a, early), after it (stake-c), and a new device.
    const during: Reading[] = [
      { ...(world[5] as Reading), seq: 50_001, fields: { weightKg: 9_000, tamper: 1 } },
      { ...(world[2_500] as Reading), seq: 50_002, fields: { weightKg: 1, tamper: 0 } },
      { ...(world[10] as Reading), deviceId: 'stake-0', seq: 1, fields: { weightKg: 3, tamper: 0 } },
    ];
    const writes: Promise<unknown>[] = [];
    let pages = 0;
    let closed: Promise<void> | undefined;
    const first = openSqliteTelemetryStore(path, {
      rollupBuildPage: 300,
      onRollupBuild: () => {
        pages += 1;
        if (pages === 1) writes.push(first.writeReadings(during));
        if (pages === 3) closed = first.close();
      },
    });
    await first.rollupsBuilt();
    await Promise.all(writes);
    await closed;
    const stopped = rollupState(path);
    expect(stopped.pending).toBe(1);
    expect(stopped.daily).toBeGreaterThan(0);
    expect(stopped.daily).toBeLessThan(world.length);

    const all = [...world, ...during];
    const second = openSqliteTelemetryStore(path, { rollupBuildPage: 300 });
    try {
      await second.rollupsBuilt();
      expect(rollupState(path)).toEqual({ daily: all.length, hourly: all.length, pending: 0 });
      const q = daily(D0, D0 + 13 * DAY_MS);
      expectAggregatesEqual(await second.aggregate(q), expectedAggregates(all, q));
    } finally {
      await second.close();
    }
  });
});
