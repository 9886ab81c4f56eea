import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect as netConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ALL_TELEMETRY, telemetryTopic } from '../../core/contracts/index.js';
import type { DeviceRegistry } from '../authenticate.js';
import {
  DEVICE_A,
  DEVICE_B,
  captureLogger,
  collect,
  connectClient,
  deviceClient,
  eventually,
  mosquitto,
  provisionRegistry,
  rawConnect,
  refusalCode,
  serviceClient,
  startBroker,
  token,
  type Registry,
} from './support.js';

/** Listeners, connection limits, development mode and shutdown, each on a broker of its own. */
let registry: Registry;
beforeAll(async () => {
  registry = await provisionRegistry();
});
afterAll(() => registry.close());

describe('WebSocket and TLS listeners', () => {
  let certDir: string;
  beforeAll(() => {
    certDir = mkdtempSync(join(tmpdir(), 'riskfuse-tls-'));
    execFileSync(
      'openssl',
      [
        ...['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=localhost'],
        ...['-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost'],
        ...['-keyout', join(certDir, 'key.pem'), '-out', join(certDir, 'cert.pem')],
      ],
      { stdio: 'ignore' },
    );
  });
  afterAll(() => rmSync(certDir, { recursive: true, force: true }));

  it('when WebSocket and TLS ports are configured, then devices connect over each and a TCP service receives their telemetry', async () => {
    const run = await startBroker(registry, {
      MQTT_WS_PORT: '0',
      MQTT_TLS_PORT: '0',
      MQTT_TLS_CERT_FILE: join(certDir, 'cert.pem'),
      MQTT_TLS_KEY_FILE: join(certDir, 'key.pem'),
    });
    try {
      expect(run.ports.wsPort).toBeGreaterThan(0);
      expect(run.ports.tlsPort).toBeGreaterThan(0);
      const service = await serviceClient(run);
      const inbox = collect(service);
      await service.subscribeAsync(ALL_TELEMETRY, { qos: 1 });

      const overWs = await connectClient(`ws://127.0.0.1:${run.ports.wsPort}/mqtt`, {
        clientId: DEVICE_A,
        username: DEVICE_A,
        password: token(registry, DEVICE_A),
      });
      const overTls = await connectClient(`mqtts://127.0.0.1:${run.ports.tlsPort}`, {
        clientId: DEVICE_B,
        username: DEVICE_B,
        password: token(registry, DEVICE_B),
        ca: readFileSync(join(certDir, 'cert.pem')),
      });
      await overWs.publishAsync(telemetryTopic(DEVICE_A), 'via websocket', { qos: 1 });
      await overTls.publishAsync(telemetryTopic(DEVICE_B), 'via tls', { qos: 1 });

      await inbox.next((m) => m.payload === 'via websocket');
      await inbox.next((m) => m.payload === 'via tls');
      await Promise.all([overWs.endAsync(), overTls.endAsync(), service.endAsync()]);
    } finally {
      await run.broker.close();
    }
  });

  it('when a 10 MB publish comes over WebSocket, then that connection is closed and counted', async () => {
    const run = await startBroker(registry, { MQTT_WS_PORT: '0' });
    try {
      const device = await connectClient(`ws://127.0.0.1:${run.ports.wsPort}/mqtt`, {
        clientId: DEVICE_A,
        username: DEVICE_A,
        password: token(registry, DEVICE_A),
      });
      const closed = new Promise<void>((resolve) => device.once('close', () => resolve()));
      device.publish(telemetryTopic(DEVICE_A), Buffer.alloc(10 * 1024 * 1024), { qos: 0 });
      await closed;
      await eventually(
        () => run.broker.counters.oversizedPackets,
        (n) => n >= 1,
      );
      device.end(true);
    } finally {
      await run.broker.close();
    }
  });
});

describe('connection limits', () => {
  it('when MQTT_MAX_CONNECTIONS are open, then the next connection is closed at once and counted', async () => {
    const run = await startBroker(registry, { MQTT_MAX_CONNECTIONS: '2' });
    try {
      const a = await deviceClient(run, registry, DEVICE_A);
      const b = await deviceClient(run, registry, DEVICE_B);
      const third = await rawConnect(run.ports.tcpPort);
      await third.closed;
      expect(run.broker.counters).toMatchObject({
        connectionsOverLimit: 1,
        currentConnections: 2,
        currentClients: 2,
      });
      expect(a.connected && b.connected).toBe(true);
      await Promise.all([a.endAsync(), b.endAsync()]);
    } finally {
      await run.broker.close();
    }
  });

  it('when a connection sends no CONNECT within MQTT_CONNECT_TIMEOUT_MS, then it is closed', async () => {
    const run = await startBroker(registry, { MQTT_CONNECT_TIMEOUT_MS: '300' });
    try {
      const raw = await rawConnect(run.ports.tcpPort);
      const started = Date.now();
      await raw.closed;
      expect(Date.now() - started).toBeGreaterThanOrEqual(250);
      expect(Date.now() - started).toBeLessThan(2_000);
    } finally {
      await run.broker.close();
    }
  });
});

