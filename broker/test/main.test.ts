import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { telemetryTopic } from '../../core/contracts/index.js';
import { brokerMain } from '../main.js';
import {
  DEVICE_A,
  SERVICE_TOKEN,
  collect,
  connectClient,
  provisionRegistry,
  token,
  type Registry,
} from './support.js';

let registry: Registry;
beforeAll(async () => {
  registry = await provisionRegistry();
});
afterAll(() => registry.close());

interface LogLine {
  readonly level: number;
  readonly msg: string;
  readonly [key: string]: unknown;
}

describe('riskfuse broker (brokerMain)', () => {
  it('when run as a process, then it serves the registry’s devices, logs where it listens and closes on SIGTERM', async () => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', join(import.meta.dirname, 'fixtures', 'run-broker-main.ts')],
      {
        env: {
          ...process.env,
          MQTT_HOST: '127.0.0.1',
          MQTT_PORT: '0',
          MQTT_SERVICE_TOKEN: SERVICE_TOKEN,
          ...registry.stateEnv,
          MQTT_PERSISTENCE_PATH: join(registry.dir, 'broker.db'),
          LOG_LEVEL: 'info',
        },
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    const lines: LogLine[] = [];
    const listening = new Promise<LogLine>((resolve, reject) => {
      createInterface({ input: child.stdout }).on('line', (line) => {
        const parsed = JSON.parse(line) as LogLine;
        lines.push(parsed);
        if (parsed.msg === 'MQTT broker listening') resolve(parsed);
      });
      child.once('exit', (code) => reject(new Error(`broker exited early with ${String(code)}`)));
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));

    const { tcpPort } = await listening;
    expect(tcpPort).toEqual(expect.any(Number));
    const service = await connectClient(`mqtt://127.0.0.1:${String(tcpPort)}`, {
      clientId: 'riskfuse-ingest-test',
      username: 'svc:ingest',
      password: SERVICE_TOKEN,
    });
    const inbox = collect(service);
    await service.subscribeAsync(telemetryTopic(DEVICE_A), { qos: 1 });
    const device = await connectClient(`mqtt://127.0.0.1:${String(tcpPort)}`, {
      clientId: DEVICE_A,
      username: DEVICE_A,
      password: token(registry, DEVICE_A),
    });
    await device.publishAsync(telemetryTopic(DEVICE_A), 'through the process', { qos: 1 });
    await inbox.next((m) => m.payload === 'through the process');
    const serviceClosed = new Promise<void>((resolve) => service.once('close', () => resolve()));

    child.kill('SIGTERM');

    expect(await exited).toBe(0);
    await serviceClosed;
    const closedOrder = lines.filter((l) => l.msg === 'closed').map((l) => l.component);
    // Every closer ran. (Their relative order is Shutdown's, tested in core; pino's asynchronous stdout can
    // reorder the last lines a process writes before it exits, so it is not asserted here.)
    expect([...closedOrder].sort()).toEqual(['broker', 'broker session store', 'counters', 'state store']);
    device.end(true);
    service.end(true);
  });

  it('when the configuration is wrong, then every problem is reported together and nothing is opened', async () => {
    const dataDir = join(registry.dir, 'never-created');
    await expect(
      brokerMain(
        { MQTT_PORT: 'x', MQTT_MAX_PAYLOAD_BYTES: '0', LOG_LEVEL: 'loud', DATA_DIR: dataDir },
        { installSignalHandlers: false },
      ),
    ).rejects.toMatchObject({
      code: 'CONFIG_INVALID',
      details: [
        expect.stringMatching(/^MQTT_PORT/),
        expect.stringMatching(/^MQTT_MAX_PAYLOAD_BYTES/),
        expect.stringMatching(/^LOG_LEVEL/),
      ],
    });
    expect(existsSync(dataDir)).toBe(false);
  });

  it('when started in-process, then the state store defaults to DATA_DIR/state.db and close() shuts both down', async () => {
    const dataDir = join(registry.dir, 'in-process');
    const running = await brokerMain(
      { MQTT_HOST: '127.0.0.1', MQTT_PORT: '0', DATA_DIR: dataDir, LOG_LEVEL: 'silent' },
      { installSignalHandlers: false },
    );
    expect(existsSync(join(dataDir, 'state.db'))).toBe(true);
    expect(running.ports.tcpPort).toBeGreaterThan(0);
    await running.close();
    await expect(running.broker.listen()).rejects.toMatchObject({ code: 'SHUTTING_DOWN' });
  });
});
