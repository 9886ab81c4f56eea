import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { State } from '../../core/state/index.js';
import { openTestState } from '../../core/state/test/backends.js';
import {
  openSqliteTelemetryStore,
  type SqliteTelemetryStore,
} from '../../core/storage/sqlite-telemetry-store.js';
import { backfill, type BackfillProgress } from '../backfill.js';
import { createEngine } from '../engine.js';
import { provisionWorld } from '../provision.js';
import { parseScenario } from '../scenarios.js';
import { generateWorld } from '../world.js';
import { DAY_MS, HOUR_MS, START_MS } from './support.js';

describe('backfill into real SQLite stores', () => {
  let dir: string;
  let state: State;
  let telemetry: SqliteTelemetryStore;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'riskfuse-backfill-'));
    state = await openTestState(dir);
    telemetry = openSqliteTelemetryStore(join(dir, 'telemetry.db'));
  });

  afterEach(async () => {
    await telemetry.close();
    await state.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('when 20 days of a provisioned world are backfilled, then the store holds exactly the generated readings', async () => {
    const world = generateWorld({
      seed: 21,
      borrowers: 12,
      startMs: START_MS,
      scenarios: [parseScenario('removal:b0002:4')],
    });
    await provisionWorld(world, state);
    const endMs = START_MS + 20 * DAY_MS + 5 * HOUR_MS;
    const progress: BackfillProgress[] = [];
    const result = await backfill({
      world,
      days: 30,
      endMs,
      telemetryStore: telemetry,
      stateStore: state,
      onProgress: (p) => progress.push(p),
    });

    const expected = createEngine(world).readings(START_MS, endMs);
    // Clamped to the world's start: 20 days and 5 hours of history, in 21 day-sized steps.
    expect(result.fromMs).toBe(START_MS);
    expect(result.days).toBe(21);
    expect(result.readingsWritten).toBe(expected.length);
    expect(await telemetry.count({})).toBe(expected.length);
    expect(await telemetry.count({ kind: 'satellite' })).toBe(
      expected.filter((r) => world.devices[r.deviceIndex]?.kind === 'satellite').length,
    );
    expect(progress.map((p) => p.daysDone)).toEqual(Array.from({ length: 21 }, (_, i) => i + 1));
    expect(progress.at(-1)?.readingsWritten).toBe(expected.length);
    expect(result.readingsPerS).toBeGreaterThan(0);

    // The stored reading is the payload plus the registry's identity.
    const device = world.devices[0];
    if (device === undefined) throw new Error('fixture');
    const [latest] = await telemetry.latest({ deviceIds: [device.id] });
    const last = expected.filter((r) => r.deviceIndex === 0).at(-1);
    expect(latest).toMatchObject({
      kind: 'stake',
      deviceId: device.id,
      borrowerId: device.borrowerId,
      siteId: device.siteId,
    });
    expect(latest?.seq).toBe(last?.payload.seq);
    expect(latest?.fields.weightKg).toBe((last?.payload as { weightKg: number }).weightKg);
    expect(latest?.fields.tamper === 0 || latest?.fields.tamper === 1).toBe(true);

    // The loan book as of the end is in the state store.
    const loans = await state.loans.listLoans();
    expect(loans.length).toBeGreaterThanOrEqual(world.loans.length);
    expect(result.loans).toBe(loans.length);
    const repayments = (await Promise.all(loans.map((l) => state.loans.listRepayments(l.id)))).flat();
    expect(repayments.length).toBe(result.repayments);
    expect(repayments.some((r) => r.paidAt !== undefined && r.paidAt < endMs)).toBe(true);
    expect(repayments.every((r) => r.paidAt === undefined || r.paidAt <= endMs)).toBe(true);
  });

  it('when the same history is backfilled twice, then nothing is stored twice', async () => {
    const world = generateWorld({ seed: 22, borrowers: 4, startMs: START_MS });
    await provisionWorld(world, state);
    const endMs = START_MS + 3 * DAY_MS;
    const first = await backfill({
      world,
      days: 3,
      endMs,
      telemetryStore: telemetry,
      stateStore: state,
      batchSize: 777,
    });
    await backfill({ world, days: 3, endMs, telemetryStore: telemetry, stateStore: state });
    expect(await telemetry.count({})).toBe(first.readingsWritten);
  });

  it('when the world was never provisioned, then backfill refuses and says so', async () => {
    const world = generateWorld({ seed: 23, borrowers: 2, startMs: START_MS });
    await expect(
      backfill({ world, days: 1, endMs: START_MS + DAY_MS, telemetryStore: telemetry, stateStore: state }),
    ).rejects.toThrow(/provisionWorld/);
  });

  it('when provisioned, then every device is registered with a hashed token that verifies', async () => {
    const { verifyToken } = await import('../../core/credentials.js');
    const world = generateWorld({ seed: 24, borrowers: 3, startMs: START_MS });
    const p = await provisionWorld(world, state);
    expect(p.devices).toBe(world.devices.length);
    expect(await state.devices.listDevices()).toHaveLength(world.devices.length);
    for (const d of world.devices) {
      const token = p.tokens.get(d.id) as string;
      const creds = await state.devices.getCredentials(d.id);
      expect(creds?.tokenHash).not.toContain(token);
      expect(verifyToken(token, creds as NonNullable<typeof creds>)).toBe(true);
    }
    expect(new Set(p.tokens.values()).size).toBe(world.devices.length);
  });
});
