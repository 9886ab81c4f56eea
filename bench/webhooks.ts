/**
 * `npm run bench:webhooks` — webhook delivery through the whole path (event appended to the outbox in a state
 * store transaction → dispatcher → delivery row → worker → signed POST → receiver on 127.0.0.1), beside a bare
 * HTTP POST loop to the same receiver with the same concurrency and a fresh connection per request (as the
 * deliverer makes them) in the same run, as a ratio.
 *
 * 1. Latency: BENCH_RATE events/s for BENCH_DURATION_MS to one subscription; outbox-append → received,
 *    p50/p99. Polling at WEBHOOK_POLL_INTERVAL_MS (the production default, 100 ms, unless set).
 * 2. Throughput: BENCH_BURST events appended at once; deliveries/s until the receiver has them all.
 * 3. Baseline: the same number of bare POSTs with WEBHOOK_CONCURRENCY_PER_SUBSCRIPTION in flight.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig } from '../core/config.js';
import { newEventId } from '../core/contracts/events.js';
import { silentLogger } from '../core/logger.js';
import { openSqliteState } from '../core/state/index.js';
import { createWebhooks, newWebhookSecret, webhookConfigSpec } from '../webhooks/index.js';
import { envInt, runBench } from './support.js';

const RATE = envInt('BENCH_RATE', 200);
const DURATION_MS = envInt('BENCH_DURATION_MS', 10_000);
const BURST = envInt('BENCH_BURST', 5000);

const pct = (sorted: number[], p: number): number =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function main(): Promise<void> {
  const arrived = new Map<string, number>();
  let bare = 0;
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const id = req.headers['webhook-id'];
      if (typeof id === 'string') arrived.set(id, performance.now());
      else bare += 1;
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;

  const dir = mkdtempSync(join(tmpdir(), 'rf-bench-wh-'));
  const state = openSqliteState(join(dir, 'state.db'));
  const config = parseConfig(webhookConfigSpec, { ...process.env, WEBHOOK_ALLOW_LOOPBACK: 'true' });
  const webhooks = createWebhooks({ config, state, log: silentLogger });
  await webhooks.store.createSubscription({ url, eventTypes: ['*'], enabled: true }, newWebhookSecret());
  webhooks.deliverer?.start();
  const append = async (n: number): Promise<Map<string, number>> => {
    const sent = new Map<string, number>();
    const events = Array.from({ length: n }, (_, i) => ({
      id: newEventId(),
      type: 'score.changed' as const,
      occurredAt: Date.now(),
      data: { borrowerId: `b${i}`, pd: 0.05, grade: 'C' },
    }));
    const t = performance.now();
    await state.transaction(() => state.outbox.append(events));
    for (const e of events) sent.set(e.id, t);
    return sent;
  };
  const waitAll = async (ids: Iterable<string>, timeoutMs: number) => {
    const list = [...ids];
    const start = Date.now();
    while (list.some((id) => !arrived.has(id))) {
      if (Date.now() - start > timeoutMs) throw new Error('deliveries did not all arrive');
      await sleep(5);
    }
  };

  // 1. Steady rate.
  const sent = new Map<string, number>();
  const intervalMs = 1000 / RATE;
  const t0 = performance.now();
  for (let i = 0; performance.now() - t0 < DURATION_MS; i++) {
    for (const [id, t] of await append(1)) sent.set(id, t);
    const next = t0 + (i + 1) * intervalMs;
    const wait = next - performance.now();
    if (wait > 0) await sleep(wait);
  }
  await waitAll(sent.keys(), 30_000);
  const lat = [...sent].map(([id, t]) => (arrived.get(id) ?? t) - t).sort((a, b) => a - b);
  const p50Ms = pct(lat, 50);
  const p99Ms = pct(lat, 99);

  // 2. Burst throughput.
  const b0 = performance.now();
  const burst = await append(BURST);
  await waitAll(burst.keys(), 120_000);
  const deliveriesPerS = (BURST * 1000) / (performance.now() - b0);
  await webhooks.deliverer?.close();

  // 3. Bare POST loop, same concurrency, a fresh connection per request.
  const body = JSON.stringify({
    type: 'score.changed',
    timestamp: new Date().toISOString(),
    data: { pd: 0.05 },
  });
  const post = () =>
    new Promise<void>((resolve, reject) => {
      const req = request(url, {
        method: 'POST',
        agent: false,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
      });
      req.on('response', (res) => {
        res.resume();
        res.on('end', () => resolve());
      });
      req.on('error', reject);
      req.end(body);
    });
  let issued = 0;
  const c0 = performance.now();
  await Promise.all(
    Array.from({ length: config.webhookConcurrencyPerSubscription }, async () => {
      while (issued < BURST) {
        issued += 1;
        await post();
      }
    }),
  );
  const baselinePerS = (BURST * 1000) / (performance.now() - c0);
  const ratio = deliveriesPerS / baselinePerS;

  const counts = await webhooks.store.countByStatus();
  process.stdout.write(
    `steady ${RATE} events/s for ${DURATION_MS / 1000} s (poll ${config.webhookPollIntervalMs} ms): outbox → receiver p50 ${p50Ms.toFixed(1)} ms, p99 ${p99Ms.toFixed(1)} ms\n`,
  );
  process.stdout.write(
    `burst of ${BURST}: ${deliveriesPerS.toFixed(0)} deliveries/s (${config.webhookConcurrencyPerSubscription} in flight) vs bare POST loop ${baselinePerS.toFixed(0)}/s = ${ratio.toFixed(2)}\n`,
  );
  process.stdout.write(`deliveries: ${JSON.stringify(counts)}; bare posts ${bare}\n`);
  await state.close();
  server.close();
  rmSync(dir, { recursive: true, force: true });
  process.stdout.write(
    `${JSON.stringify({
      bench: 'webhooks',
      ratePerS: RATE,
      p50Ms: Number(p50Ms.toFixed(2)),
      p99Ms: Number(p99Ms.toFixed(2)),
      deliveriesPerS: Number(deliveriesPerS.toFixed(1)),
      baselinePerS: Number(baselinePerS.toFixed(1)),
      ratio: Number(ratio.toFixed(3)),
      concurrency: config.webhookConcurrencyPerSubscription,
      pollIntervalMs: config.webhookPollIntervalMs,
      peakRssMb: Math.round(process.memoryUsage().rss / 1048576),
    })}\n`,
  );
}

runBench(main);
