import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RiskfuseError } from '../../core/errors.js';
import { silentLogger } from '../../core/logger.js';
import type { State } from '../../core/state/index.js';
import { openTestState } from '../../core/state/test/backends.js';
import { openSqliteTelemetryStore } from '../../core/storage/sqlite-telemetry-store.js';
import type { TelemetryStore } from '../../core/storage/telemetry-store.js';
import { makeCredentials, issueToken } from '../../core/credentials.js';
import { IngestPipeline, type PipelineOptions } from '../pipeline.js';

const NOW = Date.now();
const reading = (seq: number, extra: Record<string, unknown> = {}) => ({
  ts: NOW - 60_000 + seq,
  seq,
  weightKg: 1000 + seq,
  itemCount: 10,
  lat: 1,
  lon: 2,
  tamper: false,
  temperatureC: 20,
  humidityPct: 50,
  batteryPct: 90,
  ...extra,
});
const topic = 'rf/v1/stk-0001/telemetry';
const json = (v: unknown) => Buffer.from(JSON.stringify(v));

/** A store whose writes fail (retryable) while `down` is set: a real SQLite store behind a switch. */
function flaky(store: TelemetryStore): TelemetryStore & { down: boolean; calls: number } {
  const wrapper = Object.create(store) as TelemetryStore & { down: boolean; calls: number };
  wrapper.down = false;
  wrapper.calls = 0;
  wrapper.writeReadings = async (readings) => {
    wrapper.calls += 1;
    if (wrapper.down) throw new RiskfuseError('STORE_UNAVAILABLE', 'store down (test)');
    return store.writeReadings(readings);
  };
  return wrapper;
}