describe('development mode', () => {
  it('when MQTT_DEV_ANONYMOUS is on, then anonymous mosquitto_sub and mosquitto_pub exchange messages on any topic, and the start says so loudly', async () => {
    const logs = captureLogger();
    const run = await startBroker(registry, { MQTT_DEV_ANONYMOUS: 'true' }, logs.log);
    try {
      const base = ['-h', '127.0.0.1', '-p', String(run.ports.tcpPort)];
      const subscribed = new Promise<void>((resolve) => run.broker.aedes.once('subscribe', () => resolve()));
      const sub = mosquitto('mosquitto_sub', [...base, '-t', 'lab/#', '-C', '1', '-W', '10', '-v']);
      await subscribed;
      const pub = await mosquitto('mosquitto_pub', [...base, '-t', 'lab/bench-1', '-m', 'hello']);

      expect(pub.code).toBe(0);
      expect(await sub).toMatchObject({ code: 0, stdout: 'lab/bench-1 hello\n' });
      const warnings = logs.lines
        .map((l) => JSON.parse(l) as { level: number; msg: string })
        .filter((l) => l.level === 40);
      expect(warnings.some((w) => w.msg.includes('MQTT_DEV_ANONYMOUS=true'))).toBe(true);
      expect(
        warnings.some(
          (w) => w.msg.startsWith('MQTT broker listening') && w.msg.includes('WITHOUT TOPIC LIMITS'),
        ),
      ).toBe(true);
    } finally {
      await run.broker.close();
    }
  });

  it('when development mode is on, then devices that do log in are still held to their topics', async () => {
    const run = await startBroker(registry, { MQTT_DEV_ANONYMOUS: 'true' });
    try {
      const base = ['-h', '127.0.0.1', '-p', String(run.ports.tcpPort)];
      const cli = await mosquitto('mosquitto_sub', [
        ...base,
        ...['-i', DEVICE_A, '-u', DEVICE_A, '-P', token(registry, DEVICE_A), '-d', '-E', '-t', 'lab/#'],
      ]);
      expect(cli.stdout).toMatch(/Subscribed \(mid: \d+\): 128/);
    } finally {
      await run.broker.close();
    }
  });
});

describe('shutdown', () => {
  it('when the broker closes, then clients and idle connections are closed, the port is released and close is idempotent', async () => {
    const run = await startBroker(registry);
    const device = await deviceClient(run, registry, DEVICE_A);
    const service = await serviceClient(run);
    const idle = await rawConnect(run.ports.tcpPort); // never sends CONNECT
    const deviceClosed = new Promise<void>((resolve) => device.once('close', () => resolve()));
    const serviceClosed = new Promise<void>((resolve) => service.once('close', () => resolve()));

    await run.broker.close();

    await Promise.all([deviceClosed, serviceClosed, idle.closed]);
    expect(run.broker.counters.currentConnections).toBe(0);
    const refused = await new Promise<string>((resolve) => {
      const socket = netConnect(run.ports.tcpPort, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve('connected');
      });
      socket.once('error', (err: Error & { code?: string }) => resolve(err.code ?? err.message));
    });
    expect(refused).toBe('ECONNREFUSED');
    await expect(run.broker.close()).resolves.toBeUndefined();
    await expect(run.broker.listen()).rejects.toMatchObject({ code: 'SHUTTING_DOWN' });
    device.end(true);
    service.end(true);
  });

  it('when the port is taken, then listen fails with a clear error and leaves nothing running', async () => {
    const first = await startBroker(registry);
    try {
      await expect(startBroker(registry, { MQTT_PORT: String(first.ports.tcpPort) })).rejects.toMatchObject({
        code: 'CONFIG_INVALID',
        message: expect.stringContaining('MQTT_PORT') as unknown,
      });
    } finally {
      await first.broker.close();
    }
  });
});

describe('registry outage', () => {
  it('when the device registry fails during a CONNECT, then the device gets 3 (server unavailable), the broker keeps running, and the device is admitted once the registry is back', async () => {
    let down = true;
    const devices = registry.store.devices;
    const flaky: DeviceRegistry = {
      getDevice: (id) =>
        down ? Promise.reject(new Error('state store down (test)')) : devices.getDevice(id),
      getCredentials: (id) => devices.getCredentials(id),
    };
    const logs = captureLogger();
    const run = await startBroker(registry, {}, logs.log, flaky);
    try {
      expect(await refusalCode(deviceClient(run, registry, DEVICE_A))).toBe(3);
      expect(logs.lines.join('')).toContain('state store down (test)');
      down = false;
      const device = await deviceClient(run, registry, DEVICE_A);
      expect(device.connected).toBe(true);
      await device.endAsync();
    } finally {
      await run.broker.close();
    }
  });
});
