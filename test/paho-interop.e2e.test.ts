import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, inCi } from './support/child-process.js';
import { startRedis, type RedisServer } from './support/redis.js';
import { spawnRiskfuse, type RiskfuseProcess } from './support/riskfuse-process.js';

/**
 * MQTT 3.1.1 interoperability with the Eclipse Paho client (Debian `python3-paho-mqtt`): the scenarios of
 * Paho's client_test suite, in test/interop/paho_311.py, against the broker in development (anonymous) mode —
 * (a) one `riskfuse broker` with its default SQLite session store, (b) two brokers sharing Redis
 * (MQTT_PERSISTENCE=redis), the publishing client on one, the subscribing one on the other, and persistent
 * sessions resumed on the other broker from the one they were made on.
 */
const PYTHON = '/usr/bin/python3';
const SCRIPT = fileURLToPath(new URL('./interop/paho_311.py', import.meta.url));

/** The scenarios, named after the MQTT 3.1.1 sections they check; the script must run exactly these. */
const SCENARIOS = [
  's3_3_basic_publish_subscribe_qos012',
  's3_3_1_3_retained_messages',
  's3_1_2_5_will_message',
  's3_1_3_1_zero_length_clientid',
  's3_1_2_4_offline_message_queueing',
  's3_3_5_overlapping_subscriptions',
  's3_1_2_10_keepalive',
  's4_4_redelivery_on_reconnect',
  's4_7_2_dollar_topics',
  's3_10_unsubscribe',
  's3_9_3_subscribe_failure',
] as const;

function pahoMissing(): boolean {
  try {
    execFileSync(PYTHON, ['-c', 'import paho.mqtt.client'], { stdio: 'ignore' });
    return false;
  } catch {
    if (inCi()) throw new Error('python3-paho-mqtt is required in CI (.ci/run installs it)');
    return true;
  }
}

interface Outcome {
  readonly name: string;
  readonly ok: boolean;
  readonly detail: string;
}

/** Runs every scenario (one after the other, ~25 s) and returns the outcome of each by name. */
function runPaho(addresses: string[]): Promise<Map<string, Outcome>> {
  return new Promise((resolve, reject) => {
    execFile(PYTHON, [SCRIPT, ...addresses], { timeout: 180_000 }, (err, stdout, stderr) => {
      const outcomes = new Map<string, Outcome>();
      for (const line of stdout.split('\n')) {
        if (line.trim() === '') continue;
        const o = JSON.parse(line) as Outcome;
        outcomes.set(o.name, o);
      }
      // A failing scenario exits 1 and is reported by its own test; anything else (a crash) fails them all.
      if (err && outcomes.size === 0) reject(new Error(`paho_311.py failed: ${err.message}\n${stderr}`));
      else resolve(outcomes);
    });
  });
}

function startBroker(port: number, env: Record<string, string>): RiskfuseProcess {
  return spawnRiskfuse(['broker'], {
    MQTT_HOST: '127.0.0.1',
    MQTT_PORT: String(port),
    MQTT_DEV_ANONYMOUS: 'true',
    LOG_LEVEL: 'warn',
    ...env,
  });
}

function expectPassed(outcomes: () => Map<string, Outcome>, name: string): void {
  const o = outcomes().get(name);
  expect(o, `scenario ${name} did not run`).toBeDefined();
  expect(o?.ok, o?.detail).toBe(true);
}

const skip = pahoMissing();

describe.skipIf(skip)('Paho MQTT 3.1.1 interoperability', () => {
  it('when the script lists its scenarios, then they are exactly the ones checked here', () => {
    const listed = execFileSync(PYTHON, [SCRIPT, '--list'], { encoding: 'utf8' }).trim().split('\n');
    expect(listed).toEqual([...SCENARIOS]);
  });

  describe('against one broker (SQLite sessions)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'rf-paho-one-'));
    let broker: RiskfuseProcess | undefined;
    let outcomes = new Map<string, Outcome>();
    beforeAll(async () => {
      const port = await freePort();
      broker = startBroker(port, { DATA_DIR: dir });
      await broker.waitFor(/MQTT broker listening/, 90_000);
      outcomes = await runPaho([`127.0.0.1:${port}`]);
    }, 300_000);
    afterAll(async () => {
      await broker?.kill('SIGTERM');
      rmSync(dir, { recursive: true, force: true });
    });
    it.each(SCENARIOS)('when Paho runs %s against it, then the broker passes', (name) =>
      expectPassed(() => outcomes, name),
    );
  });

  describe('against two brokers sharing Redis, publisher and subscriber on different brokers', () => {
    const dirs = [0, 1].map((i) => mkdtempSync(join(tmpdir(), `rf-paho-cluster-${i}-`)));
    let redis: RedisServer | undefined;
    const brokers: RiskfuseProcess[] = [];
    let outcomes = new Map<string, Outcome>();
    beforeAll(async () => {
      redis = await startRedis();
      const ports = [await freePort(), await freePort()];
      for (const i of [0, 1]) {
        brokers.push(
          startBroker(ports[i] ?? 0, {
            DATA_DIR: dirs[i] ?? '',
            MQTT_PERSISTENCE: 'redis',
            MQTT_REDIS_URL: redis.url,
            MQTT_HEARTBEAT_INTERVAL_MS: '500',
          }),
        );
      }
      await Promise.all(brokers.map((b) => b.waitFor(/MQTT broker listening/, 90_000)));
      outcomes = await runPaho(ports.map((p) => `127.0.0.1:${p}`));
    }, 300_000);
    afterAll(async () => {
      await Promise.all(brokers.map((b) => b.kill('SIGTERM')));
      await redis?.stop();
      for (const d of dirs) rmSync(d, { recursive: true, force: true });
    });
    it.each(SCENARIOS)('when Paho runs %s across the two brokers, then the cluster passes', (name) =>
      expectPassed(() => outcomes, name),
    );
  });
});