describe('ingest pipeline', () => {
  let dir: string;
  let state: State;
  let telemetry: ReturnType<typeof openSqliteTelemetryStore>;
  let pipeline: IngestPipeline | undefined;

  const make = (over: Partial<PipelineOptions> = {}) =>
    new IngestPipeline({
      telemetry,
      state,
      log: silentLogger,
      batchMaxReadings: 100,
      flushIntervalMs: 10,
      maxBufferedReadings: 1000,
      writeConcurrency: 2,
      maxFutureSkewMs: 300_000,
      maxPayloadBytes: 65_536,
      registryCacheMs: 1000,
      retryMinMs: 5,
      retryMaxMs: 50,
      ...over,
    });

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'rf-pipeline-'));
    state = await openTestState(dir);
    telemetry = openSqliteTelemetryStore(join(dir, 'telemetry.db'));
    await state.portfolio.upsertBorrowers([
      { id: 'b1', name: 'B', sector: 'trading', region: 'r', createdAt: NOW },
    ]);
    await state.portfolio.upsertSites([
      { id: 's1', borrowerId: 'b1', name: 'S', kind: 'warehouse', lat: 1, lon: 2, geofence: [] },
    ]);
    await state.devices.upsertDevices([
      {
        device: {
          id: 'stk-0001',
          kind: 'stake',
          borrowerId: 'b1',
          siteId: 's1',
          status: 'active',
          createdAt: NOW,
        },
        credentials: makeCredentials('stk-0001', issueToken()),
      },
    ]);
  });
  afterEach(async () => {
    await pipeline?.stop(1000);
    pipeline = undefined;
    await telemetry.close();
    await state.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const until = async (cond: () => boolean, timeoutMs = 5000) => {
    const end = Date.now() + timeoutMs;
    while (!cond()) {
      if (Date.now() > end) throw new Error('timed out');
      await new Promise((r) => setTimeout(r, 5));
    }
  };

  it('when messages arrive, then each is acked only after its readings are in the store, in arrival order', async () => {
    pipeline = make();
    const acked: number[] = [];
    const countAtAck: number[] = [];
    for (let i = 1; i <= 250; i++) {
      pipeline.accept(topic, json(reading(i)), () => {
        acked.push(i);
        countAtAck.push(i);
      });
    }
    await until(() => acked.length === 250);
    expect(acked).toEqual(Array.from({ length: 250 }, (_, i) => i + 1));
    const stored = await telemetry.range({ fromMs: 0, toMs: NOW + 1, limit: 1000 });
    expect(stored.map((r) => r.seq)).toEqual(acked);
    expect(pipeline.counters.readingsStored).toBe(250);
  });

  it('when the same message is delivered twice, then it is stored once and both deliveries are acked', async () => {
    pipeline = make();
    let acks = 0;
    pipeline.accept(topic, json({ batch: [reading(1), reading(2)] }), () => (acks += 1));
    pipeline.accept(topic, json({ batch: [reading(1), reading(2)] }), () => (acks += 1));
    await until(() => acks === 2);
    expect(await telemetry.count({})).toBe(2);
  });

  it('when bad input arrives, then it is dead-lettered with its reason, acked, and good traffic is unaffected', async () => {
    pipeline = make();
    let acks = 0;
    const ack = () => (acks += 1);
    pipeline.accept(topic, Buffer.from('{not json'), ack);
    pipeline.accept(topic, json(reading(1, { humidityPct: 'wet' })), ack);
    pipeline.accept(topic, json(reading(2, { ts: NOW + 86_400_000 })), ack);
    pipeline.accept('rf/v1/ghost-01/telemetry', json(reading(3)), ack);
    pipeline.accept('rf/v1/stk-0001/status', Buffer.from('maybe'), ack);
    pipeline.accept(topic, json(reading(4)), ack);
    await until(() => acks === 6);
    expect(await telemetry.count({})).toBe(1);
    const reasons = (await state.deadLetters.listDeadLetters()).map((d) => d.reason).sort();
    expect(reasons).toEqual([
      'FUTURE_TIMESTAMP',
      'INVALID_STATUS',
      'MALFORMED_JSON',
      'SCHEMA_VIOLATION',
      'UNKNOWN_DEVICE',
    ]);
    expect(pipeline.counters.rejectedByReason.MALFORMED_JSON).toBe(1);
  });

  it('when the store is down, then nothing is acked, writes are retried, memory is bounded by back-pressure, and all lands once it is back', async () => {
    const store = flaky(telemetry);
    store.down = true;
    const pressure: boolean[] = [];
    pipeline = make({ telemetry: store, maxBufferedReadings: 200, onPressure: (p) => pressure.push(p) });
    let acks = 0;
    for (let i = 1; i <= 300; i++) pipeline.accept(topic, json(reading(i)), () => (acks += 1));
    await new Promise((r) => setTimeout(r, 200));
    expect(acks).toBe(0);
    expect(pipeline.counters.storeRetries).toBeGreaterThan(0);
    expect(pressure).toEqual([true]);
    store.down = false;
    await until(() => acks === 300);
    expect(pressure).toEqual([true, false]);
    expect(await telemetry.count({})).toBe(300);
  });

  it('when the store refuses one reading of a batch, then only that reading is dead-lettered', async () => {
    const store = Object.create(telemetry) as TelemetryStore;
    store.writeReadings = async (readings) => {
      if (readings.some((r) => r.seq === 7))
        throw new RiskfuseError('STORE_REJECTED', 'field type conflict (test)');
      return telemetry.writeReadings(readings);
    };
    pipeline = make({ telemetry: store });
    let acks = 0;
    for (let i = 1; i <= 20; i++) pipeline.accept(topic, json(reading(i)), () => (acks += 1));
    await until(() => acks === 20);
    expect(await telemetry.count({})).toBe(19);
    expect((await state.deadLetters.listDeadLetters()).map((d) => [d.reason, d.deviceId])).toEqual([
      ['STORE_REJECTED', 'stk-0001'],
    ]);
  });

  it('when concurrent batches commit out of order, then the callbacks still get each batch in arrival order', async () => {
    // The first batch's write is held until the second has committed: the second commits first.
    let releaseFirst!: () => void;
    const firstHeld = new Promise<void>((resolve) => (releaseFirst = resolve));
    let writes = 0;
    const store = Object.create(telemetry) as TelemetryStore;
    store.writeReadings = async (readings) => {
      writes += 1;
      if (writes === 1) await firstHeld;
      const out = await telemetry.writeReadings(readings);
      if (writes === 2) releaseFirst();
      return out;
    };
    const handed: number[][] = [];
    pipeline = make({
      telemetry: store,
      onStored: (readings) => void handed.push(readings.map((r) => r.seq ?? -1)),
    });
    let acks = 0;
    // Two full batches (batchMaxReadings 100), written at once (writeConcurrency 2).
    for (let i = 1; i <= 200; i++) pipeline.accept(topic, json(reading(i)), () => (acks += 1));
    await until(() => acks === 200);
    expect(writes).toBe(2);
    expect(handed.flat()).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
  });

  it('when status messages arrive, then presence is recorded', async () => {
    pipeline = make();
    let acks = 0;
    pipeline.accept('rf/v1/stk-0001/status', Buffer.from('online'), () => (acks += 1));
    await until(() => acks === 1);
    expect(await state.presence.listPresence()).toMatchObject([{ deviceId: 'stk-0001', status: 'online' }]);
  });

  it('when the device registry is down, then the device’s messages wait unacknowledged, and once it is back they are stored and acked in arrival order', async () => {
    let down = true;
    let reads = 0;
    const devices = Object.create(state.devices) as State['devices'];
    devices.getDevice = (id) => {
      reads += 1;
      return down ? Promise.reject(new Error('state store down (test)')) : state.devices.getDevice(id);
    };
    const flakyState: PipelineOptions['state'] = { ...state, devices };
    pipeline = make({ state: flakyState });
    const acked: number[] = [];
    pipeline.accept('rf/v1/stk-0001/status', Buffer.from('online'), () => acked.push(0));
    for (let i = 1; i <= 5; i++) pipeline.accept(topic, json(reading(i)), () => acked.push(i));
    await until(() => reads >= 3);
    // The status message ahead of them is stored and acked; the telemetry waits for the registry.
    await until(() => acked.length === 1);
    expect(acked).toEqual([0]);
    expect(pipeline.counters.storeRetries).toBeGreaterThan(0);
    down = false;
    await until(() => acked.length === 6);
    expect(acked).toEqual([0, 1, 2, 3, 4, 5]);
    expect(await telemetry.count({})).toBe(5);
  });

  it('when more devices report than the registry cache holds, then only the device read longest ago is dropped, and the others are not read again', async () => {
    const reads: string[] = [];
    const devices = Object.create(state.devices) as State['devices'];
    devices.getDevice = (id) => {
      reads.push(id);
      return state.devices.getDevice(id);
    };
    pipeline = make({ state: { ...state, devices }, registryCacheMs: 60_000, registryCacheDevices: 2 });
    let acks = 0;
    const send = (id: string): void =>
      pipeline?.accept(`rf/v1/${id}/telemetry`, json(reading(acks + 1)), () => (acks += 1));
    const ids = ['stk-0001', 'stk-0002', 'stk-0003', 'stk-0004'];
    for (const [i, id] of ids.entries()) {
      send(id);
      await until(() => acks === i + 1);
    }
    // The cache holds stk-0003 and stk-0004; a clear of the whole cache would read stk-0003 again.
    send('stk-0003');
    send('stk-0004');
    await until(() => acks === 6);
    expect(reads).toEqual(ids);
    send('stk-0001');
    await until(() => acks === 7);
    expect(reads).toEqual([...ids, 'stk-0001']);
  });

  it('when the dead-letter write fails, then the message is acked only once its dead letter is committed, and the dead letter is written once', async () => {
    let failures = 2;
    const deadLetters = Object.create(state.deadLetters) as State['deadLetters'];
    deadLetters.addDeadLetters = async (items) => {
      await state.deadLetters.addDeadLetters(items);
      // Written, then the transaction fails: the retry must not leave two copies behind.
      if (failures > 0) {
        failures -= 1;
        throw new Error('commit failed (test)');
      }
    };
    const flakyState: PipelineOptions['state'] = { ...state, deadLetters };
    pipeline = make({ state: flakyState });
    let acks = 0;
    pipeline.accept(topic, Buffer.from('{not json'), () => (acks += 1));
    pipeline.accept('rf/v1/stk-0001/status', Buffer.from('online'), () => (acks += 1));
    await until(() => acks === 2);
    expect(failures).toBe(0);
    expect((await state.deadLetters.listDeadLetters()).map((d) => d.reason)).toEqual(['MALFORMED_JSON']);
    expect(await state.presence.listPresence()).toMatchObject([{ deviceId: 'stk-0001', status: 'online' }]);
  });
});
