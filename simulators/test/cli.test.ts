import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../core/logger.js';
import { openSqliteStateStore } from '../../core/storage/sqlite-state-store.js';
import { openSqliteTelemetryStore } from '../../core/storage/sqlite-telemetry-store.js';
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
    const env = { DATA_DIR: dir };
    const code = await simulateCommand(
      ['--backfill', '2', '--borrowers', '3', '--seed', '5', '--scenario', 'tamper:b0001:1'],
      env,
      io(),
    );
    expect(code).toBe(0);
    const state = openSqliteStateStore(join(dir, 'state.db'));
    const telemetry = openSqliteTelemetryStore(join(dir, 'telemetry.db'));
    try {
      expect(state.listBorrowers()).toHaveLength(3);
      expect(state.listDevices().length).toBeGreaterThan(10);
      expect(state.listLoans().length).toBeGreaterThanOrEqual(3);
      expect(await telemetry.count({ kind: 'stake' })).toBeGreaterThan(100);
    } finally {
      await telemetry.close();
      state.close();
    }
  });

  it('when run live, then the provisioned devices publish to MQTT_URL until stopped', async () => {
    const broker = await startBroker();
    const sub = await subscribe(broker.url, ['rf/v1/+/telemetry']);
    const stop = new AbortController();
    try {
      const env = { DATA_DIR: dir, MQTT_URL: broker.url, SIM_START_DAYS_AGO: '0.5' };
      const done = simulateCommand(['--borrowers', '1', '--speed', '20'], env, {
        ...io(),
        signal: stop.signal,
      });
      await waitFor(() => sub.messages.length > 5, 15_000, 'telemetry');
      stop.abort();
      expect(await done).toBe(0);
      const state = openSqliteStateStore(join(dir, 'state.db'));
      try {
        const ids = new Set(state.listDevices().map((d) => d.id));
        for (const m of sub.messages) expect(ids.has(m.topic.split('/')[2] ?? '')).toBe(true);
      } finally {
        state.close();
      }
    } finally {
      await sub.close();
      await broker.close();
    }
  });
});
