import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../core/logger.js';
import { fraudScenarios, generateWorld } from '../../simulators/index.js';
import { openTrainingWorld, worldHash } from '../training-world.js';

/** The cache of `riskfuse evaluate`'s simulated history is keyed on the world it was simulated from. */

describe('training world cache', () => {
  const dir = mkdtempSync(join(tmpdir(), 'rf-training-world-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('when a fraud no longer brings on a default (FRAUD_CREDIT_EFFECTS changed), then the world hash changes', () => {
    const base = { seed: 7, borrowers: 60, startMs: Date.UTC(2024, 0, 1) };
    const scenarios = fraudScenarios(
      generateWorld(base).borrowers.map((b) => b.id),
      { seed: 7, ratePerYear: 0.5, days: 300 },
    );
    const withEffects = generateWorld({ ...base, scenarios });
    expect(worldHash(generateWorld({ ...base, scenarios }))).toBe(worldHash(withEffects));
    expect(worldHash(generateWorld({ ...base, scenarios, fraudDefaults: false }))).not.toBe(
      worldHash(withEffects),
    );
  });

  it('when the cached history was simulated from another world, then it is rebuilt instead of reused', async () => {
    const opts = { seed: 3, borrowers: 20, months: 8, days: 2, cacheDir: dir, log: silentLogger };
    const first = await openTrainingWorld(opts);
    await first.close();
    const again = await openTrainingWorld(opts);
    await again.close();
    expect(again.reused).toBe(true);
    const markerPath = join(again.dir, 'complete.json');
    const marker = JSON.parse(readFileSync(markerPath, 'utf8')) as Record<string, unknown>;
    expect(marker.worldHash).toBe(worldHash(again.world));
    writeFileSync(markerPath, JSON.stringify({ ...marker, worldHash: 'simulated-under-old-rates' }));
    const rebuilt = await openTrainingWorld(opts);
    await rebuilt.close();
    expect(rebuilt.reused).toBe(false);
  });

  it("when a history has just been built, then the telemetry file already holds the query planner's statistics", async () => {
    const world = await openTrainingWorld({
      seed: 5,
      borrowers: 20,
      months: 8,
      days: 2,
      cacheDir: dir,
      log: silentLogger,
    });
    try {
      expect(world.reused).toBe(false);
      // Read while the world is still open, as a benchmark or an evaluation run reads it right after the build.
      const look = new Database(join(world.dir, 'telemetry.db'), { readonly: true });
      try {
        const analysed = look
          .prepare("SELECT count(*) FROM sqlite_master WHERE name = 'sqlite_stat1'")
          .pluck()
          .get() as number;
        expect(analysed).toBe(1);
        const tables = look.prepare('SELECT DISTINCT tbl FROM sqlite_stat1').pluck().all() as string[];
        expect(tables).toContain('readings');
        expect(tables).toContain('readings_rollup');
      } finally {
        look.close();
      }
    } finally {
      await world.close();
    }
  });
});
