/**
 * `npm run bench:drain` — how fast the ingest's session drains a backlog of queued readings: two brokers on Redis
 * (MQTT_PERSISTENCE=redis) against one broker with SQLite sessions (the default) in the same run, every part its
 * own process (brokers, ingest, InfluxDB, Redis).
 *
 * At 100,000 devices (`npm run bench:connections`) the ingest's session in Redis held 75,000–90,000 queued copies
 * and drained at ~300 readings/s while 1,667/s were offered: publish → stored p99 67 s. A drain rate that falls as
 * the backlog grows is the sign of per-message work that grows with the queue, so each setup drains a small and a
 * large backlog (BENCH_SMALL, BENCH_BACKLOG) and the bench reports the ratio of the two rates.
 *
 * Two ways a backlog forms, each measured (BENCH_MODES):
 * - `paused`: the ingest stays connected but is stopped (SIGSTOP) while the devices publish the backlog, then
 *   resumed (SIGCONT): the broker delivers it live, as to a connected ingest that fell behind;
 * - `restarted`: the ingest is stopped (SIGTERM) while the devices publish, then started again: the broker
 *   replays its session's queue on CONNECT.
 * Drain rate = backlog / time from SIGCONT (or the restarted ingest's SUBACK) until every reading of the backlog
 * is in InfluxDB and, on Redis, every copy acknowledged (the session's list empty). For the
 * Redis setup, where the time goes: Redis' own time per drained message (`INFO commandstats` over the drain,
 * top commands), the session list's length before and after, and the brokers' CPU per drained message.
 *
 * Environment: BENCH_BACKLOG (30000), BENCH_SMALL (3000), BENCH_DEVICES (200), BENCH_INFLIGHT (10 publishes
 * in flight per device), BENCH_MODES (paused,restarted), BENCH_SETUPS (sqlite,redis), BENCH_DRAIN_TIMEOUT_MS
 * (300000: a drain that has not finished by then fails the bench with how much was stored),
 * BENCH_INGEST_KEEPALIVE_S (600), BENCH_PROCESS_LOG_LEVEL (the brokers' and ingest's LOG_LEVEL, info), BENCH_LOG_DIR
 * (where a short drain writes every process's output). A short drain prints, before the bench fails, which sequence
 * numbers of which devices never reached the store, the processes' warnings and what the session file still queues.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { Redis } from 'ioredis';
import mqtt from 'mqtt';
import { parseConfig } from '../core/config.js';
import { telemetryTopic } from '../core/contracts/index.js';
import { issueToken } from '../core/credentials.js';
import { silentLogger } from '../core/logger.js';
import { openDatabase, stateConfigSpec, stateOn } from '../core/state/index.js';
import { openTelemetryStore } from '../core/storage/open-telemetry-store.js';
import type { TelemetryStore } from '../core/storage/telemetry-store.js';
import { telemetryConfigSpec } from '../core/storage/telemetry-config.js';
import { freePort } from '../test/support/child-process.js';
import { startInfluxd, type Influxd } from '../test/support/influxd.js';
import { provisionStakes } from '../test/support/provision.js';
import { startRedis, type RedisServer } from '../test/support/redis.js';
import { spawnRiskfuse, type RiskfuseProcess } from '../test/support/riskfuse-process.js';
import { stakePayload } from './stored-latency.js';
import { envInt, processCpuSeconds, runBench } from './support.js';

const BACKLOG = envInt('BENCH_BACKLOG', 30_000);
const SMALL = envInt('BENCH_SMALL', 3000);
const DEVICES = envInt('BENCH_DEVICES', 200);
const INFLIGHT = envInt('BENCH_INFLIGHT', 10);
const MODES = (process.env.BENCH_MODES ?? 'paused,restarted').split(',') as Mode[];
const SETUPS = (process.env.BENCH_SETUPS ?? 'sqlite,redis').split(',') as SetupName[];
/** The ingest's session (its default client id) and its queue in Redis (aedes-persistence-redis' key). */
const INGEST_LIST = 'outgoing:riskfuse-ingest';
/** The paused ingest's keep-alive: long enough that the broker keeps its connection through the pause. */
const INGEST_KEEPALIVE_S = envInt('BENCH_INGEST_KEEPALIVE_S', 600);
const DRAIN_TIMEOUT_MS = envInt('BENCH_DRAIN_TIMEOUT_MS', 300_000);

type Mode = 'paused' | 'restarted';
type SetupName = 'sqlite' | 'redis';

