import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect as netConnect, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import mqttPacket from 'mqtt-packet';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FILE_RESERVE, fileLimitedConnections, isFileLimitError, openFileLimit } from '../file-limit.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

describe('open-file limit arithmetic', () => {
  it('when /proc/self/limits gives a soft limit, then it is read, and "unlimited" or an unreadable file gives none', () => {
    const limits = [
      'Limit                     Soft Limit           Hard Limit           Units     ',
      'Max processes             95632                95632                processes ',
      'Max open files            20000                20000                files     ',
    ].join('\n');
    expect(openFileLimit(limits)).toBe(20_000);
    expect(openFileLimit(limits.replace('20000                20000', 'unlimited unlimited'))).toBe(
      undefined,
    );
    expect(openFileLimit('no such line')).toBe(undefined);
  });

  it('when the limit and the files open now are known, then the connections left are the rest less the reserve', () => {
    expect(fileLimitedConnections(20_000, 36)).toBe(20_000 - 36 - FILE_RESERVE);
    expect(fileLimitedConnections(50, 40)).toBe(0);
    expect(isFileLimitError(Object.assign(new Error('accept EMFILE'), { code: 'EMFILE' }))).toBe(true);
    expect(isFileLimitError(new Error('other'))).toBe(false);
  });
});

/** A free loopback port. */
async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => resolve(typeof a === 'object' && a !== null ? a.port : 0));
    });
  });
}

/** Opens a TCP connection, sends an anonymous CONNECT; resolves with whether a CONNACK 0 came back. */
function mqttConnect(port: number, clientId: string): Promise<{ socket: Socket; accepted: boolean }> {
  return new Promise((resolve) => {
    const socket = netConnect(port, '127.0.0.1');
    const parser = mqttPacket.parser({ protocolVersion: 4 });
    let settled = false;
    const done = (accepted: boolean): void => {
      if (settled) return;
      settled = true;
      resolve({ socket, accepted });
    };
    parser.on('packet', (p) => done(p.cmd === 'connack' && p.returnCode === 0));
    socket.on('data', (b) => parser.parse(b));
    socket.on('error', () => done(false));
    socket.on('close', () => done(false));
    socket.setTimeout(10_000, () => done(false));
    socket.on('connect', () =>
      socket.write(
        mqttPacket.generate({
          cmd: 'connect',
          protocolId: 'MQTT',
          protocolVersion: 4,
          clean: true,
          clientId,
          keepalive: 0,
        }),
      ),
    );
  });
}

/**
 * A real broker process under `prlimit --nofile`: what a device fleet larger than the process's file limit
 * meets. Without broker/file-limit.ts, libuv accepts and closes the connections over the limit silently.
 */
describe('a broker at its open-file limit', () => {
  // Not lower: the broker starts under tsx, whose module loader reads a level of the import graph at once
  // (@sinclair/typebox alone is 266 files), and at 160 the start itself failed with EMFILE in a CI run.
  const NOFILE = 1024;
  const dir = mkdtempSync(join(tmpdir(), 'rf-nofile-'));
  let broker: ChildProcess;
  let output = '';
  let port = 0;
  const waitFor = async (pattern: RegExp, ms: number): Promise<void> => {
    const end = Date.now() + ms;
    while (!pattern.test(output)) {
      if (Date.now() > end || broker.exitCode !== null) {
        throw new Error(`no ${pattern} in broker output:\n${output.slice(-3000)}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  };

  beforeAll(async () => {
    port = await freePort();
    broker = spawn(
      'prlimit',
      [`--nofile=${NOFILE}:${NOFILE}`, process.execPath, '--import', 'tsx', 'bin/riskfuse.ts', 'broker'],
      {
        cwd: ROOT,
        env: {
          PATH: process.env.PATH ?? '',
          HOME: process.env.HOME ?? '/tmp',
          DATA_DIR: dir,
          MQTT_HOST: '127.0.0.1',
          MQTT_PORT: String(port),
          MQTT_DEV_ANONYMOUS: 'true',
          LOG_LEVEL: 'info',
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    const onData = (b: Buffer): void => void (output += b.toString('utf8'));
    broker.stdout?.on('data', onData);
    broker.stderr?.on('data', onData);
    await waitFor(/MQTT broker listening/, 90_000);
  }, 120_000);
  afterAll(() => {
    broker?.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  it('when more devices connect than its file limit allows, then it admits what fits, logs the limit with a count, and admits again once connections close', async () => {
    expect(output).toMatch(new RegExp(`"openFileLimit":${NOFILE}`));
    const attempts = await Promise.all(
      Array.from({ length: NOFILE }, (_, i) => mqttConnect(port, `fl-${i}`)),
    );
    const accepted = attempts.filter((a) => a.accepted).length;
    expect(accepted).toBeGreaterThan(0);
    expect(accepted).toBeLessThan(NOFILE - FILE_RESERVE);
    await waitFor(/open-file limit reached \(EMFILE\)/, 10_000);
    const line = output.split('\n').find((l) => l.includes('open-file limit reached')) ?? '';
    expect(JSON.parse(line)).toMatchObject({ openFileLimit: NOFILE, connectionsOverFileLimit: 1 });
    expect(broker.exitCode).toBe(null);

    for (const a of attempts) a.socket.destroy();
    await new Promise((r) => setTimeout(r, 500));
    const again = await mqttConnect(port, 'fl-again');
    expect(again.accepted).toBe(true);
    again.socket.destroy();
  }, 60_000);
});
