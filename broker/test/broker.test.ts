import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MqttClient } from 'mqtt';
import { ALL_TELEMETRY, cmdTopic, statusTopic, telemetryTopic } from '../../core/contracts/index.js';
import {
  DEVICE_A,
  DEVICE_B,
  DEVICE_REVOKED,
  SERVICE_TOKEN,
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
  sleep,
  startBroker,
  subscribeCodes,
  token,
  type Registry,
  type Running,
  zeroByteClientIdConnect,
} from './support.js';

/**
 * The broker as devices and services meet it: our broker on port 0, a real SQLite registry, MQTT.js
 * clients and — as an MQTT implementation independent of ours — the Mosquitto command-line clients.
 */
let registry: Registry;
let run: Running;
const logs = captureLogger();
const clients: MqttClient[] = [];

/** Clients opened by a test; all are closed after the suite. */
function keep<T extends MqttClient>(client: T): T {
  clients.push(client);
  return client;
}

beforeAll(async () => {
  registry = await provisionRegistry();
  run = await startBroker(registry, {}, logs.log);
});

afterAll(async () => {
  await Promise.all(clients.map((c) => c.endAsync(true)));
  await run.broker.close();
  await registry.close();
});

const mosqBase = (): string[] => ['-h', '127.0.0.1', '-p', String(run.ports.tcpPort)];
const asDevice = (id: string, tokenValue = token(registry, id)): string[] => [
  '-i',
  id,
  '-u',
  id,
  '-P',
  tokenValue,
];

describe('admission', () => {
  it('when a provisioned device connects and publishes telemetry, then a service subscriber receives it', async () => {
    const service = keep(await serviceClient(run));
    const inbox = collect(service);
    await service.subscribeAsync(ALL_TELEMETRY, { qos: 1 });
    const device = keep(await deviceClient(run, registry, DEVICE_A));

    await device.publishAsync(telemetryTopic(DEVICE_A), '{"ts":1764400000000,"seq":1}', { qos: 1 });

    const message = await inbox.next((m) => m.topic === telemetryTopic(DEVICE_A));
    expect(message.payload).toBe('{"ts":1764400000000,"seq":1}');
  });

  it('when a device presents a wrong token, then the client sees CONNACK 4 (bad user name or password)', async () => {
    expect(await refusalCode(deviceClient(run, registry, DEVICE_A, { password: 'not-the-token' }))).toBe(4);
    const cli = await mosquitto('mosquitto_pub', [
      ...mosqBase(),
      ...asDevice(DEVICE_A, 'not-the-token'),
      '-t',
      't',
      '-m',
      'x',
    ]);
    expect(cli.code).toBe(4);
    expect(cli.stderr).toContain('bad user name or password');
  });

  it('when an unknown device connects, then it is refused with the same 4 as a wrong token', async () => {
    const before = run.broker.counters.connectionsRefused.badUsernameOrPassword;
    const cli = await mosquitto('mosquitto_pub', [
      ...mosqBase(),
      ...asDevice('ghost-000009', 'whatever'),
      '-t',
      't',
      '-m',
      'x',
    ]);
    expect(cli.code).toBe(4);
    expect(
      await refusalCode(
        connectClient(run.url, { clientId: 'ghost-000009', username: 'ghost-000009', password: 'x' }),
      ),
    ).toBe(4);
    // Counted once the CONNACK is on the wire, which may be just after the client has read it.
    await eventually(
      () => run.broker.counters.connectionsRefused.badUsernameOrPassword,
      (n) => n === before + 2,
    );
  });

  it('when a revoked device connects with its old token, then the client sees CONNACK 5 (not authorised)', async () => {
    const cli = await mosquitto('mosquitto_pub', [
      ...mosqBase(),
      ...asDevice(DEVICE_REVOKED),
      '-t',
      't',
      '-m',
      'x',
    ]);
    expect(cli.code).toBe(5);
    expect(cli.stderr).toContain('not authorised');
    expect(await refusalCode(deviceClient(run, registry, DEVICE_REVOKED))).toBe(5);
  });

  it('when a device connects under a client id other than its device id, then CONNACK 2 (identifier rejected)', async () => {
    const cli = await mosquitto('mosquitto_pub', [
      ...mosqBase(),
      ...['-i', 'not-my-id', '-u', DEVICE_A, '-P', token(registry, DEVICE_A)],
      ...['-t', telemetryTopic(DEVICE_A), '-m', 'x'],
    ]);
    expect(cli.code).toBe(2);
    expect(cli.stderr).toContain('identifier rejected');
  });

  it('when a client sends no credentials outside development mode, then CONNACK 5', async () => {
    const cli = await mosquitto('mosquitto_pub', [...mosqBase(), '-t', 'any', '-m', 'x']);
    expect(cli.code).toBe(5);
  });

  it('when a client sends a zero-byte client id with clean session 0, then CONNACK 2 [MQTT-3.1.3-8]', async () => {
    const raw = await rawConnect(run.ports.tcpPort);
    raw.socket.write(zeroByteClientIdConnect());
    expect(await raw.next()).toMatchObject({ cmd: 'connack', returnCode: 2 });
    await raw.closed;
  });

  it('when a service presents a wrong token, then 4; when it takes a device id as client id, then 2', async () => {
    expect(await refusalCode(serviceClient(run, 'ingest', { password: 'x'.repeat(43) }))).toBe(4);
    expect(await refusalCode(serviceClient(run, 'ingest', { clientId: DEVICE_A }))).toBe(2);
  });

  it('when a device’s will is not its own status topic, then the connect is refused with 5', async () => {
    const will = {
      topic: statusTopic(DEVICE_B),
      payload: Buffer.from('offline'),
      qos: 1 as const,
      retain: true,
    };
    expect(await refusalCode(deviceClient(run, registry, DEVICE_A, { will }))).toBe(5);
  });
});

