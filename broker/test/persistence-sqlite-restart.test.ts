import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { statusTopic, telemetryTopic } from '../../core/contracts/index.js';
import { DEVICE_A, SERVICE_TOKEN, provisionRegistry, token, type Registry } from './support.js';

/**
 * The SQLite session store across a crash of the broker process (SIGKILL: no shutdown, no flush), with real
 * MQTT clients. The store's own answers and durability are pinned by broker/test/persistence-sqlite.test.ts.
 */

const dir = mkdtempSync(join(tmpdir(), 'riskfuse-broker-restart-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;
/** A fresh database file per call. */
const freshPath = (): string => join(dir, `broker-${String(++files)}.db`);

/** A broker process (test/fixtures/run-broker-persistent.ts) that the test can kill like a crash would. */
interface BrokerProcess {
  readonly url: string;
  /** SIGKILL: no shutdown, no flush, no will published — what a crash or an OOM kill leaves behind. */
  crash(): Promise<void>;
}

const children = new Set<ChildProcess>();
afterEach(() => {
  for (const child of children) child.kill('SIGKILL');
  children.clear();
});

async function startBrokerProcess(env: Record<string, string>): Promise<BrokerProcess> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', join(import.meta.dirname, 'fixtures', 'run-broker-persistent.ts')],
    { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  children.add(child);
  const exited = once(child, 'exit');
  const tcpPort = await new Promise<number>((resolve, reject) => {
    createInterface({ input: child.stdout }).once('line', (line) => {
      resolve((JSON.parse(line) as { tcpPort: number }).tcpPort);
    });
    child.once('exit', (code) => reject(new Error(`broker exited early with ${String(code)}`)));
  });
  return {
    url: `mqtt://127.0.0.1:${String(tcpPort)}`,
    async crash() {
      child.kill('SIGKILL');
      await exited;
      children.delete(child);
    },
  };
}

/** Connects with a 'message' listener already attached, so nothing sent right after CONNACK is missed. */
async function connectCollecting(
  url: string,
  options: IClientOptions,
): Promise<{ client: MqttClient; sessionPresent: boolean; received: { topic: string; payload: string }[] }> {
  const received: { topic: string; payload: string }[] = [];
  const client = mqtt.connect(url, {
    reconnectPeriod: 0,
    connectTimeout: 5_000,
    protocolVersion: 4,
    ...options,
  });
  client.on('message', (topic, payload) => received.push({ topic, payload: payload.toString('utf8') }));
  const sessionPresent = await new Promise<boolean>((resolve, reject) => {
    client.once('connect', (connack) => resolve(connack.sessionPresent));
    client.once('error', (err) => {
      client.end(true);
      reject(err);
    });
  });
  return { client, sessionPresent, received };
}

/** Waits until `check()` holds or `ms` have passed; the assertions after it say what is missing. */
async function settle(check: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
}

describe('broker with the SQLite session store, killed and restarted', () => {
  let registry: Registry;
  beforeAll(async () => {
    registry = await provisionRegistry();
  });
  afterAll(() => registry.close());

  it('when the broker is killed right after PUBACKing N QoS 1 messages for an offline persistent session, then a new broker on the same file delivers all of them when the session returns, and the subscription and retained status survive too', async () => {
    const env = {
      MQTT_HOST: '127.0.0.1',
      MQTT_PORT: '0',
      MQTT_SERVICE_TOKEN: SERVICE_TOKEN,
      ...registry.stateEnv,
      MQTT_PERSISTENCE: 'sqlite',
      MQTT_PERSISTENCE_PATH: freshPath(),
    };
    const ingest: IClientOptions = {
      clientId: 'riskfuse-ingest-restart',
      username: 'svc:ingest',
      password: SERVICE_TOKEN,
      clean: false,
    };
    const device: IClientOptions = {
      clientId: DEVICE_A,
      username: DEVICE_A,
      password: token(registry, DEVICE_A),
    };
    const total = 500;

    // The ingest's persistent session subscribes, then goes away.
    const first = await startBrokerProcess(env);
    const subscriber = await connectCollecting(first.url, ingest);
    await subscriber.client.subscribeAsync('rf/v1/+/telemetry', { qos: 1 });
    await subscriber.client.endAsync();

    // A device publishes; every message is acknowledged; then the broker dies.
    const { client: stake } = await connectCollecting(first.url, device);
    await stake.publishAsync(statusTopic(DEVICE_A), 'online', { qos: 1, retain: true });
    await Promise.all(
      Array.from({ length: total }, (_, i) =>
        stake.publishAsync(telemetryTopic(DEVICE_A), `reading-${String(i)}`, { qos: 1 }),
      ),
    );
    await first.crash();
    stake.end(true);

    // A new broker process on the same file: the session's queue, subscription and retained status are back.
    const second = await startBrokerProcess(env);
    const { client: stakeAgain } = await connectCollecting(second.url, device);
    // Queued through the subscription the new broker loaded from the file (the session is still offline).
    await stakeAgain.publishAsync(telemetryTopic(DEVICE_A), 'after-restart', { qos: 1 });
    const back = await connectCollecting(second.url, ingest);
    expect(back.sessionPresent).toBe(true);
    const expected = [...Array.from({ length: total }, (_, i) => `reading-${String(i)}`), 'after-restart'];
    const unique = (): Set<string> => new Set(back.received.map((m) => m.payload));
    await settle(() => unique().size >= expected.length);
    expect(expected.filter((payload) => !unique().has(payload))).toEqual([]);

    const watcher = await connectCollecting(second.url, {
      clientId: 'riskfuse-api-restart',
      username: 'svc:api',
      password: SERVICE_TOKEN,
    });
    await watcher.client.subscribeAsync(statusTopic(DEVICE_A), { qos: 1 });
    await settle(() => watcher.received.length > 0);
    expect(watcher.received).toEqual([{ topic: statusTopic(DEVICE_A), payload: 'online' }]);

    await Promise.all([back.client.endAsync(), watcher.client.endAsync(), stakeAgain.endAsync()]);
    await second.crash();
  });
});
