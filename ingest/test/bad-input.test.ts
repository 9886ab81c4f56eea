import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { brokerConfigSpec, createBroker, type RiskfuseBroker } from '../../broker/index.js';
import { parseConfig } from '../../core/config.js';
import { ALL_TELEMETRY, cmdTopic, telemetryTopic } from '../../core/contracts/index.js';
import { issueToken } from '../../core/credentials.js';
import { provisionStakes } from '../../test/support/provision.js';
import { silentLogger, type Logger } from '../../core/logger.js';
import type { DeadLetter, State } from '../../core/state/index.js';
import { openTestState } from '../../core/state/test/backends.js';
import {
  openSqliteTelemetryStore,
  type SqliteTelemetryStore,
} from '../../core/storage/sqlite-telemetry-store.js';
import { createIngest, type Ingest, type IngestConfig } from '../app.js';
import { ingestConfigSpec } from '../config.js';
import { REJECT_REASONS, type RejectReason } from '../validate.js';

/**
 * The issue's "bad input" list, end to end: real broker on port 0, real in-process ingest, real SQLite
 * telemetry and state stores, real MQTT clients (MQTT.js and Mosquitto's `mosquitto_pub`). Every bad input
 * is either refused where the client can see it (CONNACK / SUBACK / disconnect) or dead-lettered with its
 * reason — and all the while a well-behaved device publishes at QoS 1 in the background: at the end,
 * every reading the broker acknowledged to it is stored, and after every test both the broker and the
 * ingest are shown to be still serving it.
 *
 * Every valid reading a test sends on purpose has a seq below BAD_SEQ_FROM; every reading inside a bad
 * message has one from BAD_SEQ_FROM up, so "nothing bad was stored" is an exact comparison of seq sets.
 */
const SERVICE_TOKEN = issueToken();
const BACKGROUND = 'stk-bg-0001';
const BAD = 'stk-bad-0001';
const VICTIM = 'stk-victim-01';
const BIG = 'stk-big-0001';
const GHOST = 'stk-ghost-001';
const PROVISIONED = [BACKGROUND, BAD, VICTIM, BIG];

const BASE_TS = Date.now() - 3_600_000;
const BAD_SEQ_FROM = 1_000_000;
/** Above the contract's largest timestamp (year 2100), so a range up to it sees every stored reading. */
const END_OF_TIME_MS = 4_102_444_800_001;
const BACKGROUND_INTERVAL_MS = 10;

interface World {
  readonly dir: string;
  readonly state: State;
  readonly telemetry: SqliteTelemetryStore;
  readonly broker: RiskfuseBroker;
  readonly url: string;
  readonly ingest: Ingest;
  readonly tokens: ReadonlyMap<string, string>;
  /** The broker's warnings, as parsed JSON lines. */
  readonly brokerWarnings: Record<string, unknown>[];
}

let world: World;
/** Every ingest the suite ran (dead-letter counters are summed over them). */
const ingests: Ingest[] = [];
/** Readings each device should have in the telemetry store, by seq. */
const expectedStored = new Map<string, Set<number>>(PROVISIONED.map((id) => [id, new Set<number>()]));
/** Dead letters the suite has provoked so far, by reason. */
const expectedDeadLetters = Object.fromEntries(REJECT_REASONS.map((r) => [r, 0])) as Record<
  RejectReason,
  number
>;
let goodSeq = 0;
let badSeq = BAD_SEQ_FROM;
const nextGoodSeq = (): number => ++goodSeq;
const nextBadSeq = (): number => ++badSeq;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls until `check` holds, or fails with the last value seen. */
async function eventually<T>(
  read: () => T | Promise<T>,
  check: (v: T) => boolean,
  what: string,
  timeoutMs = 5_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (check(value)) return value;
    if (Date.now() > deadline) {
      throw new Error(`${what}: not within ${timeoutMs} ms; last value ${JSON.stringify(value)}`);
    }
    await sleep(25);
  }
}

function stakeReading(seq: number, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    ts: BASE_TS + seq,
    seq,
    weightKg: 5000,
    itemCount: 100,
    lat: 45,
    lon: 9,
    tamper: false,
    temperatureC: 20,
    humidityPct: 50,
    batteryPct: 80,
    ...overrides,
  };
}

