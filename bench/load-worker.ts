import { readFileSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import mqtt, { type MqttClient } from 'mqtt';

/**
 * Load generator for bench/ingest.ts, in a worker thread so the devices do not share an event loop with
 * the broker and ingest they measure. Each device is a real MQTT.js client (its default TCP settings) that
 * publishes QoS 1 messages of one reading each, stamped with the wall clock at publish time. The bench
 * drives it phase by phase:
 * - `paced` (open loop): `ratePerS` messages a second in total, round-robin over the devices, so each
 *   device publishes every devices/ratePerS seconds whether or not earlier messages were acknowledged.
 *   Messages stamped in [windowStartMs, windowEndMs) are the measured ones (the first `warmupMs` are not).
 * - `closed` (closed loop): every device keeps `inflight` publishes outstanding, the most the system
 *   takes.
 */
export interface LoadSpec {
  readonly url: string;
  readonly devices: readonly { id: string; token: string | undefined }[];
  readonly rampMs: number;
}

export type LoadCommand =
  | {
      readonly type: 'paced';
      readonly ratePerS: number;
      readonly warmupMs: number;
      readonly durationMs: number;
    }
  | { readonly type: 'closed'; readonly inflight: number; readonly durationMs: number }
  | { readonly type: 'stop' };

export interface PhaseReport {
  readonly type: 'phase-done';
  /** Publishes stamped inside the measured window. */
  readonly publishedInWindow: number;
  readonly windowStartMs: number;
  readonly windowEndMs: number;
  /** PUBACKs received for this phase's publishes (including ones that arrive while it winds down). */
  readonly acked: number;
  readonly errors: number;
  /** CPU seconds this worker thread spent during the window (null off Linux), so the bench can leave it out. */
  readonly workerCpuS: number | null;
}

export type LoadReport =
  | { readonly type: 'connected'; readonly devices: number }
  | PhaseReport
  | { readonly type: 'stopped'; readonly errors: number };

const spec = workerData as LoadSpec;
const port = parentPort;
if (port === null) throw new Error('load-worker.ts runs as a worker thread');

/** CPU seconds (user + system) of this thread; null where /proc is not there. */
function threadCpuS(): number | null {
  try {
    const stat = readFileSync('/proc/thread-self/stat', 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return null;
  }
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

function payload(seq: number, ts: number): string {
  return JSON.stringify({
    ts,
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

interface Device {
  readonly client: MqttClient;
  readonly topic: string;
  seq: number;
}

/** Client errors, failed publishes and connections lost; a clean run has none. */
let errors = 0;
let stopping = false;

async function connectAll(): Promise<Device[]> {
  const devices: Device[] = [];
  const stepMs = spec.rampMs / Math.max(1, spec.devices.length);
  const started = Date.now();
  for (const [i, d] of spec.devices.entries()) {
    const client = mqtt.connect(spec.url, {
      clientId: d.id,
      ...(d.token === undefined ? {} : { username: d.id, password: d.token }),
      clean: true,
      reconnectPeriod: 0,
      keepalive: 60,
      protocolVersion: 4,
    });
    client.on('error', () => (errors += 1));
    client.on('close', () => {
      if (!stopping) errors += 1;
    });
    devices.push({ client, topic: `rf/v1/${d.id}/telemetry`, seq: 0 });
    // Ramp: device i starts at i × stepMs, so connections arrive evenly instead of all at once.
    const due = started + (i + 1) * stepMs - Date.now();
    if (due > 0) await sleep(due);
  }
  await Promise.all(
    devices.map(({ client }) =>
      client.connected
        ? Promise.resolve()
        : new Promise<void>((resolve, reject) => {
            client.once('connect', () => resolve());
            client.once('close', () =>
              reject(new Error(`device ${client.options.clientId} could not connect`)),
            );
          }),
    ),
  );
  return devices;
}

/** Publishes one reading; `onAck` runs on PUBACK. Returns the reading's timestamp. */
function publish(device: Device, onAck: () => void): number {
  device.seq += 1;
  const ts = Date.now();
  device.client.publish(device.topic, payload(device.seq, ts), { qos: 1 }, (err) => {
    if (err) errors += 1;
    else onAck();
  });
  return ts;
}

async function paced(
  devices: Device[],
  ratePerS: number,
  warmupMs: number,
  durationMs: number,
): Promise<PhaseReport> {
  const errorsBefore = errors;
  let acked = 0;
  let publishedInWindow = 0;
  const started = Date.now();
  const windowStartMs = started + warmupMs;
  const windowEndMs = windowStartMs + durationMs;
  let sent = 0;
  let cpuAtStart: number | null | undefined;
  await new Promise<void>((resolve) => {
    const tick = setInterval(() => {
      const now = Date.now();
      if (cpuAtStart === undefined && now >= windowStartMs) cpuAtStart = threadCpuS();
      const due = Math.floor((Math.min(now, windowEndMs) - started) * (ratePerS / 1000));
      while (sent < due) {
        const device = devices[sent % devices.length] as Device;
        const stampedMs = publish(device, () => (acked += 1));
        if (stampedMs >= windowStartMs && stampedMs < windowEndMs) publishedInWindow += 1;
        sent += 1;
      }
      if (now >= windowEndMs) {
        clearInterval(tick);
        resolve();
      }
    }, 1);
  });
  const cpuAtEnd = threadCpuS();
  return {
    type: 'phase-done',
    publishedInWindow,
    windowStartMs,
    windowEndMs,
    acked,
    errors: errors - errorsBefore,
    workerCpuS: cpuAtStart == null || cpuAtEnd === null ? null : cpuAtEnd - cpuAtStart,
  };
}

async function closed(devices: Device[], inflight: number, durationMs: number): Promise<PhaseReport> {
  const errorsBefore = errors;
  let acked = 0;
  let publishedInWindow = 0;
  let running = true;
  const windowStartMs = Date.now();
  const pump = (device: Device): void => {
    if (!running) return;
    publishedInWindow += 1;
    publish(device, () => {
      acked += 1;
      pump(device);
    });
  };
  for (const device of devices) for (let k = 0; k < inflight; k++) pump(device);
  await sleep(durationMs);
  running = false;
  return {
    type: 'phase-done',
    publishedInWindow,
    windowStartMs,
    windowEndMs: Date.now(),
    acked,
    errors: errors - errorsBefore,
    workerCpuS: null,
  };
}

async function run(): Promise<void> {
  const devices = await connectAll();
  const reply = (report: LoadReport): void => port?.postMessage(report);
  reply({ type: 'connected', devices: devices.length });
  const commands: LoadCommand[] = [];
  let wake: (() => void) | undefined;
  port?.on('message', (command: LoadCommand) => {
    commands.push(command);
    wake?.();
  });
  for (;;) {
    const command = commands.shift() ?? (await new Promise<void>((r) => (wake = r)), commands.shift());
    if (command === undefined) continue;
    if (command.type === 'paced') {
      reply(await paced(devices, command.ratePerS, command.warmupMs, command.durationMs));
    } else if (command.type === 'closed') {
      reply(await closed(devices, command.inflight, command.durationMs));
    } else {
      stopping = true;
      // endAsync(false) waits for the publishes still in flight, so the ingest's counts settle.
      await Promise.all(devices.map((d) => d.client.endAsync(false).catch(() => (errors += 1))));
      reply({ type: 'stopped', errors });
      return;
    }
  }
}

run().catch((err: unknown) => {
  port.postMessage({ type: 'failed', message: err instanceof Error ? err.message : String(err) });
});
