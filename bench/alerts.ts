/**
 * `npm run bench:alerts` — what the rule engine costs beside the ingest, and reading-to-event latency.
 *
 * A simulated world of BENCH_BORROWERS (100) borrowers, BENCH_DAYS (3) days of every device's readings (with a
 * removal, a tamper and a geofence scenario so rules fire), as MQTT payloads into the real ingest pipeline
 * (validation, SQLite telemetry store, acks), in one process:
 * 1. Throughput: the pipeline without rules, then with every built-in rule on (onStored → engine), readings/s
 *    and the ratio; and the engine's own time per reading against the pipeline's (its share of ingest cost).
 * 2. Latency at a steady load of BENCH_RATE (2,000) readings/s with rules on: from `accept` of a reading that
 *    opens an alert (a tamper switch) to its `alert.opened` committed to the outbox, p50/p99; and on to the
 *    signed webhook arriving at a receiver on 127.0.0.1 (the webhook deliverer with its default settings,
 *    loopback allowed), p50/p99.
 * Ends with one JSON line.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createAlerts, type AlertsComponent } from '../alerts/index.js';
import { silentLogger } from '../core/logger.js';
import { openSqliteState } from '../core/state/index.js';
import { openSqliteTelemetryStore } from '../core/storage/sqlite-telemetry-store.js';
import { IngestPipeline } from '../ingest/pipeline.js';
import { createWebhooks, newWebhookSecret, webhookConfigSpec } from '../webhooks/index.js';
import { parseConfig } from '../core/config.js';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createEngine, generateWorld, parseScenario, provisionWorld } from '../simulators/index.js';

const envInt = (name: string, fallback: number): number => {
  const v = Number(process.env[name] ?? fallback);
  if (!Number.isSafeInteger(v) || v <= 0) throw new Error(`${name} must be a positive integer`);
  return v;
};
const BORROWERS = envInt('BENCH_BORROWERS', 100);
const DAYS = envInt('BENCH_DAYS', 3);
const RATE = envInt('BENCH_RATE', 2_000);
const DAY = 86_400_000;

const startMs = Math.floor((Date.now() - (DAYS + 1) * DAY) / DAY) * DAY;
const world = generateWorld({
  seed: 11,
  borrowers: BORROWERS,
  startMs,
  scenarios: ['removal:b0002:1', 'tamper:b0003:1', 'moved:b0004:1'].map(parseScenario),
});
const messages: { topic: string; payload: Buffer }[] = [];
{
  const engine = createEngine(world);
  for (const g of engine.readings(startMs, startMs + DAYS * DAY)) {
    messages.push({
      topic: `rf/v1/${world.devices[g.deviceIndex]?.id ?? ''}/telemetry`,
      payload: Buffer.from(JSON.stringify(g.payload)),
    });
  }
}
process.stderr.write(`${messages.length} readings of ${world.devices.length} devices, ${DAYS} days\n`);

async function run(
  withRules: boolean,
): Promise<{ perS: number; ms: number; alerts?: AlertsComponent; cleanup: () => Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'rf-bench-alerts-'));
  const state = openSqliteState(join(dir, 'state.db'));
  const telemetry = openSqliteTelemetryStore(join(dir, 'telemetry.db'));
  await provisionWorld(world, state);
  const alerts = withRules
    ? await createAlerts({
        state,
        log: silentLogger,
        config: { alertSilenceCheckIntervalMs: 0, alertStreamHeartbeatMs: 15_000, alertStreamPollMs: 500 },
      })
    : undefined;
  const pipeline = new IngestPipeline({
    telemetry,
    state,
    log: silentLogger,
    batchMaxReadings: 1000,
    flushIntervalMs: 20,
    maxBufferedReadings: 10_000_000,
    writeConcurrency: 1,
    maxFutureSkewMs: 300_000,
    maxPayloadBytes: 65_536,
    registryCacheMs: 60_000,
    retryMinMs: 5,
    retryMaxMs: 100,
    ...(alerts === undefined ? {} : { onStored: (rs) => alerts.engine.onReadings(rs) }),
  });
  const t0 = performance.now();
  let acked = 0;
  for (const m of messages) pipeline.accept(m.topic, m.payload, () => acked++);
  await pipeline.stop(600_000);
  const ms = performance.now() - t0;
  if (acked !== messages.length) throw new Error(`acked ${acked} of ${messages.length}`);
  return {
    perS: (messages.length * 1000) / ms,
    ms,
    ...(alerts === undefined ? {} : { alerts }),
    cleanup: async () => {
      await alerts?.close();
      await telemetry.close();
      await state.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

const base = await run(false);
await base.cleanup();
const rules = await run(true);
const engineMsPerReading = (rules.alerts?.engine.counters.evalMs ?? 0) / messages.length;
const ingestMsPerReading = base.ms / messages.length;
const opened = rules.alerts?.service.counters.opened ?? 0;
await rules.cleanup();
process.stderr.write(
  `ingest without rules ${Math.round(base.perS)} readings/s; with all rules ${Math.round(rules.perS)} readings/s (ratio ${(rules.perS / base.perS).toFixed(3)}); engine ${(engineMsPerReading * 1000).toFixed(2)} µs/reading = ${((100 * engineMsPerReading) / ingestMsPerReading).toFixed(1)} % of the ingest's ${(ingestMsPerReading * 1000).toFixed(1)} µs; ${opened} alerts opened\n`,
);

// Latency at a steady load: readings at RATE/s, every 200th a tamper from a stake cycling through the world.
const dir = mkdtempSync(join(tmpdir(), 'rf-bench-alerts-lat-'));
const state = openSqliteState(join(dir, 'state.db'));
const telemetry = openSqliteTelemetryStore(join(dir, 'telemetry.db'));
await provisionWorld(world, state);
const alerts = await createAlerts({
  state,
  log: silentLogger,
  config: { alertSilenceCheckIntervalMs: 0, alertStreamHeartbeatMs: 15_000, alertStreamPollMs: 500 },
});
const probes = new Map<string, number>();
const latencies: number[] = [];
// The webhook leg: a subscription to alert.opened and a receiver noting when each tamper alert arrives.
const webhookLatencies: number[] = [];
const receiver = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const at = performance.now();
    const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
      data: { alert?: { ruleId: string; subjectId: string; evidence?: { reading?: { seq?: number } } } };
    };
    // Only the alerts our probe readings opened (the world's own tamper scenario opens others).
    const a = body.data.alert;
    const seqOf = a?.evidence?.reading?.seq;
    const t =
      a?.ruleId === 'tamper' && seqOf !== undefined ? probes.get(`${a.subjectId}:${seqOf}`) : undefined;
    if (t !== undefined) webhookLatencies.push(at - t);
    res.writeHead(204).end();
  });
});
await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
const webhooks = createWebhooks({
  config: parseConfig(webhookConfigSpec, { WEBHOOK_ALLOW_LOOPBACK: 'true' }),
  state,
  log: silentLogger,
  onAttempt: (job, attempt) => {
    if (process.env.BENCH_DEBUG !== undefined) process.stderr.write(`${JSON.stringify({ job, attempt })}\n`);
  },
});
await webhooks.store.createSubscription(
  {
    url: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`,
    eventTypes: ['alert.opened'],
    enabled: true,
  },
  newWebhookSecret(),
);
webhooks.deliverer?.start();
const pipeline = new IngestPipeline({
  telemetry,
  state,
  log: silentLogger,
  batchMaxReadings: 1000,
  flushIntervalMs: 20,
  maxBufferedReadings: 1_000_000,
  writeConcurrency: 1,
  maxFutureSkewMs: 300_000,
  maxPayloadBytes: 65_536,
  registryCacheMs: 60_000,
  retryMinMs: 5,
  retryMaxMs: 100,
  onStored: async (rs) => {
    const before = alerts.service.counters.opened;
    await alerts.engine.onReadings(rs);
    // Once onReadings resolves, the alert and its outbox event are committed.
    const done = performance.now();
    if (alerts.service.counters.opened === before) return;
    for (const r of rs) {
      const t = probes.get(`${r.deviceId}:${r.seq}`);
      if (t !== undefined && alerts.service.activeAlert('tamper', 'device', r.deviceId) !== undefined)
        latencies.push(done - t);
    }
  },
});
const stakes = world.devices.filter((d) => d.kind === 'stake').map((d) => d.id);
const seconds = 10;
const total = RATE * seconds;
let sent = 0;
let seq = 10_000_000;
const tStart = performance.now();
await new Promise<void>((resolve) => {
  const tick = setInterval(() => {
    const due = Math.min(total, Math.round(((performance.now() - tStart) * RATE) / 1000));
    for (; sent < due; sent++) {
      const m = messages[sent % messages.length] as { topic: string; payload: Buffer };
      if (sent % 200 === 0) {
        const id = stakes[(sent / 200) % stakes.length] ?? '';
        const s = seq++;
        probes.set(`${id}:${s}`, performance.now());
        const payload = {
          ts: Date.now(),
          seq: s,
          weightKg: 1000,
          itemCount: 10,
          lat: 0,
          lon: 0,
          tamper: true,
          temperatureC: 20,
          humidityPct: 50,
          batteryPct: 90,
        };
        pipeline.accept(`rf/v1/${id}/telemetry`, Buffer.from(JSON.stringify(payload)), () => undefined);
      } else pipeline.accept(m.topic, m.payload, () => undefined);
    }
    if (sent >= total) {
      clearInterval(tick);
      resolve();
    }
  }, 5);
});
await pipeline.stop(60_000);
// Let the deliverer post what the last readings opened.
for (let waited = 0; webhookLatencies.length < latencies.length && waited < 10_000; waited += 50) {
  await new Promise((resolve) => setTimeout(resolve, 50));
}
await webhooks.deliverer?.close();
await new Promise<void>((resolve) => receiver.close(() => resolve()));
await alerts.close();
await telemetry.close();
await state.close();
rmSync(dir, { recursive: true, force: true });
latencies.sort((a, b) => a - b);
webhookLatencies.sort((a, b) => a - b);
const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? NaN;
const wpct = (p: number) =>
  webhookLatencies[Math.min(webhookLatencies.length - 1, Math.floor(p * webhookLatencies.length))] ?? NaN;
process.stderr.write(
  `reading → alert.opened in the outbox at ${RATE} readings/s: p50 ${pct(0.5).toFixed(1)} ms, p99 ${pct(0.99).toFixed(1)} ms over ${latencies.length} alerts\n`,
);
process.stderr.write(
  `reading → signed webhook at the receiver: p50 ${wpct(0.5).toFixed(1)} ms, p99 ${wpct(0.99).toFixed(1)} ms over ${webhookLatencies.length} deliveries\n`,
);
console.log(
  JSON.stringify({
    bench: 'alerts',
    readings: messages.length,
    ingestPerS: Math.round(base.perS),
    ingestWithRulesPerS: Math.round(rules.perS),
    ratio: Number((rules.perS / base.perS).toFixed(3)),
    engineUsPerReading: Number((engineMsPerReading * 1000).toFixed(2)),
    ingestUsPerReading: Number((ingestMsPerReading * 1000).toFixed(1)),
    engineSharePct: Number(((100 * engineMsPerReading) / ingestMsPerReading).toFixed(1)),
    alertsOpened: opened,
    steadyRatePerS: RATE,
    latencyP50Ms: Number(pct(0.5).toFixed(1)),
    latencyP99Ms: Number(pct(0.99).toFixed(1)),
    latencySamples: latencies.length,
    webhookP50Ms: Number(wpct(0.5).toFixed(1)),
    webhookP99Ms: Number(wpct(0.99).toFixed(1)),
    webhookSamples: webhookLatencies.length,
    peakRssMb: Math.round(process.memoryUsage().rss / 1048576),
  }),
);
