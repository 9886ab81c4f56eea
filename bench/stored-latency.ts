/**
 * Publish → stored latency, as a risk officer sees it: from a device's PUBLISH to the reading being readable
 * in the telemetry store (not only PUBACKed). Probe devices (real MQTT.js clients, QoS 1) publish one reading
 * every `intervalMs` next to whatever load runs; the store is polled every `pollMs` for each probe's latest
 * reading, and a reading counts as stored at the first poll that returns it or a later one of its device
 * (device time is base + seq, so `latest` is the highest seq stored). Resolution: one poll interval plus the
 * query's own time. Used by bench/cluster.ts and bench/connections.ts.
 */
import { readFileSync } from 'node:fs';
import mqtt, { type MqttClient } from 'mqtt';
import { telemetryTopic } from '../core/contracts/index.js';
import type { TelemetryStore } from '../core/storage/telemetry-store.js';

export interface StoredProbeOptions {
  readonly store: TelemetryStore;
  readonly mqttUrl: string;
  /** deviceId → token of registered devices used only as probes. */
  readonly probes: ReadonlyMap<string, string>;
  readonly intervalMs: number;
  readonly pollMs: number;
  /** Device time of seq 0; later than any earlier run's readings of the same devices. */
  readonly baseMs: number;
}

export interface StoredProbe {
  /** Starts recording latencies (readings published before are not counted). */
  measure(): void;
  /**
   * Stops publishing, waits (up to `drainMs`) for what is in flight to be stored; the latencies in ms.
   * Readings still not stored then are counted in `notStored`: left out, they would make the quantiles look
   * better the further the store lags.
   */
  stop(drainMs?: number): Promise<number[]>;
  /** Readings published while measuring that were not stored by the end of `stop`'s drain. */
  readonly notStored: () => number;
}

export async function startStoredProbe(o: StoredProbeOptions): Promise<StoredProbe> {
  const clients = await Promise.all(
    [...o.probes].map(([id, token]) =>
      mqtt.connectAsync(o.mqttUrl, { clientId: id, username: id, password: token, clean: true }),
    ),
  );
  const ids = [...o.probes.keys()];
  /** Per device: seq → publish time (performance.now()) of readings not seen stored yet. */
  const pending = new Map<string, Map<number, number>>(ids.map((id) => [id, new Map()]));
  const latencies: number[] = [];
  let measuring = false;
  let running = true;
  let seq = 0;
  let notStored = 0;
  const publishTimer = setInterval(() => {
    seq += 1;
    const s = seq;
    clients.forEach((client: MqttClient, i) => {
      const id = ids[i] as string;
      const payload = stakePayload(o.baseMs + s, s);
      pending.get(id)?.set(s, performance.now());
      client.publish(telemetryTopic(id), payload, { qos: 1 });
    });
  }, o.intervalMs);
  const poll = async (): Promise<void> => {
    const latest = await o.store.latest({ deviceIds: ids });
    const now = performance.now();
    for (const r of latest) {
      const open = pending.get(r.deviceId);
      if (open === undefined) continue;
      for (const [s, t0] of open) {
        if (s > r.seq) continue;
        if (measuring) latencies.push(now - t0);
        open.delete(s);
      }
    }
  };
  const polling = (async () => {
    while (running || [...pending.values()].some((m) => m.size > 0)) {
      await poll();
      await new Promise((r) => setTimeout(r, o.pollMs));
    }
  })();
  return {
    measure: () => {
      // Readings published before the window are drained without being counted.
      for (const open of pending.values()) open.clear();
      measuring = true;
    },
    async stop(drainMs = 30_000) {
      clearInterval(publishTimer);
      const deadline = setTimeout(() => {
        for (const open of pending.values()) {
          if (measuring) notStored += open.size;
          open.clear();
        }
      }, drainMs);
      running = false;
      await polling;
      clearTimeout(deadline);
      // Forced: a probe whose PUBACK is still outstanding would otherwise hold the bench (MQTT.js end() waits
      // for every in-flight message).
      await Promise.all(clients.map((c) => c.endAsync(true)));
      return latencies.sort((a, b) => a - b);
    },
    notStored: () => notStored,
  };
}

/** A valid stake reading (core/contracts) at device time `ts`, the payload every bench device publishes. */
export function stakePayload(ts: number, seq: number): string {
  return JSON.stringify({
    ts,
    seq,
    weightKg: 5000,
    itemCount: 100,
    lat: 1,
    lon: 2,
    tamper: false,
    temperatureC: 20,
    humidityPct: 50,
    batteryPct: 80,
  });
}

/** The q-quantile (0..1) of ascending `sorted`, rounded to 0.1 ms; NaN when empty. */
export function quantileMs(sorted: readonly number[], q: number): number {
  const v = sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * q))];
  return v === undefined ? NaN : Math.round(v * 10) / 10;
}

/** Resident set size of a process in bytes, from /proc/<pid>/status (VmRSS). */
export function rssBytes(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : NaN;
}