describe('topic ACL', () => {
  it('when a device publishes to another device’s topic, then it is acknowledged but dropped and counted, and its next valid publish arrives', async () => {
    const service = keep(await serviceClient(run));
    const inbox = collect(service);
    await service.subscribeAsync('rf/v1/#', { qos: 1 });
    const device = keep(await deviceClient(run, registry, DEVICE_A));
    const before = run.broker.counters.publishesDroppedUnauthorised;

    // QoS 1: publishAsync resolves on PUBACK, so the device is not left retrying.
    await device.publishAsync(telemetryTopic(DEVICE_B), 'forged', { qos: 1 });
    await device.publishAsync(statusTopic(DEVICE_B), 'forged-retained', { qos: 1, retain: true });
    await device.publishAsync(telemetryTopic(DEVICE_B), 'forged-qos2', { qos: 2 }); // PUBREC/PUBREL/PUBCOMP complete
    await device.publishAsync(telemetryTopic(DEVICE_A), 'genuine', { qos: 1 });

    await inbox.next((m) => m.payload === 'genuine');
    expect(inbox.messages.filter((m) => m.payload.startsWith('forged'))).toEqual([]);
    expect(run.broker.counters.publishesDroppedUnauthorised).toBe(before + 3);
    expect(device.connected).toBe(true);
    // Nothing of the forged retained status was stored either.
    const late = keep(await serviceClient(run, 'late'));
    const lateInbox = collect(late);
    await late.subscribeAsync(statusTopic(DEVICE_B), { qos: 1 });
    await sleep(200);
    expect(lateInbox.messages.some((m) => m.payload.startsWith('forged'))).toBe(false);
  });

  it('when mosquitto_pub publishes to another device’s topic, then it gets its PUBACK (exit 0) but nothing is delivered', async () => {
    const service = keep(await serviceClient(run));
    const inbox = collect(service);
    await service.subscribeAsync(ALL_TELEMETRY, { qos: 1 });
    const before = run.broker.counters.publishesDroppedUnauthorised;

    const forged = await mosquitto('mosquitto_pub', [
      ...mosqBase(),
      ...asDevice(DEVICE_A),
      '-q',
      '1',
      '-t',
      telemetryTopic(DEVICE_B),
      '-m',
      'mosq-forged',
    ]);
    const genuine = await mosquitto('mosquitto_pub', [
      ...mosqBase(),
      ...asDevice(DEVICE_A),
      '-q',
      '1',
      '-t',
      telemetryTopic(DEVICE_A),
      '-m',
      'mosq-genuine',
    ]);

    expect([forged.code, genuine.code]).toEqual([0, 0]);
    await inbox.next((m) => m.payload === 'mosq-genuine');
    expect(inbox.messages.some((m) => m.payload === 'mosq-forged')).toBe(false);
    expect(run.broker.counters.publishesDroppedUnauthorised).toBe(before + 1);
  });

  it('when a device subscribes to its own and another device’s cmd topic at once, then SUBACK grants the first and answers 0x80 for the second', async () => {
    const before = run.broker.counters.subscriptionsRefused;
    const device = keep(await deviceClient(run, registry, DEVICE_A));
    const inbox = collect(device);
    expect(await subscribeCodes(device, [cmdTopic(DEVICE_A), cmdTopic(DEVICE_B)])).toEqual([1, 0x80]);
    expect(run.broker.counters.subscriptionsRefused).toBe(before + 1);

    const service = keep(await serviceClient(run, 'api'));
    await service.publishAsync(cmdTopic(DEVICE_B), 'for-b', { qos: 1 });
    await service.publishAsync(cmdTopic(DEVICE_A), 'for-a', { qos: 1 });
    await inbox.next((m) => m.payload === 'for-a');
    expect(inbox.messages.map((m) => m.payload)).toEqual(['for-a']);
  });

  it('when mosquitto_sub subscribes inside and outside its topics, then it reads SUBACK 1, 128', async () => {
    const cli = await mosquitto('mosquitto_sub', [
      ...mosqBase(),
      ...asDevice(DEVICE_A),
      ...['-d', '-E', '-q', '1', '-t', cmdTopic(DEVICE_A), '-t', telemetryTopic(DEVICE_B)],
    ]);
    expect(cli.code).toBe(0);
    expect(cli.stdout).toMatch(/Subscribed \(mid: \d+\): 1, 128/);
  });

  it('when a service asks for a shared subscription or publishes telemetry, then it gets 0x80 and the publish is dropped', async () => {
    const service = keep(await serviceClient(run));
    expect(await subscribeCodes(service, ['$share/ingest/rf/v1/+/telemetry', ALL_TELEMETRY])).toEqual([
      0x80, 1,
    ]);
    const inbox = collect(service);
    await service.publishAsync(telemetryTopic(DEVICE_A), 'from-a-service', { qos: 1 });
    await sleep(200);
    expect(inbox.messages).toEqual([]);
  });

  it('when a device publishes to a topic name with a wildcard or U+0000, then its connection is closed [MQTT-3.3.2-2] [MQTT-4.7.3-2]', async () => {
    for (const topic of ['rf/v1/+/telemetry', `${telemetryTopic(DEVICE_A)}\u0000`]) {
      const raw = await rawConnect(run.ports.tcpPort);
      raw.send({
        cmd: 'connect',
        protocolId: 'MQTT',
        protocolVersion: 4,
        clientId: DEVICE_A,
        clean: true,
        keepalive: 30,
        username: DEVICE_A,
        password: Buffer.from(token(registry, DEVICE_A)),
      });
      expect(await raw.next()).toMatchObject({ cmd: 'connack', returnCode: 0 });
      raw.send({
        cmd: 'publish',
        topic,
        payload: Buffer.from('x'),
        qos: 1,
        messageId: 1,
        retain: false,
        dup: false,
      });
      expect(await raw.next()).toBeUndefined(); // closed, no PUBACK
    }
  });
});

