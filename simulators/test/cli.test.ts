import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../../core/config.js';
import { silentLogger } from '../../core/logger.js';
import { openSqliteState, openState, stateConfigSpec } from '../../core/state/index.js';
import { openSqliteTelemetryStore } from '../../core/storage/sqlite-telemetry-store.js';
import { freshPostgresDatabase } from '../../test/support/postgres.js';
import { openSharedTestState } from '../../test/support/shared-state.js';
import { simulateCommand } from '../cli.js';
import { startBroker, subscribe, waitFor } from './mqtt-support.js';

describe('riskfuse simulate', () => {
  let dir: string;
  let out: string[];
  let err: string[];
  const io = (): { stdout: (t: string) => void; stderr: (t: string) => void; log: typeof silentLogger } => ({
    stdout: (t) => out.push(t),
    stderr: (t) => err.push(t),
    log: silentLogger,
  });

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'riskfuse-sim-cli-'));
    out = [];
    err = [];
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('when asked for --help, then it prints usage, the scenarios and the environment variables', async () => {
    expect(await simulateCommand(['--help'], {}, io())).toBe(0);
    const text = out.join('');
    for (const s of [
      'Usage: riskfuse simulate',
      '--backfill DAYS',
      '--scenario',
      'removal',
      'inspection-offsite',
      'MQTT_URL',
      'STATE_DB_PATH',
      'DATA_DIR',
      'SIM_SEED',
      'INFLUX_URL',
    ]) {
      expect(text).toContain(s);
    }
  });

  it.each([
    [['--seed', 'abc'], /--seed must be an integer/],
    [['--borrowers', '0'], /--borrowers must be ≥ 1/],
    [['--speed=-2'], /--speed must be a number > 0/],
    [['--speed', '0'], /--speed must be a number > 0/],
    [['--backfill', 'many'], /--backfill must be a number > 0/],
    [['--frobnicate'], /Unknown option/i],
    [['--scenario', 'melt:b0001'], /unknown kind "melt"/],
    [['--scenario', 'removal:b0999', '--borrowers', '3'], /b0999/],
    [['--mqtt-url', 'http://x'], /--mqtt-url must be/],
    [['extra'], /unexpected argument/],
  ])('when given bad flags %j, then it exits 2 with a clear message', async (argv, message) => {
    expect(await simulateCommand(argv, { DATA_DIR: dir }, io())).toBe(2);
    expect(err.join('')).toMatch(message);
    expect(err.join('')).toContain('--help');
  });

  it('when the environment is invalid, then it lists the problem and exits 1', async () => {
    expect(await simulateCommand([], { SIM_BORROWERS: 'lots', DATA_DIR: dir }, io())).toBe(1);
    expect(err.join('')).toMatch(/SIM_BORROWERS must be a number/);
  });

  it('when run with --backfill, then it provisions the world and writes history and the loan book to the stores', async () => {
    const { state, env: stateEnv } = await openSharedTestState(dir);
    const telemetry = openSqliteTelemetryStore(join(dir, 'telemetry.db'));
    try {
      const code = await simulateCommand(
        ['--backfill', '2', '--borrowers', '3', '--seed', '5', '--scenario', 'tamper:b0001:1'],
        { DATA_DIR: dir, ...stateEnv },
        io(),
      );
      expect(code).toBe(0);
      expect(await state.portfolio.listBorrowers()).toHaveLength(3);
      expect((await state.devices.listDevices()).length).toBeGreaterThan(10);
      expect((await state.loans.listLoans()).length).toBeGreaterThanOrEqual(3);
      expect(await telemetry.count({ kind: 'stake' })).toBeGreaterThan(100);
    } finally {
      await telemetry.close();
      await state.close();
    }
  });

  it('when STATE_DB_URL is set, then the world and its loan book go to that PostgreSQL database, not to DATA_DIR', async (ctx) => {
    const url = await freshPostgresDatabase('simulate');
    if (url === undefined) return ctx.skip('PostgreSQL is not installed');
    const code = await simulateCommand(
      ['--backfill', '1', '--borrowers', '2', '--seed', '6'],
      { DATA_DIR: dir, STATE_DB_URL: url },
      io(),
    );
    expect(code).toBe(0);
    expect(existsSync(join(dir, 'state.db'))).toBe(false);
    const state = await openState(parseConfig(stateConfigSpec, { STATE_DB_URL: url }), silentLogger);
    try {
      expect(state.db.dialect).toBe('postgres');
      expect(await state.portfolio.listBorrowers()).toHaveLength(2);
      expect((await state.devices.listDevices()).length).toBeGreaterThan(5);
      expect((await state.loans.listLoans()).length).toBeGreaterThanOrEqual(2);
    } finally {
      await state.close();
    }
  });

  it('when run live, then the provisioned devices publish to MQTT_URL until stopped', async () => {
    const broker = await startBroker();
    const sub = await subscribe(broker.url, ['rf/v1/+/telemetry']);
    const stop = new AbortController();
    try {
      const env = { DATA_DIR: dir, MQTT_URL: broker.url, SIM_START_DAYS_AGO: '0.5' };
      // The CLI provisions the world into DATA_DIR/state.db, read back below.
      const done = simulateCommand(['--borrowers', '1', '--speed', '20'], env, {
        ...io(),
        signal: stop.signal,
      });
      await waitFor(() => sub.messages.length > 5, 15_000, 'telemetry');
      stop.abort();
      expect(await done).toBe(0);
      const state = openSqliteState(join(dir, 'state.db'));
      try {
        const ids = new Set((await state.devices.listDevices()).map((d) => d.id));
        for (const m of sub.messages) expect(ids.has(m.topic.split('/')[2] ?? '')).toBe(true);
      } finally {
        await state.close();
      }
    } finally {
      await sub.close();
      await broker.close();
    }
  });
});
