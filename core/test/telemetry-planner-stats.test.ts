import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Reading } from '../contracts/index.js';
import { openSqliteTelemetryStore } from '../storage/sqlite-telemetry-store.js';

/**
 * The SQLite telemetry store refreshes the query planner's statistics while it is open
 * (core/storage/sqlite-telemetry-store.ts, PLANNER_STATS_MS), not only when it closes: a file that grew from
 * empty in one long run must not be queried without them until the next restart.
 */
const T0 = Date.UTC(2026, 4, 4);

function readings(n: number): Reading[] {
  return Array.from({ length: n }, (_, i) => ({
    kind: 'stake' as const,
    deviceId: `stake-${String(i % 50).padStart(6, '0')}`,
    borrowerId: `b${i % 10}`,
    siteId: `s${i % 10}`,
    ts: T0 + i * 60_000,
    seq: i + 1,
    fields: { weightKg: 1_000 + (i % 7) },
  }));
}

describe('SQLite telemetry planner statistics', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'rf-planner-stats-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('when the store has been written and queried, then its statistics are in the file while it is still open', async () => {
    const path = join(dir, 'telemetry.db');
    const store = openSqliteTelemetryStore(path, { plannerStatsMs: 100 });
    try {
      await store.writeReadings(readings(5_000));
      const rows = await store.range({
        deviceIds: ['stake-000003'],
        fromMs: T0,
        toMs: T0 + 5_000 * 60_000,
        limit: 1_000,
      });
      expect(rows.length).toBe(100);
      const analysed = (): number => {
        const look = new Database(path, { readonly: true });
        try {
          const table = look.prepare("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_stat1'").get();
          return table === undefined
            ? 0
            : (look.prepare('SELECT count(*) AS n FROM sqlite_stat1').get() as { n: number }).n;
        } finally {
          look.close();
        }
      };
      const deadline = Date.now() + 5_000;
      while (analysed() === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect(analysed()).toBeGreaterThan(0);
    } finally {
      await store.close();
    }
  });
});