/** A stake reading whose `field` is written as the raw JSON text `raw` (NaN, 1e999: not JSON.stringify-able). */
function stakeReadingText(seq: number, field: string, raw: string): string {
  return JSON.stringify(stakeReading(seq, { [field]: '@raw@' })).replace('"@raw@"', raw);
}

async function storedSeqs(deviceId: string): Promise<number[]> {
  const rows = await world.telemetry.range({
    deviceIds: [deviceId],
    fromMs: 0,
    toMs: END_OF_TIME_MS,
    limit: 10_000,
  });
  return rows.map((r) => r.seq).sort((a, b) => a - b);
}

/** Exactly the readings sent as valid are stored for `deviceId` — none of the bad ones, none lost. */
async function expectOnlyValidReadingsStored(deviceId: string): Promise<void> {
  const expected = [...(expectedStored.get(deviceId) ?? [])].sort((a, b) => a - b);
  expect(await storedSeqs(deviceId)).toEqual(expected);
}

async function lastDeadLetterId(): Promise<number> {
  return (await world.state.deadLetters.listDeadLetters({ limit: 1 }))[0]?.id ?? 0;
}

async function deadLettersAfter(id: number): Promise<DeadLetter[]> {
  return (await world.state.deadLetters.listDeadLetters({ limit: 10_000 }))
    .filter((d) => d.id > id)
    .sort((a, b) => a.id - b.id);
}

function ingestConfig(mqttUrl: string, clientId: string): IngestConfig {
  return parseConfig(ingestConfigSpec, {
    MQTT_URL: mqttUrl,
    MQTT_SERVICE_TOKEN: SERVICE_TOKEN,
    INGEST_CLIENT_ID: clientId,
  });
}

/** A logger that keeps its JSON lines, to assert on how the broker disconnected a client. */
function capturingLogger(): { log: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(JSON.parse(chunk.toString('utf8')) as Record<string, unknown>);
      done();
    },
  });
  return { log: pino({ level: 'warn' }, sink), lines };
}

async function startBroker(
  state: State,
  env: Record<string, string>,
  log: Logger = silentLogger,
): Promise<{ broker: RiskfuseBroker; url: string }> {
  const config = parseConfig(brokerConfigSpec, {
    MQTT_HOST: '127.0.0.1',
    MQTT_PORT: '0',
    MQTT_SERVICE_TOKEN: SERVICE_TOKEN,
    ...env,
  });
  const broker = createBroker({ config, registry: state.devices, log });
  const { tcpPort } = await broker.listen();
  return { broker, url: `mqtt://127.0.0.1:${tcpPort}` };
}

async function startWorld(): Promise<World> {
  const dir = mkdtempSync(join(tmpdir(), 'rf-bad-input-'));
  const state = await openTestState(dir);
  const tokens = await provisionStakes(state, PROVISIONED, { lat: 45, lon: 9 });
  const telemetry = openSqliteTelemetryStore(join(dir, 'telemetry.db'));
  const brokerLog = capturingLogger();
  const { broker, url } = await startBroker(state, {}, brokerLog.log);
  const ingest = createIngest({
    config: ingestConfig(url, 'ingest-bad-input'),
    telemetry,
    state,
    log: silentLogger,
  });
  ingests.push(ingest);
  await ingest.start();
  return { dir, state, telemetry, broker, url, ingest, tokens, brokerWarnings: brokerLog.lines };
}

// ---------------------------------------------------------------------------------------------------------
// MQTT clients

const NO_RETRY: IClientOptions = {
  reconnectPeriod: 0,
  connectTimeout: 5_000,
  protocolVersion: 4,
  clean: true,
};
/** Clients a test opened; closed after it. */
const openClients: MqttClient[] = [];
/** Errors of opened clients (a client without an 'error' listener would throw on a reset connection). */
const clientErrors: Error[] = [];

function tokenOf(deviceId: string): string {
  const token = world.tokens.get(deviceId);
  if (token === undefined) throw new Error(`${deviceId} is not provisioned`);
  return token;
}

async function connectDevice(
  deviceId: string,
  { url = world.url, errors = clientErrors }: { url?: string; errors?: Error[] } = {},
): Promise<MqttClient> {
  const client = await mqtt.connectAsync(url, {
    ...NO_RETRY,
    clientId: deviceId,
    username: deviceId,
    password: tokenOf(deviceId),
  });
  client.on('error', (err) => errors.push(err));
  openClients.push(client);
  return client;
}

