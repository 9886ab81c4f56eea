import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { devicePartition, partitionClientId, telemetryTopic } from '../../core/contracts/index.js';
import {
  DEVICE_A,
  DEVICE_B,
  deviceClient,
  provisionRegistry,
  serviceClient,
  startBroker,
  type Registry,
  type Running,
} from './support.js';

/** The smallest partition count that puts the two test devices in different partitions. */
function splitting(): number {
  for (let n = 2; n < 64; n++) if (devicePartition(DEVICE_A, n) !== devicePartition(DEVICE_B, n)) return n;
  throw new Error('no partition count separates the test devices');
}

describe('ingest partition sessions', () => {
  let registry: Registry;
  let run: Running;
  const n = splitting();
  const sessionOf = (deviceId: string) => partitionClientId('ingest', devicePartition(deviceId, n), n);

  beforeAll(async () => {
    registry = await provisionRegistry();
    run = await startBroker(registry);
  });
  afterAll(async () => {
    await run.broker.close();
    await registry.close();
  });

  async function partition(clientId: string): Promise<{ client: MqttClient; topics: string[] }> {
    const topics: string[] = [];
    const client = await serviceClient(run, 'ingest', { clientId, clean: false });
    client.on('message', (topic) => topics.push(topic));
    await client.subscribeAsync('rf/v1/+/telemetry', { qos: 1 });
    return { client, topics };
  }

  async function publishFromBoth(seq: number): Promise<void> {
    for (const id of [DEVICE_A, DEVICE_B]) {
      const device = await deviceClient(run, registry, id);
      await device.publishAsync(telemetryTopic(id), JSON.stringify({ ts: Date.now(), seq }), { qos: 1 });
      await device.endAsync();
    }
  }

  it('when devices of two partitions publish, then each partition session receives only its own devices', async () => {
    const a = await partition(sessionOf(DEVICE_A));
    const b = await partition(sessionOf(DEVICE_B));
    await publishFromBoth(1);
    await expect.poll(() => a.topics.length + b.topics.length).toBe(2);
    expect(a.topics).toEqual([telemetryTopic(DEVICE_A)]);
    expect(b.topics).toEqual([telemetryTopic(DEVICE_B)]);
    await a.client.endAsync();
    await b.client.endAsync();
  });

  it('when a partition session is offline, then only its own devices are queued for it and delivered on reconnect', async () => {
    const b = await partition(sessionOf(DEVICE_B));
    await b.client.endAsync();
    await publishFromBoth(2);
    const again = await partition(sessionOf(DEVICE_B));
    await expect.poll(() => again.topics.length).toBeGreaterThanOrEqual(1);
    await new Promise((r) => setTimeout(r, 300));
    expect(again.topics).toEqual([telemetryTopic(DEVICE_B)]);
    await again.client.endAsync();
  });

  it('when an ordinary session subscribes, then it still receives every device', async () => {
    const all = await partition('riskfuse-ingest');
    await publishFromBoth(3);
    await expect
      .poll(() => [...all.topics].sort())
      .toEqual([telemetryTopic(DEVICE_A), telemetryTopic(DEVICE_B)].sort());
    await all.client.endAsync();
  });
});
