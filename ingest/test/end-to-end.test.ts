import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBroker, type RiskfuseBroker } from '../../broker/index.js';
import { parseConfig } from '../../core/config.js';
import { telemetryTopic } from '../../core/contracts/index.js';
import { issueToken } from '../../core/credentials.js';
import { silentLogger } from '../../core/logger.js';
import type { State } from '../../core/state/index.js';
import { openTelemetryStore } from '../../core/storage/open-telemetry-store.js';
import { telemetryConfigSpec } from '../../core/storage/telemetry-config.js';
import type { TelemetryStore } from '../../core/storage/telemetry-store.js';
import { brokerConfigSpec } from '../../broker/config.js';
import { requireInfluxOrSkip, startInfluxd, type Influxd } from '../../test/support/influxd.js';
import { provisionStakes } from '../../test/support/provision.js';
import { spawnRiskfuse, type RiskfuseProcess } from '../../test/support/riskfuse-process.js';
import { openSharedTestState } from '../../test/support/shared-state.js';

/**
 * Everything the devices published and the broker acknowledged is stored exactly once — through a real
 * broker, a real ingest process and a real store — even when the ingest is SIGKILLed mid-stream and when
 * influxd is away for 10 s.
 */
const DEVICES = 20;
const READINGS_PER_DEVICE = 300;
const SERVICE_TOKEN = issueToken();

interface World {
  dir: string;
  state: State;
  /** Points the ingest process at the same state. */
  stateEnv: Readonly<Record<string, string>>;
  broker: RiskfuseBroker;
  mqttUrl: string;
  tokens: Map<string, string>;
}

async function startWorld(): Promise<World> {
  const dir = mkdtempSync(join(tmpdir(), 'rf-e2e-'));
  const { state, env: stateEnv } = await openSharedTestState(dir);
  const tokens = await provisionStakes(
    state,
    Array.from({ length: DEVICES }, (_, i) => `stk-e2e-${String(i).padStart(3, '0')}`),
  );
  const config = parseConfig(brokerConfigSpec, {
    MQTT_PORT: '0',
    MQTT_HOST: '127.0.0.1',
    MQTT_SERVICE_TOKEN: SERVICE_TOKEN,
  });
  const broker = createBroker({ config, registry: state.devices, log: silentLogger });
  const ports = await broker.listen();
  return { dir, state, stateEnv, broker, mqttUrl: `mqtt://127.0.0.1:${ports.tcpPort}`, tokens };
}

/** Each device publishes its readings at QoS 1; resolves with the (device, seq) pairs the broker acked. */
async function publishAll(world: World, spreadMs: number): Promise<Set<string>> {
  const acked = new Set<string>();
  const base = Date.now() - 3_600_000;
  await Promise.all(
    [...world.tokens].map(async ([id, token]) => {
      const client = await mqtt.connectAsync(world.mqttUrl, {
        clientId: id,
        username: id,
        password: token,
        clean: true,
      });
      for (let seq = 1; seq <= READINGS_PER_DEVICE; seq++) {
        const payload = {
          ts: base + seq * 1000,
          seq,
          weightKg: 5000 - seq,
          itemCount: 100,
          lat: 1,
          lon: 2,
          tamper: false,
          temperatureC: 20,
          humidityPct: 50,
          batteryPct: 80,
        };
        await client.publishAsync(telemetryTopic(id), JSON.stringify(payload), { qos: 1 });
        acked.add(`${id}/${seq}`);
        await new Promise((r) => setTimeout(r, spreadMs / READINGS_PER_DEVICE));
      }
      await client.endAsync();
    }),
  );
  return acked;
}

async function waitForCount(store: TelemetryStore, expected: number, timeoutMs: number): Promise<number> {
  const end = Date.now() + timeoutMs;
  let n = 0;
  while (Date.now() < end) {
    try {
      n = await store.count({});
    } catch {
      n = -1;
    }
    if (n >= expected) return n;
    await new Promise((r) => setTimeout(r, 250));
  }
  return n;
}

async function storedKeys(store: TelemetryStore, deviceIds: string[]): Promise<string[]> {
  const keys: string[] = [];
  for (const id of deviceIds) {
    const rows = await store.range({ deviceIds: [id], fromMs: 0, toMs: Date.now() + 1, limit: 10_000 });
    keys.push(...rows.map((r) => `${r.deviceId}/${r.seq}`));
  }
  return keys;
}

