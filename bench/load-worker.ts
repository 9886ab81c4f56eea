import { parentPort, workerData } from 'node:worker_threads';
import mqtt, { type MqttClient } from 'mqtt';

/**
 * Load generator for bench/ingest.ts, in a worker thread so the devices do not share an event loop with
 * the broker and ingest they measure. Each device is a real MQTT.js client that keeps `inflight` QoS 1
 * publishes outstanding (closed loop), each one reading stamped with the wall clock at publish time.
 */
export interface LoadSpec {
  readonly url: string;
  readonly devices: readonly { id: string; token: string | undefined }[];
  readonly durationMs: number;
  readonly inflight: number;
  readonly rampMs: number;
}

const spec = workerData as LoadSpec;

function payload(seq: number): string {
  return JSON.stringify({
    ts: Date.now(),
    seq,
    weightKg: 20_000 - (seq % 100),
    itemCount: 400,
    lat: 31.23,
    lon: 121.47,
    tamper: false,
    temperatureC: 18.5,
    humidityPct: 52,
    batteryPct: 90,
  });
}

async function run(): Promise<void> {
  const clients: MqttClient[] = [];
  let published = 0;
  let acked = 0;
  let errors = 0;
  let running = true;
  const stepMs = spec.rampMs / Math.max(1, spec.devices.length);
  for (const d of spec.devices) {
    const client = mqtt.connect(spec.url, {
      clientId: d.id,
      ...(d.token === undefined ? {} : { username: d.id, password: d.token }),
      clean: true,
      reconnectPeriod: 0,
      keepalive: 60,
      protocolVersion: 4,
    });
    client.on('error', () => (errors += 1));
    clients.push(client);
    await new Promise((r) => setTimeout(r, stepMs));
  }
  await Promise.all(
    clients.map((c) => (c.connected ? Promise.resolve() : new Promise((r) => c.once('connect', r)))),
  );
  parentPort?.postMessage({ type: 'connected' });
  const started = Date.now();
  const seqs = new Map<MqttClient, number>();
  const pump = (client: MqttClient, topic: string) => {
    if (!running) return;
    const seq = (seqs.get(client) ?? 0) + 1;
    seqs.set(client, seq);
    published += 1;
    client.publish(topic, payload(seq), { qos: 1 }, (err) => {
      if (err) errors += 1;
      else acked += 1;
      pump(client, topic);
    });
  };
  clients.forEach((c, i) => {
    const topic = `rf/v1/${spec.devices[i]?.id}/telemetry`;
    for (let k = 0; k < spec.inflight; k++) pump(c, topic);
  });
  await new Promise((r) => setTimeout(r, spec.durationMs));
  running = false;
  const elapsedMs = Date.now() - started;
  await Promise.all(clients.map((c) => c.endAsync(false).catch(() => undefined)));
  parentPort?.postMessage({ type: 'done', published, acked, errors, elapsedMs });
}

void run();
