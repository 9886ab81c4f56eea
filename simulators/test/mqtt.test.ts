import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { telemetryTopic } from '../../core/contracts/topics.js';
import type { State } from '../../core/state/index.js';
import { openTestState } from '../../core/state/test/backends.js';
import { createEngine } from '../engine.js';
import { provisionWorld } from '../provision.js';
import { runSimulation, type SimulationHandle } from '../runner.js';
import type { GeneratedReading } from '../stream.js';
import { generateWorld, type World } from '../world.js';
import {
  readingsOf,
  startBroker,
  subscribe,
  waitFor,
  type Received,
  type TestBroker,
} from './mqtt-support.js';
import { DAY_MS } from './support.js';

/** Devices as real MQTT clients against a real (plain Aedes) broker. */
describe('simulated devices over MQTT', () => {
  const cleanups: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  async function setup(
    borrowers: number,
    daysBack: number,
  ): Promise<{ world: World; state: State; tokens: ReadonlyMap<string, string> }> {
    const startMs = Math.floor((Date.now() - daysBack * DAY_MS) / 60_000) * 60_000;
    const world = generateWorld({ seed: 1234, borrowers, startMs });
    const dir = mkdtempSync(join(tmpdir(), 'riskfuse-sim-mqtt-'));
    const state = await openTestState(dir);
    cleanups.push(async () => {
      await state.close();
      rmSync(dir, { recursive: true, force: true });
    });
    return { world, state, tokens: (await provisionWorld(world, state)).tokens };
  }

  async function broker(port?: number): Promise<TestBroker> {
    const b = await startBroker(port);
    cleanups.push(() => b.close());
    return b;
  }

  function telemetryBy(
    messages: readonly Received[],
  ): Map<string, { seq: number; ts: number; atMs: number; batch: boolean }[]> {
    const out = new Map<string, { seq: number; ts: number; atMs: number; batch: boolean }[]>();
    for (const m of messages) {
      if (!m.topic.endsWith('/telemetry')) continue;
      const id = m.topic.split('/')[2] as string;
      const rs = readingsOf(m.payload);
      const list = out.get(id) ?? [];
      for (const r of rs) list.push({ seq: r.seq, ts: r.ts, atMs: m.atMs, batch: rs.length > 1 });
      out.set(id, list);
    }
    return out;
  }

  it('when devices run accelerated, then each publishes QoS 1 readings in seq order, batched, never from the future, exactly as generated', async () => {
    const b = await broker();
    const sub = await subscribe(b.url, ['rf/v1/+/telemetry', 'rf/v1/+/status']);
    cleanups.push(() => sub.close());
    const { world, state, tokens } = await setup(2, 2);
    const sim = runSimulation({
      world,
      stateStore: state,
      mqttUrl: b.url,
      tokens,
      speed: 30,
      startMs: world.startMs,
      tickMs: 100,
    });
    cleanups.push(() => sim.stop({ timeoutMs: 2_000 }).then(() => undefined));
    await waitFor(() => sim.caughtUp(), 15_000, 'the simulated clock to catch up');
    const stats = await sim.stop({ timeoutMs: 5_000 });
    await waitFor(
      () => sub.messages.filter((m) => m.topic.endsWith('/telemetry')).length === stats.messagesAcked,
      5_000,
      'all messages',
    );

    const telemetry = sub.messages.filter((m) => m.topic.endsWith('/telemetry'));
    expect(telemetry.length).toBeGreaterThan(0);
    expect(telemetry.every((m) => m.qos === 1)).toBe(true);
    expect(stats.readingsDropped).toBe(0);
    expect(stats.readingsUnsent).toBe(0);
    expect(stats.readingsAcked).toBe(stats.readingsGenerated);

    const engine = createEngine(world);
    const byDevice = telemetryBy(sub.messages);
    let batched = 0;
    for (const p of world.profiles.devices) {
      const got = byDevice.get(p.device.id) ?? [];
      for (let i = 1; i < got.length; i++) expect((got[i]?.seq ?? 0) > (got[i - 1]?.seq ?? 0)).toBe(true);
      // Never ahead of the wall clock when it arrived.
      for (const r of got) expect(r.ts).toBeLessThanOrEqual(r.atMs);
      batched += got.filter((r) => r.batch).length;
      const expected: GeneratedReading[] = [];
      engine.stream(p.index).drain(sim.simNowMs(), expected);
      expect(got.map((r) => r.seq)).toEqual(expected.map((r) => r.payload.seq));
      expect(got.map((r) => r.ts)).toEqual(expected.map((r) => r.payload.ts));
    }
    expect(batched).toBeGreaterThan(0);
    expect(sim.simNowMs()).toBeLessThanOrEqual(Date.now() - 10_000);
    // The loan book was written as time advanced.
    expect((await state.loans.listLoans()).length).toBeGreaterThan(0);
  });

  it('when a device connects, then it publishes a retained online; after a graceful stop a retained offline', async () => {
    const b = await broker();
    const { world, state, tokens } = await setup(1, 1);
    const id = world.devices[0]?.id as string;
    const sim = runSimulation({
      world,
      stateStore: state,
      mqttUrl: b.url,
      tokens,
      speed: 1,
      tickMs: 50,
      deviceFilter: (d) => d.id === id,
    });
    await waitFor(() => sim.stats.connected === 1, 5_000, 'connect');
    const late = await subscribe(b.url, [`rf/v1/${id}/status`]);
    await waitFor(() => late.messages.length > 0, 3_000, 'retained status');
    expect(late.messages[0]).toMatchObject({ payload: 'online', retain: true });
    await late.close();
    await sim.stop({ timeoutMs: 2_000 });
    const after = await subscribe(b.url, [`rf/v1/${id}/status`]);
    cleanups.push(() => after.close());
    await waitFor(() => after.messages.length > 0, 3_000, 'retained status after stop');
    expect(after.messages[0]).toMatchObject({ payload: 'offline', retain: true });
  });

  it('when a device loses its connection abruptly, then the broker publishes its will (retained offline) and it comes back online', async () => {
    const b = await broker();
    const { world, state, tokens } = await setup(1, 1);
    const id = world.devices[0]?.id as string;
    const sub = await subscribe(b.url, [`rf/v1/${id}/status`]);
    cleanups.push(() => sub.close());
    const sim = runSimulation({
      world,
      stateStore: state,
      mqttUrl: b.url,
      tokens,
      speed: 1,
      tickMs: 50,
      deviceFilter: (d) => d.id === id,
      reconnectBaseMs: 1_500,
      reconnectMaxMs: 2_000,
    });
    cleanups.push(() => sim.stop({ timeoutMs: 1_000 }).then(() => undefined));
    await waitFor(() => sub.messages.some((m) => m.payload === 'online'), 5_000, 'online');
    sim.device(id)?.cutConnection();
    await waitFor(() => sub.messages.some((m) => m.payload === 'offline'), 5_000, 'the will');
    // Retained: a subscriber arriving now (before the reconnect) learns the device is offline.
    const late = await subscribe(b.url, [`rf/v1/${id}/status`]);
    await waitFor(() => late.messages.length > 0, 2_000, 'retained will');
    expect(late.messages[0]).toMatchObject({ payload: 'offline', retain: true });
    await late.close();
    const onlineCount = (): number => sub.messages.filter((m) => m.payload === 'online').length;
    await waitFor(() => onlineCount() === 2, 6_000, 'reconnect');
    expect(sim.stats.reconnectAttempts).toBeGreaterThanOrEqual(1);
  });

  it('when the broker restarts, then devices reconnect with backoff and replay the readings they queued meanwhile', async () => {
    let b = await startBroker();
    const port = b.port;
    const url = b.url;
    let sub = await subscribe(url, ['rf/v1/+/telemetry']);
    const received = [...sub.messages];
    const { world, state, tokens } = await setup(1, 3);
    const stakes = new Set(world.devices.filter((d) => d.kind === 'stake').map((d) => d.id));
    const sim: SimulationHandle = runSimulation({
      world,
      stateStore: state,
      mqttUrl: url,
      tokens,
      speed: 6,
      startMs: world.startMs,
      tickMs: 50,
      deviceFilter: (d) => stakes.has(d.id),
      reconnectBaseMs: 300,
      reconnectMaxMs: 1_000,
    });
    cleanups.push(() => sim.stop({ timeoutMs: 2_000 }).then(() => undefined));
    await waitFor(() => sim.stats.readingsAcked > 20, 10_000, 'first readings');

    received.push(...sub.messages);
    await sub.close();
    await b.close();
    const downFrom = sim.simNowMs();
    await new Promise((r) => setTimeout(r, 1_500));
    const queuedWhileDown = sim.stats.readingsQueued - sim.stats.readingsPublished;
    expect(queuedWhileDown).toBeGreaterThan(10);
    b = await startBroker(port);
    cleanups.push(() => b.close());
    const downTo = sim.simNowMs();
    sub = await subscribe(url, ['rf/v1/+/telemetry']);
    cleanups.push(() => sub.close());

    await waitFor(() => sim.stats.connected === stakes.size, 10_000, 'reconnects');
    const stats = await sim.stop({ timeoutMs: 5_000 });
    await waitFor(() => sub.messages.length > 0, 3_000, 'replay');
    await new Promise((r) => setTimeout(r, 300));
    expect(stats.readingsDropped).toBe(0);

    // Everything taken while the broker was down arrived after it came back, in order, some as batches.
    const after = telemetryBy(sub.messages);
    const engine = createEngine(world);
    let replayed = 0;
    for (const p of world.profiles.devices.filter((d) => stakes.has(d.device.id))) {
      const expected: GeneratedReading[] = [];
      const s = engine.stream(p.index, downFrom);
      s.drain(downTo, expected);
      const got = new Set((after.get(p.device.id) ?? []).map((r) => r.seq));
      for (const r of expected) expect(got.has(r.payload.seq)).toBe(true);
      replayed += expected.length;
      const seqs = (after.get(p.device.id) ?? []).map((r) => r.seq);
      for (let i = 1; i < seqs.length; i++) expect((seqs[i] ?? 0) >= (seqs[i - 1] ?? 0)).toBe(true);
    }
    expect(replayed).toBeGreaterThan(10);
    expect([...after.values()].some((list) => list.some((r) => r.batch))).toBe(true);
    expect(stats.reconnectAttempts).toBeGreaterThanOrEqual(stakes.size);
  });

  it('when the broker is gone for long, then each offline queue is bounded and drops are counted', async () => {
    const b = await broker();
    const { world, state, tokens } = await setup(1, 3);
    const id = world.devices[0]?.id as string;
    await b.close();
    const sim = runSimulation({
      world,
      stateStore: state,
      mqttUrl: b.url,
      tokens,
      speed: 20,
      startMs: world.startMs,
      tickMs: 50,
      deviceFilter: (d) => d.id === id,
      maxQueuedReadings: 50,
      reconnectBaseMs: 5_000,
    });
    await waitFor(() => sim.stats.readingsGenerated > 120, 10_000, 'readings');
    expect(sim.device(id)?.queued).toBe(50);
    const stats = await sim.stop({ timeoutMs: 500 });
    expect(stats.readingsDropped).toBe(stats.readingsGenerated - 50);
    expect(stats.readingsUnsent).toBe(50);
    expect(stats.readingsPublished).toBe(0);
  });

  it('when many devices start, then connections ramp up gradually', async () => {
    const b = await broker();
    const { world, state, tokens } = await setup(6, 1);
    const sim = runSimulation({
      world,
      stateStore: state,
      mqttUrl: b.url,
      tokens,
      speed: 1,
      tickMs: 50,
      connectRatePerS: 20,
    });
    cleanups.push(() => sim.stop({ timeoutMs: 1_000 }).then(() => undefined));
    await new Promise((r) => setTimeout(r, 500));
    // 20 per second: about 10 after half a second (at most a second's worth), not all of them at once.
    expect(sim.stats.connects).toBeLessThanOrEqual(20);
    expect(world.devices.length).toBeGreaterThan(40);
    await waitFor(() => sim.stats.connected === world.devices.length, 10_000, 'all connected');
    expect(telemetryTopic(world.devices[0]?.id ?? '')).toMatch(/^rf\/v1\/stk-b0001-l1\/telemetry$/);
  });
});