describe('limits', () => {
  it('when a client sends a 10 MB publish, then that client is disconnected and counted, and other clients carry on', async () => {
    const service = keep(await serviceClient(run));
    const inbox = collect(service);
    await service.subscribeAsync(ALL_TELEMETRY, { qos: 1 });
    const bystander = keep(await deviceClient(run, registry, DEVICE_B));
    const offender = keep(await deviceClient(run, registry, DEVICE_A));
    const before = run.broker.counters.oversizedPackets;
    const closed = new Promise<void>((resolve) => offender.once('close', () => resolve()));

    offender.publish(telemetryTopic(DEVICE_A), Buffer.alloc(10 * 1024 * 1024, 0x61), { qos: 1 });

    await closed;
    expect(run.broker.counters.oversizedPackets).toBe(before + 1);
    await bystander.publishAsync(telemetryTopic(DEVICE_B), 'still flowing', { qos: 1 });
    expect((await inbox.next((m) => m.payload === 'still flowing')).topic).toBe(telemetryTopic(DEVICE_B));
    expect(inbox.messages.some((m) => m.payload.length > 1000)).toBe(false);
  });

  it('when a payload is exactly MQTT_MAX_PAYLOAD_BYTES, then it is delivered; one byte more and its sender is disconnected', async () => {
    const limit = 262_144; // the default
    const service = keep(await serviceClient(run));
    const inbox = collect(service);
    await service.subscribeAsync(ALL_TELEMETRY, { qos: 1 });
    const device = keep(await deviceClient(run, registry, DEVICE_A));
    const before = run.broker.counters.oversizedPackets;

    await device.publishAsync(telemetryTopic(DEVICE_A), Buffer.alloc(limit, 0x62), { qos: 1 });
    expect((await inbox.next((m) => m.payload.length === limit)).topic).toBe(telemetryTopic(DEVICE_A));

    const closed = new Promise<void>((resolve) => device.once('close', () => resolve()));
    device.publish(telemetryTopic(DEVICE_A), Buffer.alloc(limit + 1, 0x63), { qos: 1 });
    await closed;
    expect(run.broker.counters.oversizedPackets).toBe(before + 1);
    await sleep(100);
    expect(inbox.messages.some((m) => m.payload.length === limit + 1)).toBe(false);
  });

  it('when a packet header announces 10 MB, then the connection is closed before the body is sent', async () => {
    const raw = await rawConnect(run.ports.tcpPort);
    raw.send({
      cmd: 'connect',
      protocolId: 'MQTT',
      protocolVersion: 4,
      clientId: DEVICE_B,
      clean: true,
      keepalive: 30,
      username: DEVICE_B,
      password: Buffer.from(token(registry, DEVICE_B)),
    });
    expect(await raw.next()).toMatchObject({ cmd: 'connack', returnCode: 0 });
    const length = 10 * 1024 * 1024;
    // PUBLISH QoS 0, Remaining Length 10 MiB as a variable byte integer, then only a few bytes of it.
    raw.socket.write(
      Buffer.from([
        0x30,
        (length & 0x7f) | 0x80,
        ((length >> 7) & 0x7f) | 0x80,
        (length >> 14) & 0x7f,
        0,
        1,
        0x61,
      ]),
    );
    const started = Date.now();
    await raw.closed;
    expect(Date.now() - started).toBeLessThan(2_000);
  });
});