interface Drain {
  readonly backlog: number;
  readonly perS: number;
  /** Until every reading is in InfluxDB. */
  readonly storedMs: number;
  /** Until then and, on Redis, until every copy is acknowledged (the session's list is empty). */
  readonly drainMs: number;
  readonly publishPerS: number;
  readonly load: number;
  readonly brokerCpuUsPerMessage: number;
  /** Redis setup only: the session list's length when the drain began and once it was done. */
  readonly listBefore?: number;
  readonly listAfter?: number;
  readonly redisUsPerMessage?: number;
  /** The commands Redis spent most time on during the drain: µs per drained message. */
  readonly redisTop?: Record<string, number>;
}

interface Setup {
  readonly name: SetupName;
  readonly store: TelemetryStore;
  readonly brokers: RiskfuseProcess[];
  /** Devices publish here; the ingest connects to the first broker. */
  readonly devicesUrl: string;
  readonly startIngest: () => Promise<RiskfuseProcess>;
  readonly redis?: Redis;
  /** Where the SQLite setup's broker keeps its session file (`broker-0.db`). */
  readonly dir: string;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * A device's reading `seq` is stamped FIRST_TS + seq s: unique per device across drains, and in the past for any
 * share of the backlog one device gets (one device once published 6,430 of 50,000; from an hour ago its last
 * 2,483 were ahead of the clock and rightly rejected as FUTURE_TIMESTAMP, which read as readings lost).
 */
const FIRST_TS = Date.now() - 2 * 86_400_000;

/** Publishes `count` readings over the devices (QoS 1, BENCH_INFLIGHT each); resolves when all are PUBACKed. */
async function publish(url: string, tokens: Map<string, string>, count: number, seqs: Map<string, number>) {
  const ids = [...tokens.keys()];
  const clients = await Promise.all(
    [...tokens].map(([id, password]) =>
      mqtt.connectAsync(url, { clientId: id, username: id, password, clean: true }),
    ),
  );
  let left = count;
  const t0 = performance.now();
  await Promise.all(
    clients.flatMap((client, i) =>
      Array.from({ length: INFLIGHT }, async () => {
        const id = ids[i] as string;
        while (left > 0) {
          left -= 1;
          const seq = (seqs.get(id) ?? 0) + 1;
          seqs.set(id, seq);
          await client.publishAsync(telemetryTopic(id), stakePayload(FIRST_TS + seq * 1000, seq), { qos: 1 });
        }
      }),
    ),
  );
  const perS = Math.round((count * 1000) / (performance.now() - t0));
  await Promise.all(clients.map((c) => c.endAsync()));
  return perS;
}

/**
 * Why a drain came up short, printed before the bench fails: which devices' sequence numbers never reached the
 * store, what each process logged at warn or above, and what the SQLite session file still queues.
 */
async function explainShort(setup: Setup, seqs: Map<string, number>): Promise<void> {
  const missing: string[] = [];
  for (const [id, last] of seqs) {
    const rs = await setup.store.range({ deviceIds: [id], fromMs: 0, toMs: Date.now(), limit: 10_000 });
    const have = new Set(rs.map((r) => r.seq));
    const gone: number[] = [];
    for (let s = 1; s <= last; s++) if (!have.has(s)) gone.push(s);
    if (gone.length > 0) missing.push(`${id}: ${gone.join(',')}`);
  }
  console.log(`missing (${missing.length} devices):\n  ${missing.slice(0, 20).join('\n  ')}`);
  for (const [i, p] of running.entries()) {
    const lines = p
      .output()
      .split('\n')
      .filter((l) => /"level":(40|50|60)/.test(l));
    if (process.env.BENCH_LOG_DIR)
      writeFileSync(join(process.env.BENCH_LOG_DIR, `process-${i}.log`), p.output());
    console.log(
      `process ${i} (${setup.brokers.includes(p) ? 'broker' : 'ingest'}): ${lines.length} warnings\n  ${lines.slice(-15).join('\n  ')}`,
    );
  }
  if (setup.name === 'sqlite') {
    const db = new Database(join(setup.dir, 'broker-0.db'), { readonly: true, fileMustExist: true });
    try {
      console.log(
        'session file, outgoing rows:',
        db.prepare('SELECT client_id, count(*) AS n FROM outgoing GROUP BY client_id').all(),
      );
    } finally {
      db.close();
    }
  }
}

/** Redis' `INFO commandstats`: command → µs spent. */
async function commandUs(redis: Redis): Promise<Map<string, number>> {
  const info = await redis.info('commandstats');
  const out = new Map<string, number>();
  for (const m of info.matchAll(/^cmdstat_([^:]+):calls=\d+,usec=(\d+)/gm))
    out.set(m[1] as string, Number(m[2]));
  return out;
}

async function drain(
  setup: Setup,
  ingest: RiskfuseProcess,
  mode: Mode,
  backlog: number,
  tokens: Map<string, string>,
  seqs: Map<string, number>,
): Promise<{ drain: Drain; ingest: RiskfuseProcess }> {
  const before = await setup.store.count({});
  if (mode === 'paused') ingest.child.kill('SIGSTOP');
  else await ingest.kill('SIGTERM');
  const publishPerS = await publish(setup.devicesUrl, tokens, backlog, seqs);
  const listBefore = await setup.redis?.llen(INGEST_LIST);
  await setup.redis?.config('RESETSTAT');
  const pids = setup.brokers.map((b) => b.child.pid as number);
  const cpu0 = pids.reduce((s, pid) => s + processCpuSeconds(pid), 0);
  if (mode === 'restarted') ingest = await setup.startIngest();
  // From SIGCONT, or from the restarted ingest's SUBACK (its process start is not the broker's to drain).
  const t0 = performance.now();
  if (mode === 'paused') ingest.child.kill('SIGCONT');
  const deadline = t0 + DRAIN_TIMEOUT_MS;
  const waitUntil = async (done: () => Promise<boolean>): Promise<number> => {
    while (!(await done())) {
      if (performance.now() > deadline) {
        const stored = (await setup.store.count({})) - before;
        const queued = await setup.redis?.llen(INGEST_LIST);
        await explainShort(setup, seqs);
        throw new Error(
          `${setup.name} ${mode}: after ${DRAIN_TIMEOUT_MS} ms, ${stored} of ${backlog} PUBACKed readings stored${queued === undefined ? '' : `, ${queued} still queued in Redis`}`,
        );
      }
      await sleep(100);
    }
    return performance.now() - t0;
  };
  const storedMs = await waitUntil(async () => (await setup.store.count({})) - before >= backlog);
  // Drained once every copy is acknowledged too: the session's list in Redis is empty.
  const redis = setup.redis;
  const drainMs =
    redis === undefined ? storedMs : await waitUntil(async () => (await redis.llen(INGEST_LIST)) === 0);
  const cpu = pids.reduce((s, pid) => s + processCpuSeconds(pid), 0) - cpu0;
  const load = Math.round((loadavg()[0] ?? 0) * 10) / 10;
  let redisFigures: Partial<Drain> = {};
  if (setup.redis !== undefined) {
    const us = await commandUs(setup.redis);
    const total = [...us.values()].reduce((a, b) => a + b, 0);
    const top = [...us].sort((a, b) => b[1] - a[1]).slice(0, 4);
    redisFigures = {
      listBefore: listBefore ?? 0,
      listAfter: await setup.redis.llen(INGEST_LIST),
      redisUsPerMessage: Math.round((total / backlog) * 10) / 10,
      redisTop: Object.fromEntries(top.map(([k, v]) => [k, Math.round((v / backlog) * 10) / 10])),
    };
  }
  return {
    ingest,
    drain: {
      backlog,
      perS: Math.round((backlog * 1000) / drainMs),
      storedMs: Math.round(storedMs),
      drainMs: Math.round(drainMs),
      publishPerS,
      load,
      brokerCpuUsPerMessage: Math.round((cpu * 1e6) / backlog),
      ...redisFigures,
    },
  };
}

async function openSetup(
  name: SetupName,
  common: Record<string, string>,
  influxd: Influxd,
  redis: RedisServer,
  dir: string,
): Promise<Setup> {
  const ports = await Promise.all((name === 'redis' ? [0, 1] : [0]).map(() => freePort()));
  const brokers = ports.map((port, i) =>
    spawnRiskfuse(['broker'], {
      ...common,
      LOG_LEVEL: process.env.BENCH_PROCESS_LOG_LEVEL ?? 'info',
      MQTT_HOST: '127.0.0.1',
      MQTT_PORT: String(port),
      ...(name === 'redis'
        ? { MQTT_PERSISTENCE: 'redis', MQTT_REDIS_URL: redis.url }
        : { MQTT_PERSISTENCE_PATH: join(dir, `broker-${i}.db`) }),
    }),
  );
  running.push(...brokers);
  await Promise.all(brokers.map((b) => b.waitFor(/MQTT broker listening/, 120_000)));
  const store = await openTelemetryStore(
    parseConfig(telemetryConfigSpec, { INFLUX_URL: influxd.url, INFLUX_DATABASE: `drain_${name}` }),
    silentLogger,
  );
  const startIngest = async (): Promise<RiskfuseProcess> => {
    const ingest = spawnRiskfuse(['ingest'], {
      ...common,
      LOG_LEVEL: process.env.BENCH_PROCESS_LOG_LEVEL ?? 'info',
      // Paused for as long as the backlog takes to publish: without a longer keep-alive the broker would close
      // the connection of the paused ingest after 45 s, and `paused` would measure a reconnect.
      INGEST_KEEPALIVE_S: String(INGEST_KEEPALIVE_S),
      INFLUX_URL: influxd.url,
      INFLUX_DATABASE: `drain_${name}`,
      MQTT_URL: `mqtt://127.0.0.1:${ports[0]}`,
    });
    running.push(ingest);
    await ingest.waitFor(/"msg":"subscribed"/, 120_000);
    return ingest;
  };
  return {
    name,
    store,
    brokers,
    devicesUrl: `mqtt://127.0.0.1:${ports[ports.length - 1]}`,
    startIngest,
    dir,
    ...(name === 'redis' ? { redis: new Redis(redis.url) } : {}),
  };
}

/** Every process started, stopped in `finally` (and SIGCONT first: a stopped process ignores SIGTERM). */
const running: RiskfuseProcess[] = [];

runBench(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'rf-bench-drain-'));
  const [influxd, redis] = await Promise.all([startInfluxd(), startRedis({ appendfsync: 'everysec' })]);
  const results: Record<string, Record<string, Drain>> = {};
  try {
    const state = stateOn(
      await openDatabase(parseConfig(stateConfigSpec, { DATA_DIR: dir }), silentLogger, 'bench'),
    );
    const tokens = await provisionStakes(
      state,
      Array.from({ length: DEVICES }, (_, i) => `stk-d-${String(i).padStart(4, '0')}`),
    );
    await state.close();
    const common = { DATA_DIR: dir, MQTT_SERVICE_TOKEN: issueToken() };
    const seqs = new Map<string, number>();
    for (const name of SETUPS) {
      const setup = await openSetup(name, common, influxd, redis, dir);
      let ingest = await setup.startIngest();
      for (const mode of MODES) {
        for (const backlog of name === 'redis' ? [SMALL, BACKLOG] : [BACKLOG]) {
          const r = await drain(setup, ingest, mode, backlog, tokens, seqs);
          ingest = r.ingest;
          (results[name] ??= {})[`${mode}-${backlog}`] = r.drain;
          console.log(`${name.padEnd(6)} ${mode.padEnd(9)} ${JSON.stringify(r.drain)}`);
        }
      }
      await setup.store.close();
      setup.redis?.disconnect();
      for (const p of running.splice(0).reverse()) {
        p.child.kill('SIGCONT');
        await p.kill('SIGTERM');
      }
    }
  } finally {
    for (const p of running.splice(0).reverse()) {
      p.child.kill('SIGCONT');
      await p.kill('SIGKILL');
    }
    await Promise.all([influxd.stop(), redis.stop()]);
    rmSync(dir, { recursive: true, force: true });
  }
  const ratios: Record<string, number> = {};
  const r2 = (x: number): number => Math.round(x * 100) / 100;
  for (const mode of MODES) {
    const small = results.redis?.[`${mode}-${SMALL}`];
    const large = results.redis?.[`${mode}-${BACKLOG}`];
    const sqlite = results.sqlite?.[`${mode}-${BACKLOG}`];
    if (small && large) ratios[`${mode}LargeToSmallRatio`] = r2(large.perS / small.perS);
    if (sqlite && large) ratios[`${mode}RedisToSqliteRatio`] = r2(large.perS / sqlite.perS);
  }
  console.log(
    `drain rate, Redis (2 brokers): large backlog / small ${JSON.stringify(ratios)} (1 = the rate does not depend on the backlog)`,
  );
  console.log(
    JSON.stringify({
      bench: 'drain',
      backlog: BACKLOG,
      small: SMALL,
      devices: DEVICES,
      ...results,
      ...ratios,
    }),
  );
});