/** Connects with `options`; resolves with the error of the refused connection (undefined if admitted). */
async function connectRefusal(options: IClientOptions): Promise<(Error & { code?: unknown }) | undefined> {
  try {
    const client = await mqtt.connectAsync(world.url, { ...NO_RETRY, ...options });
    await client.endAsync();
    return undefined;
  } catch (err) {
    return err as Error & { code?: unknown };
  }
}

/** The SUBACK return codes; MQTT.js rejects a SUBSCRIBE with any 0x80 but hands over the SUBACK it got. */
async function subackCodes(client: MqttClient, filters: string[]): Promise<number[]> {
  try {
    return (await client.subscribeAsync(filters, { qos: 1 })).map((g) => g.qos);
  } catch (err) {
    const granted = (err as { packet?: { granted?: number[] } }).packet?.granted;
    if (granted === undefined) throw err;
    return granted;
  }
}

interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Mosquitto's command-line publisher: an MQTT client implementation independent of ours and of MQTT.js. */
function mosquittoPub(args: string[]): Promise<CliResult> {
  const port = new URL(world.url).port;
  return new Promise((resolve) => {
    execFile(
      '/usr/bin/mosquitto_pub',
      ['-h', '127.0.0.1', '-p', port, '-V', 'mqttv311', ...args],
      { timeout: 10_000 },
      (err, stdout, stderr) => {
        const code = err === null ? 0 : typeof err.code === 'number' ? err.code : -1;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/**
 * Publishes one valid reading from `client` on its own topic and waits until it is stored. Ingest handles
 * one connection's messages in order, so everything the client published before has been processed too.
 */
async function sendValidAndAwaitStored(client: MqttClient, deviceId: string): Promise<number> {
  const seq = nextGoodSeq();
  expectedStored.get(deviceId)?.add(seq);
  await client.publishAsync(telemetryTopic(deviceId), JSON.stringify(stakeReading(seq)), { qos: 1 });
  await eventually(
    () => storedSeqs(deviceId),
    (seqs) => seqs.includes(seq),
    `valid reading ${deviceId}/${seq} stored`,
  );
  return seq;
}

/**
 * Publishes `payloads` in order from the misbehaving device on its own telemetry topic (through the broker
 * at `url`), then a valid reading; returns the dead letters written since, once there is at least one. The
 * valid reading proves the messages before it were processed and that the device is still being served.
 */
async function publishBad(payloads: readonly string[], url = world.url): Promise<DeadLetter[]> {
  const mark = await lastDeadLetterId();
  const client = await connectDevice(BAD, { url });
  for (const payload of payloads) await client.publishAsync(telemetryTopic(BAD), payload, { qos: 1 });
  await sendValidAndAwaitStored(client, BAD);
  const letters = await eventually(
    () => deadLettersAfter(mark),
    (l) => l.length > 0,
    'dead letter written',
  );
  expect(client.connected).toBe(true);
  return letters;
}

// ---------------------------------------------------------------------------------------------------------
// The well-behaved device

interface Background {
  readonly acked: Set<number>;
  readonly errors: unknown[];
  lastAcked: number;
  closes: number;
  running: boolean;
  stop(): Promise<void>;
}

async function startBackground(): Promise<Background> {
  const client = await mqtt.connectAsync(world.url, {
    ...NO_RETRY,
    clientId: BACKGROUND,
    username: BACKGROUND,
    password: tokenOf(BACKGROUND),
  });
  const bg: Background = {
    acked: new Set(),
    errors: [],
    lastAcked: 0,
    closes: 0,
    running: true,
    stop: async () => {
      bg.running = false;
      await loop;
      await client.endAsync();
    },
  };
  client.on('error', (err) => bg.errors.push(err));
  client.on('close', () => {
    if (bg.running) bg.closes += 1;
  });
  const loop = (async () => {
    for (let seq = 1; bg.running; seq++) {
      try {
        await client.publishAsync(telemetryTopic(BACKGROUND), JSON.stringify(stakeReading(seq)), { qos: 1 });
        bg.acked.add(seq);
        bg.lastAcked = seq;
      } catch (err) {
        bg.errors.push(err);
        return;
      }
      await sleep(BACKGROUND_INTERVAL_MS);
    }
  })();
  return bg;
}

let background: Background;
/** Tests after which the background device was seen acknowledged and stored. */
let backgroundChecks = 0;

beforeAll(async () => {
  world = await startWorld();
  background = await startBackground();
});

afterEach(async () => {
  await Promise.all(openClients.splice(0).map((c) => c.endAsync(true)));
  if (!background.running) return;
  // The background device is still being acknowledged by the broker, and the ingest still stores it.
  const before = background.acked.size;
  await eventually(
    () => background.acked.size,
    (n) => n >= before + 5,
    'background device acknowledged by the broker',
  );
  const seq = background.lastAcked;
  await eventually(
    () => world.telemetry.count({ deviceIds: [BACKGROUND], fromMs: BASE_TS + seq, toMs: BASE_TS + seq + 1 }),
    (n) => n === 1,
    `background reading ${seq} stored`,
  );
  expect(world.ingest.connected).toBe(true);
  expect(background.errors).toEqual([]);
  backgroundChecks += 1;
});

afterAll(async () => {
  if (background.running) await background.stop();
  await Promise.all(openClients.splice(0).map((c) => c.endAsync(true)));
  await world.ingest.stop();
  await world.broker.close();
  await world.telemetry.close();
  await world.state.close();
  rmSync(world.dir, { recursive: true, force: true });
});

// ---------------------------------------------------------------------------------------------------------

describe('bad input through the real broker and ingest, with a well-behaved device publishing throughout', () => {
  describe('admission', () => {
    it('when a device connects with a wrong token, then MQTT.js sees CONNACK 4 and mosquitto_pub exits 4 with "bad user name or password", and the device’s live session is untouched', async () => {
      const mark = await lastDeadLetterId();
      const refusedBefore = world.broker.counters.connectionsRefused.badUsernameOrPassword;
      const genuine = await connectDevice(BAD);
      let genuineClosed = false;
      genuine.once('close', () => (genuineClosed = true));

      const refusal = await connectRefusal({ clientId: BAD, username: BAD, password: 'not-the-token' });
      expect(refusal?.code).toBe(4);
      expect(refusal?.message).toBe('Connection refused: Bad username or password');

      const cli = await mosquittoPub([
        ...['-i', BAD, '-u', BAD, '-P', 'not-the-token', '-q', '1'],
        ...['-t', telemetryTopic(BAD), '-m', JSON.stringify(stakeReading(nextBadSeq()))],
      ]);
      expect(cli.code).toBe(4);
      expect(cli.stderr).toContain('bad user name or password');

      // Counted once the CONNACK is on the wire, which may be just after the client has read it.
      await eventually(
        () => world.broker.counters.connectionsRefused.badUsernameOrPassword,
        (n) => n === refusedBefore + 2,
        'refusals counted',
      );
      await sendValidAndAwaitStored(genuine, BAD);
      expect(genuineClosed).toBe(false);
      expect(await deadLettersAfter(mark)).toEqual([]);
      await expectOnlyValidReadingsStored(BAD);
    });

    it('when an unknown device connects, then it is refused with CONNACK 4 (as a wrong token, so ids cannot be probed) and nothing of it is stored', async () => {
      const mark = await lastDeadLetterId();
      const refusedBefore = world.broker.counters.connectionsRefused.badUsernameOrPassword;

      const refusal = await connectRefusal({ clientId: GHOST, username: GHOST, password: issueToken() });
      expect(refusal?.code).toBe(4);
      const cli = await mosquittoPub([
        ...['-i', GHOST, '-u', GHOST, '-P', issueToken(), '-q', '1'],
        ...['-t', telemetryTopic(GHOST), '-m', JSON.stringify(stakeReading(nextBadSeq()))],
      ]);
      expect(cli.code).toBe(4);
      expect(cli.stderr).toContain('bad user name or password');

      await eventually(
        () => world.broker.counters.connectionsRefused.badUsernameOrPassword,
        (n) => n === refusedBefore + 2,
        'refusals counted',
      );
      expect(await storedSeqs(GHOST)).toEqual([]);
      expect(await deadLettersAfter(mark)).toEqual([]);
    });
  });

  describe('topic ACL', () => {
    it('when a device publishes to another device’s topic, then the broker acknowledges and drops it (counted), nothing is stored or dead-lettered, and its next valid publish is stored', async () => {
      const mark = await lastDeadLetterId();
      const droppedBefore = world.broker.counters.publishesDroppedUnauthorised;
      const client = await connectDevice(BAD);

      await client.publishAsync(telemetryTopic(VICTIM), JSON.stringify(stakeReading(nextBadSeq())), {
        qos: 1,
      });
      expect(world.broker.counters.publishesDroppedUnauthorised).toBe(droppedBefore + 1);

      await sendValidAndAwaitStored(client, BAD);
      expect(client.connected).toBe(true);
      expect(await storedSeqs(VICTIM)).toEqual([]);
      // It never reached the ingest, so there is nothing to dead-letter.
      expect(await deadLettersAfter(mark)).toEqual([]);
      await expectOnlyValidReadingsStored(BAD);
    });

    it('when a device subscribes outside its own cmd topic, then SUBACK answers 128 for each such filter and it receives none of the traffic there', async () => {
      const refusedBefore = world.broker.counters.subscriptionsRefused;
      const client = await connectDevice(BAD);
      const received: string[] = [];
      client.on('message', (topic) => received.push(topic));

      const codes = await subackCodes(client, [
        cmdTopic(BAD),
        cmdTopic(VICTIM),
        ALL_TELEMETRY,
        telemetryTopic(BACKGROUND),
      ]);

      expect(codes).toEqual([1, 128, 128, 128]);
      expect(world.broker.counters.subscriptionsRefused).toBe(refusedBefore + 3);
      // The background device keeps publishing on the refused filters; none of it may arrive.
      const acked = background.acked.size;
      await eventually(
        () => background.acked.size,
        (n) => n >= acked + 20,
        'background publishes',
      );
      expect(received).toEqual([]);
      expect(client.connected).toBe(true);
    });
  });

  describe('payloads dead-lettered by the ingest', () => {
    it('when a device sends text that is not JSON, then it is dead-lettered MALFORMED_JSON with device, topic and the payload as sent', async () => {
      const payload = '{"ts": 1764400000000, "seq": ';
      const letters = await publishBad([payload]);
      expectedDeadLetters.MALFORMED_JSON += 1;

      expect(letters).toHaveLength(1);
      expect(letters[0]).toMatchObject({
        deviceId: BAD,
        topic: telemetryTopic(BAD),
        reason: 'MALFORMED_JSON',
        payload,
      });
      expect(letters[0]?.detail).toMatch(/^not JSON: /);
      await expectOnlyValidReadingsStored(BAD);
    });

    it('when a reading holds a literal NaN, then it is dead-lettered MALFORMED_JSON (NaN is not JSON)', async () => {
      const payload = stakeReadingText(nextBadSeq(), 'weightKg', 'NaN');
      expect(payload).toContain('"weightKg":NaN');
      const letters = await publishBad([payload]);
      expectedDeadLetters.MALFORMED_JSON += 1;

      expect(letters).toHaveLength(1);
      expect(letters[0]).toMatchObject({
        deviceId: BAD,
        topic: telemetryTopic(BAD),
        reason: 'MALFORMED_JSON',
        payload,
      });
      await expectOnlyValidReadingsStored(BAD);
    });

    const schemaCases: readonly { what: string; payload: (seq: number) => string; problem: string }[] = [
      {
        what: 'a field of the wrong type (weightKg as a string)',
        payload: (seq) => JSON.stringify(stakeReading(seq, { weightKg: 'heavy' })),
        problem: '/weightKg: Expected number',
      },
      {
        what: 'a missing field (no itemCount)',
        payload: (seq) => JSON.stringify(stakeReading(seq, { itemCount: undefined })),
        problem: '/itemCount: Expected required property',
      },
      {
        what: 'an extra field (colour)',
        payload: (seq) => JSON.stringify(stakeReading(seq, { colour: 'red' })),
        problem: '/colour: Unexpected property',
      },
      {
        what: 'a helmet payload',
        payload: (seq) =>
          JSON.stringify({
            ts: BASE_TS + seq,
            seq,
            lat: 45,
            lon: 9,
            worn: true,
            activity: 0.4,
            mode: 'work',
            batteryPct: 80,
          }),
        problem: '/weightKg: Expected required property',
      },
      {
        what: 'an infinite number (1e999)',
        payload: (seq) => stakeReadingText(seq, 'weightKg', '1e999'),
        problem: '/weightKg: Expected number',
      },
      {
        what: 'a latitude of 91',
        payload: (seq) => JSON.stringify(stakeReading(seq, { lat: 91 })),
        problem: '/lat: Expected number to be less or equal to 90',
      },
      {
        what: 'a humidity of 140 %',
        payload: (seq) => JSON.stringify(stakeReading(seq, { humidityPct: 140 })),
        problem: '/humidityPct: Expected number to be less or equal to 100',
      },
      {
        what: 'a negative weight',
        payload: (seq) => JSON.stringify(stakeReading(seq, { weightKg: -5 })),
        problem: '/weightKg: Expected number to be greater or equal to 0',
      },
    ];

    it.each(schemaCases)(
      'when a stake sends $what, then it is dead-lettered SCHEMA_VIOLATION naming "$problem"',
      async ({ payload: build, problem }) => {
        const payload = build(nextBadSeq());
        const letters = await publishBad([payload]);
        expectedDeadLetters.SCHEMA_VIOLATION += 1;

        expect(letters).toHaveLength(1);
        expect(letters[0]).toMatchObject({
          deviceId: BAD,
          topic: telemetryTopic(BAD),
          reason: 'SCHEMA_VIOLATION',
          payload,
        });
        expect(letters[0]?.detail).toMatch(/^reading \(stake\) /);
        expect(letters[0]?.detail).toContain(problem);
        await expectOnlyValidReadingsStored(BAD);
      },
    );

    it('when a reading is stamped a day ahead, then it is dead-lettered FUTURE_TIMESTAMP, while one a minute ahead (within the skew) is stored', async () => {
      const farSeq = nextBadSeq();
      const far = JSON.stringify(stakeReading(farSeq, { ts: Date.now() + 86_400_000 }));
      const nearSeq = nextGoodSeq();
      const near = JSON.stringify(stakeReading(nearSeq, { ts: Date.now() + 60_000 }));
      expectedStored.get(BAD)?.add(nearSeq);

      const letters = await publishBad([far, near]);
      expectedDeadLetters.FUTURE_TIMESTAMP += 1;

      expect(letters).toHaveLength(1);
      expect(letters[0]).toMatchObject({
        deviceId: BAD,
        topic: telemetryTopic(BAD),
        reason: 'FUTURE_TIMESTAMP',
        payload: far,
      });
      expect(letters[0]?.detail).toMatch(
        /^reading ts .* is 8640\d s ahead of the ingest clock \(limit 300 s\)$/,
      );
      await expectOnlyValidReadingsStored(BAD);
    });

    it('when a batch holds one bad reading among good ones, then the good ones are stored and one dead letter names batch[i] with just that reading', async () => {
      const good = [nextGoodSeq(), nextGoodSeq(), nextGoodSeq()];
      const bad = stakeReading(nextBadSeq(), { humidityPct: 140 });
      const [first, second, fourth] = good.map((seq) => stakeReading(seq));
      const batch = [first, second, bad, fourth];
      for (const seq of good) expectedStored.get(BAD)?.add(seq);

      const letters = await publishBad([JSON.stringify({ batch })]);
      expectedDeadLetters.SCHEMA_VIOLATION += 1;

      expect(letters).toHaveLength(1);
      expect(letters[0]).toMatchObject({
        deviceId: BAD,
        topic: telemetryTopic(BAD),
        reason: 'SCHEMA_VIOLATION',
        payload: JSON.stringify(bad),
      });
      expect(letters[0]?.detail).toMatch(/^batch\[2\] \(stake\) \/humidityPct: /);
      const stored = await storedSeqs(BAD);
      for (const seq of good) expect(stored).toContain(seq);
      await expectOnlyValidReadingsStored(BAD);
    });
  });

  describe('payload size', () => {
    it('when a device sends a 10 MB payload, then the broker disconnects it and counts it, nothing reaches the ingest, and the device can reconnect and be stored', async () => {
      const mark = await lastDeadLetterId();
      const oversizedBefore = world.broker.counters.oversizedPackets;
      // The reset the offender meets is expected; it must not count as an unexpected client error.
      const offender = await connectDevice(BIG, { errors: [] });
      const closed = new Promise<void>((resolve) => offender.once('close', () => resolve()));
      const publishErrors: unknown[] = [];

      offender
        .publishAsync(telemetryTopic(BIG), Buffer.alloc(10 * 1024 * 1024, 0x61), { qos: 1 })
        .catch((err: unknown) => publishErrors.push(err));
      await closed;

      expect(world.broker.counters.oversizedPackets).toBe(oversizedBefore + 1);
      // Cut off at the packet header, before the 10 MB were buffered (the payload check after parsing is
      // only the second line of defence).
      const warnings = world.brokerWarnings.filter((w) => w.clientId === BIG);
      expect(warnings).toEqual([
        expect.objectContaining({
          msg: 'packet over the size limit, disconnecting',
          packetBytes: expect.any(Number) as number,
        }),
      ]);
      expect(warnings[0]?.packetBytes).toBeGreaterThan(10 * 1024 * 1024);
      // Never acknowledged: closing the client fails the publish still waiting for its PUBACK.
      await offender.endAsync(true);
      expect(publishErrors).toEqual([expect.objectContaining({ message: 'Connection closed' })]);
      const again = await connectDevice(BIG);
      await sendValidAndAwaitStored(again, BIG);
      await expectOnlyValidReadingsStored(BIG);
      expect(await deadLettersAfter(mark)).toEqual([]);
    });

    describe('with a broker that admits larger payloads than the ingest', () => {
      let large: { broker: RiskfuseBroker; url: string; ingest: Ingest; maxPayloadBytes: number };

      beforeAll(async () => {
        const { broker, url } = await startBroker(world.state, {
          MQTT_MAX_PAYLOAD_BYTES: String(1024 * 1024),
        });
        const config = ingestConfig(url, 'ingest-bad-input-large');
        const ingest = createIngest({
          config,
          telemetry: world.telemetry,
          state: world.state,
          log: silentLogger,
        });
        ingests.push(ingest);
        await ingest.start();
        large = { broker, url, ingest, maxPayloadBytes: config.maxPayloadBytes };
      });

      afterAll(async () => {
        await Promise.all(openClients.splice(0).map((c) => c.endAsync(true)));
        await large.ingest.stop();
        await large.broker.close();
      });

      it('when a payload is one byte over INGEST_MAX_PAYLOAD_BYTES, then it is dead-lettered PAYLOAD_TOO_LARGE with the payload truncated, and nothing of it is stored', async () => {
        expect(large.maxPayloadBytes).toBe(262_144); // the default, below this broker's 1 MiB
        const size = large.maxPayloadBytes + 1;
        const head = JSON.stringify(stakeReading(nextBadSeq(), { pad: '' })).slice(0, -2);
        const payload = `${head}${'x'.repeat(size - head.length - 2)}"}`;
        expect(Buffer.byteLength(payload)).toBe(size);

        const letters = await publishBad([payload], large.url);
        expectedDeadLetters.PAYLOAD_TOO_LARGE += 1;

        expect(letters).toHaveLength(1);
        expect(letters[0]).toMatchObject({
          deviceId: BAD,
          topic: telemetryTopic(BAD),
          reason: 'PAYLOAD_TOO_LARGE',
          detail: `payload is ${size} bytes; the limit is ${large.maxPayloadBytes}`,
          payload: `${payload.slice(0, 4096)}…(${size} bytes)`,
        });
        await expectOnlyValidReadingsStored(BAD);
      });
    });
  });

  it('when the suite is over, then every reading acknowledged to the background device is stored, each dead letter was written once, and nothing bad was stored', async () => {
    await background.stop();
    expect(background.errors).toEqual([]);
    expect(background.closes).toBe(0);
    // It ran through every test above: after each one, `afterEach` saw new acks and their storage.
    expect(backgroundChecks).toBeGreaterThan(0);

    await eventually(
      () => world.telemetry.count({ deviceIds: [BACKGROUND] }),
      (n) => n >= background.acked.size,
      'background readings stored',
    );
    const stored = await storedSeqs(BACKGROUND);
    expect(stored).toHaveLength(background.acked.size);
    expect(new Set(stored)).toEqual(background.acked);

    const byReason = (count: (r: RejectReason) => number) =>
      Object.fromEntries(REJECT_REASONS.map((r) => [r, count(r)]));
    const deadLettersStored: Record<string, number> = {};
    for (const r of REJECT_REASONS) deadLettersStored[r] = await world.state.deadLetters.countDeadLetters(r);
    expect(deadLettersStored).toEqual(expectedDeadLetters);
    expect(byReason((r) => ingests.reduce((n, i) => n + i.counters.rejectedByReason[r], 0))).toEqual(
      expectedDeadLetters,
    );
    for (const id of PROVISIONED.filter((d) => d !== BACKGROUND)) await expectOnlyValidReadingsStored(id);
    expect(clientErrors).toEqual([]);
  });
});
