import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RiskfuseError } from '../../errors.js';
import { newestMigration } from '../database.js';
import { SQLITE_MIGRATIONS } from '../migrations/sqlite/index.js';
import { openSqliteState } from '../open-state.js';

const T0 = Date.UTC(2026, 0, 1);

describe('SQLite state file upgrade', () => {
  let dir: string;
  const path = () => join(dir, 'state.db');

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'rf-upgrade-'));
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('when a file made by the old store (schema in PRAGMA user_version only) is opened, then it keeps its data, records versions 1–8 as adopted and applies the newer ones', async () => {
    // The old SqliteStateStore: the same eight SQL texts (its last version was 8), run in turn, the version in
    // user_version only.
    const old = new BetterSqlite3(path());
    old.pragma('foreign_keys = ON');
    const shipped = SQLITE_MIGRATIONS.slice(0, 8);
    for (const m of shipped) old.exec(m.sql);
    old.pragma('user_version = 8');
    old
      .prepare('INSERT INTO borrowers (id, name, sector, region, created_at) VALUES (?, ?, ?, ?, ?)')
      .run('b1', 'Grain Co', 'trading', 'north', T0);
    old.close();

    const state = openSqliteState(path());
    try {
      expect(await state.portfolio.getBorrower('b1')).toEqual({
        id: 'b1',
        name: 'Grain Co',
        sector: 'trading',
        region: 'north',
        createdAt: T0,
      });
      const versions = await state.db.all<{ version: number; name: string }>(
        'SELECT version, name FROM schema_migrations ORDER BY version',
      );
      expect(versions.map((r) => r.version)).toEqual(SQLITE_MIGRATIONS.map((m) => m.version));
      expect(versions.filter((r) => r.name.endsWith('(adopted)')).map((r) => r.version)).toEqual([
        1, 2, 3, 4, 5, 6, 7, 8,
      ]);
      expect(await state.db.schemaVersion()).toBe(newestMigration(SQLITE_MIGRATIONS));
      // The adopted schema takes writes as a fresh one would.
      await state.portfolio.upsertSites([
        { id: 's1', borrowerId: 'b1', name: 'Depot', kind: 'warehouse', lat: 1, lon: 2, geofence: [] },
      ]);
      expect(await state.portfolio.dependents('borrower', 'b1')).toEqual({ sites: 1 });
    } finally {
      await state.close();
    }

    // Reopened: nothing is applied or recorded again, and the data is still there.
    const again = openSqliteState(path());
    try {
      expect(await again.db.all('SELECT version FROM schema_migrations')).toHaveLength(
        SQLITE_MIGRATIONS.length,
      );
      expect((await again.portfolio.listSites('b1')).map((s) => s.id)).toEqual(['s1']);
    } finally {
      await again.close();
    }
  });

  it('when schema_migrations records a version newer than this riskfuse knows, then opening is refused with MIGRATION_FAILED', async () => {
    const state = openSqliteState(path());
    await state.deadLetters.addDeadLetters([
      { receivedAt: T0, topic: 't', reason: 'MALFORMED_JSON', detail: 'x', payload: '{' },
    ]);
    await state.close();
    const raw = new BetterSqlite3(path());
    raw
      .prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)')
      .run(newestMigration(SQLITE_MIGRATIONS) + 1, 'from-the-future', T0);
    raw.close();

    let err: unknown;
    try {
      openSqliteState(path());
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(RiskfuseError);
    expect((err as RiskfuseError).code).toBe('MIGRATION_FAILED');
    expect((err as Error).message).toMatch(/newer than this riskfuse/);

    // Refused without a change: the file still holds its data for the newer riskfuse.
    const check = new BetterSqlite3(path(), { readonly: true });
    expect(check.prepare('SELECT count(*) AS c FROM dead_letters').get()).toEqual({ c: 1 });
    check.close();
  });
});