describe('presence', () => {
  const offlineWill = (id: string) => ({
    topic: statusTopic(id),
    payload: Buffer.from('offline'),
    qos: 1 as const,
    retain: true,
  });

  async function retainedStatus(id: string): Promise<string | undefined> {
    const probe = keep(await serviceClient(run, 'probe'));
    const inbox = collect(probe);
    await probe.subscribeAsync(statusTopic(id), { qos: 1 });
    await sleep(150);
    await probe.endAsync();
    return inbox.messages.find((m) => m.retain)?.payload;
  }

  it('when a device publishes retained online and its socket is then destroyed, then its will publishes retained offline', async () => {
    const watcher = keep(await serviceClient(run, 'watcher'));
    const inbox = collect(watcher);
    await watcher.subscribeAsync(statusTopic(DEVICE_A), { qos: 1 });
    const device = keep(await deviceClient(run, registry, DEVICE_A, { will: offlineWill(DEVICE_A) }));
    await device.publishAsync(statusTopic(DEVICE_A), 'online', { qos: 1, retain: true });
    await inbox.next((m) => m.payload === 'online');
    expect(await retainedStatus(DEVICE_A)).toBe('online');

    device.stream.destroy(); // no DISCONNECT: an abrupt loss

    await inbox.next((m) => m.payload === 'offline');
    expect(await retainedStatus(DEVICE_A)).toBe('offline');
    // The will said it; the broker did not say it a second time. (Retained copies replayed on subscribe
    // carry the retain flag; live deliveries do not.)
    expect(inbox.messages.filter((m) => m.payload === 'offline' && !m.retain)).toHaveLength(1);
  });

  it('when a device disconnects cleanly without saying offline, then the broker publishes retained offline for it', async () => {
    const watcher = keep(await serviceClient(run, 'watcher'));
    const inbox = collect(watcher);
    await watcher.subscribeAsync(statusTopic(DEVICE_B), { qos: 1 });
    const device = keep(await deviceClient(run, registry, DEVICE_B, { will: offlineWill(DEVICE_B) }));
    await device.publishAsync(statusTopic(DEVICE_B), 'online', { qos: 1, retain: true });
    await inbox.next((m) => m.payload === 'online');

    await device.endAsync(); // DISCONNECT: the will is discarded [MQTT-3.14.4-3]

    await inbox.next((m) => m.payload === 'offline');
    expect(await retainedStatus(DEVICE_B)).toBe('offline');
  });

  it('when a device publishes retained offline itself before a clean disconnect, then the broker does not repeat it', async () => {
    const watcher = keep(await serviceClient(run, 'watcher'));
    const inbox = collect(watcher);
    await watcher.subscribeAsync(statusTopic(DEVICE_B), { qos: 1 });
    const device = keep(await deviceClient(run, registry, DEVICE_B, { will: offlineWill(DEVICE_B) }));
    await device.publishAsync(statusTopic(DEVICE_B), 'online', { qos: 1, retain: true });
    await device.publishAsync(statusTopic(DEVICE_B), 'offline', { qos: 1, retain: true });

    await device.endAsync();
    await sleep(200);

    expect(inbox.messages.filter((m) => !m.retain).map((m) => m.payload)).toEqual(['online', 'offline']);
  });

  it('when a device reconnects while its old connection is still open, then the old one is closed and it stays online', async () => {
    const first = keep(await deviceClient(run, registry, DEVICE_A, { will: offlineWill(DEVICE_A) }));
    await first.publishAsync(statusTopic(DEVICE_A), 'online', { qos: 1, retain: true });
    const firstClosed = new Promise<void>((resolve) => first.once('close', () => resolve()));

    const second = keep(await deviceClient(run, registry, DEVICE_A, { will: offlineWill(DEVICE_A) }));
    await firstClosed; // [MQTT-3.1.4-2]
    await second.publishAsync(statusTopic(DEVICE_A), 'online', { qos: 1, retain: true });
    await sleep(100);

    expect(await retainedStatus(DEVICE_A)).toBe('online');
    expect(second.connected).toBe(true);
  });
});

describe('protocol timers', () => {
  it('when a client stops talking, then it is closed after 1.5 × its keep-alive [MQTT-3.1.2-24]', async () => {
    const raw = await rawConnect(run.ports.tcpPort);
    raw.send({
      cmd: 'connect',
      protocolId: 'MQTT',
      protocolVersion: 4,
      clientId: DEVICE_B,
      clean: true,
      keepalive: 1,
      username: DEVICE_B,
      password: Buffer.from(token(registry, DEVICE_B)),
    });
    expect(await raw.next()).toMatchObject({ cmd: 'connack', returnCode: 0 });
    const started = Date.now();
    await raw.closed;
    const elapsedMs = Date.now() - started;
    expect(elapsedMs).toBeGreaterThanOrEqual(1_400);
    expect(elapsedMs).toBeLessThan(3_000);
  });
});

describe('logging', () => {
  it('when clients log in with right and wrong secrets, then no token ever reaches the log', () => {
    const text = logs.lines.join('');
    expect(text).toContain('connection refused');
    expect(text).not.toContain(SERVICE_TOKEN);
    for (const t of registry.tokens.values()) expect(text).not.toContain(t);
  });
});
