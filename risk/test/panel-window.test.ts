import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Reading } from '../../core/contracts/index.js';
import {
  openSqliteTelemetryStore,
  type SqliteTelemetryStore,
} from '../../core/storage/sqlite-telemetry-store.js';
import { DAY_MS } from '../features/online.js';
import { dayValue, loadPanel } from '../features/panel.js';

const FROM = Date.UTC(2024, 0, 1);

describe('daily panel windows', () => {
  let dir: string;
  let store: SqliteTelemetryStore;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'rf-panel-'));
    store = openSqliteTelemetryStore(join(dir, 'telemetry.db'));
    // One stake reading at noon on each of the panel's 10 days, weight = 100 + day.
    const readings: Reading[] = Array.from({ length: 10 }, (_, d) => ({
      kind: 'stake',
      deviceId: 'stake-1',
      borrowerId: 'b-1',
      siteId: 's-1',
      ts: FROM + d * DAY_MS + DAY_MS / 2,
      seq: d,
      fields: { weightKg: 100 + d },
    }));
    await store.writeReadings(readings);
  });
  afterEach(async () => {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("when a field declares fewer days than the panel's lookback, then it is read from that day on and reading earlier fails", async () => {
    // A panel of 10 days whose first observation time is its end (lookback 10); the field reads 3 days back.
    const panel = await loadPanel({
      store,
      fields: [{ kind: 'stake', field: 'weightKg', fns: ['mean'], days: 3 }],
      fromMs: FROM,
      toMs: FROM + 10 * DAY_MS,
      lookbackDays: 10,
    });
    const s = panel.get('stake', 'weightKg', 'mean', 'stake-1');
    expect(s?.d0).toBe(7);
    expect(s?.values.length).toBe(3);
    expect([7, 8, 9].map((d) => dayValue(s, d))).toEqual([107, 108, 109]);
    // A feature reading further back than its field's declared days is a bug to surface, not a missing value.
    expect(() => dayValue(s, 6)).toThrow(/before its field's window/);
    // Without a declaration the field covers the whole panel.
    const whole = await loadPanel({
      store,
      fields: [{ kind: 'stake', field: 'weightKg', fns: ['mean'] }],
      fromMs: FROM,
      toMs: FROM + 10 * DAY_MS,
      lookbackDays: 10,
    });
    const all = whole.get('stake', 'weightKg', 'mean', 'stake-1');
    expect(all?.d0).toBe(0);
    expect(dayValue(all, 0)).toBe(100);
  });
});