function ingestEnv(world: World, extra: Record<string, string>): Record<string, string> {
  return {
    DATA_DIR: world.dir,
    ...world.stateEnv,
    MQTT_URL: world.mqttUrl,
    MQTT_SERVICE_TOKEN: SERVICE_TOKEN,
    INGEST_CLIENT_ID: 'ingest-e2e',
    // Long flushes keep up to a second of messages buffered, so the SIGKILL always lands on unstored data.
    INGEST_FLUSH_INTERVAL_MS: '1000',
    INGEST_BATCH_MAX_READINGS: '100000',
    LOG_LEVEL: 'info',
    ...extra,
  };
}

async function runScenario(
  world: World,
  env: Record<string, string>,
  store: TelemetryStore,
  disrupt: (restartIngest: () => Promise<void>) => Promise<void>,
): Promise<{ acked: Set<string>; stored: string[] }> {
  let ingest: RiskfuseProcess = spawnRiskfuse(['ingest'], env);
  try {
    await ingest.waitFor(/"msg":"subscribed"/);
    const publishing = publishAll(world, 8_000);
    await disrupt(async () => {
      await ingest.kill('SIGKILL');
      ingest = spawnRiskfuse(['ingest'], env);
      await ingest.waitFor(/"msg":"subscribed"/);
    });
    const acked = await publishing;
    await waitForCount(store, acked.size, 60_000);
    const stored = await storedKeys(store, [...world.tokens.keys()]);
    return { acked, stored };
  } finally {
    await ingest.kill('SIGTERM');
  }
}

describe('end to end: devices → broker → ingest → SQLite', () => {
  let world: World;
  beforeAll(async () => {
    world = await startWorld();
  });
  afterAll(async () => {
    await world.broker.close();
    await world.state.close();
    rmSync(world.dir, { recursive: true, force: true });
  });

  it('when the ingest is SIGKILLed mid-stream and restarted, then every acknowledged reading is stored exactly once', async () => {
    const env = ingestEnv(world, {});
    const store = await openTelemetryStore(
      parseConfig(telemetryConfigSpec, { DATA_DIR: world.dir }),
      silentLogger,
    );
    try {
      const { acked, stored } = await runScenario(world, env, store, async (restart) => {
        await new Promise((r) => setTimeout(r, 2_500));
        await restart();
      });
      expect(acked.size).toBe(DEVICES * READINGS_PER_DEVICE);
      expect(stored.length).toBe(acked.size);
      expect(new Set(stored)).toEqual(acked);
    } finally {
      await store.close();
    }
  });
});

describe.skipIf(requireInfluxOrSkip())('end to end: devices → broker → ingest → InfluxDB', () => {
  let world: World;
  let influxd: Influxd;
  beforeAll(async () => {
    influxd = await startInfluxd();
    world = await startWorld();
  });
  afterAll(async () => {
    await world?.broker.close();
    await world?.state.close();
    if (world) rmSync(world.dir, { recursive: true, force: true });
    await influxd?.stop();
  });

  const influxEnv = (db: string) => ({
    INFLUX_URL: influxd.url,
    INFLUX_DATABASE: db,
    INFLUX_TIMEOUT_MS: '2000',
  });

  it('when the ingest is SIGKILLed mid-stream and restarted, then every acknowledged reading is stored exactly once', async () => {
    const env = ingestEnv(world, { ...influxEnv('e2e_kill'), INGEST_CLIENT_ID: 'ingest-kill' });
    const store = await openTelemetryStore(
      parseConfig(telemetryConfigSpec, influxEnv('e2e_kill')),
      silentLogger,
    );
    const { acked, stored } = await runScenario(world, env, store, async (restart) => {
      await new Promise((r) => setTimeout(r, 2_500));
      await restart();
    });
    expect(stored.length).toBe(acked.size);
    expect(new Set(stored)).toEqual(acked);
    await store.close();
  });

  it('when influxd is stopped for 10 s mid-stream and restarted, then every acknowledged reading is stored exactly once', async () => {
    const env = ingestEnv(world, { ...influxEnv('e2e_outage'), INGEST_CLIENT_ID: 'ingest-outage' });
    const store = await openTelemetryStore(
      parseConfig(telemetryConfigSpec, influxEnv('e2e_outage')),
      silentLogger,
    );
    const { acked, stored } = await runScenario(world, env, store, async () => {
      await new Promise((r) => setTimeout(r, 1_500));
      await influxd.stopFor(10_000);
    });
    expect(stored.length).toBe(acked.size);
    expect(new Set(stored)).toEqual(acked);
    await store.close();
  });
});
