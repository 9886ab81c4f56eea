import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import Database from 'better-sqlite3';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { freePort, requireInfluxOrSkip, startInfluxd, type Influxd } from '../../test/support/influxd.js';
import { parseConfig } from '../config.js';
import type { Reading } from '../contracts/index.js';
import { createInfluxTelemetryStore, type InfluxTelemetryStore } from '../storage/influx-telemetry-store.js';
import { openTelemetryStore } from '../storage/open-telemetry-store.js';
import { openSqliteTelemetryStore } from '../storage/sqlite-telemetry-store.js';
import { telemetryConfigSpec } from '../storage/telemetry-config.js';
import { silentLogger } from '../logger.js';
import { telemetryResolutionsContract } from './telemetry-resolutions.contract.js';
import { telemetryStoreContract } from './telemetry-store.contract.js';

const T0 = 1_700_000_000_000;

function reading(seq: number, fields: Reading['fields'] = { weightKg: seq * 1.5 }): Reading {
  return {
    kind: 'stake',
    deviceId: 'stake-01',
    borrowerId: 'borrower-1',
    siteId: 'site-1',
    ts: T0 + seq * 1_000,
    seq,
    fields,
  };
}

function influxConfig(
  url: string,
  env: Record<string, string> = {},
): ReturnType<typeof parseConfig<typeof telemetryConfigSpec>> & {
  influxUrl: string;
} {
  const cfg = parseConfig(telemetryConfigSpec, {
    INFLUX_URL: url,
    INFLUX_DATABASE: `t_${randomUUID().replace(/-/g, '')}`,
    ...env,
  });
  return { ...cfg, influxUrl: url };
}

const DAY = 86_400_000;

async function influxql(url: string, q: string): Promise<unknown> {
  const res = await fetch(`${url}/query`, { method: 'POST', body: new URLSearchParams({ q }) });
  return res.json();
}

// ---------------------------------------------------------------------------------------------------------
// SQLite

telemetryStoreContract('sqlite', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'rf-telemetry-'));
  const store = openSqliteTelemetryStore(join(dir, 'telemetry.db'));
  return {
    store,
    cleanup: async () => {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
});

telemetryResolutionsContract(
  'sqlite',
  async () => {
    const dir = await mkdtemp(join(tmpdir(), 'rf-telemetry-'));
    const store = openSqliteTelemetryStore(join(dir, 'telemetry.db'));
    return {
      store,
      cleanup: async () => {
        await store.close();
        await rm(dir, { recursive: true, force: true });
      },
    };
  },
  { retention: true },
);

describe('SQLite telemetry store', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'rf-telemetry-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('when the store is closed and reopened, then the data is still there', async () => {
    const path = join(dir, 'telemetry.db');
    const first = openSqliteTelemetryStore(path);
    const batch = [reading(1), reading(2), reading(3, { weightKg: 7, sceneId: 'x' })];
    await first.writeReadings(batch);
    await first.close();

    const raw = new Database(path, { readonly: true });
    expect(raw.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(raw.pragma('user_version', { simple: true })).toBe(3);
    raw.close();

    const second = openSqliteTelemetryStore(path);
    try {
      expect(await second.count({})).toBe(3);
      expect(await second.range({ fromMs: T0, toMs: T0 + 10_000, limit: 10 })).toEqual(batch);
      await second.writeReadings(batch);
      expect(await second.count({})).toBe(3);
    } finally {
      await second.close();
    }
  });

  it('when the file has a newer schema than this build knows, then opening fails with MIGRATION_FAILED', () => {
    const path = join(dir, 'future.db');
    const raw = new Database(path);
    raw.pragma('user_version = 99');
    raw.close();
    expect(() => openSqliteTelemetryStore(path)).toThrow(
      expect.objectContaining({ code: 'MIGRATION_FAILED' }),
    );
  });

  it('when the store is closed, then further calls are refused with SHUTTING_DOWN', async () => {
    const store = openSqliteTelemetryStore(join(dir, 'closed.db'));
    await store.close();
    await store.close();
    await expect(store.writeReadings([reading(1)])).rejects.toMatchObject({ code: 'SHUTTING_DOWN' });
    await expect(store.count({})).rejects.toMatchObject({ code: 'SHUTTING_DOWN' });
  });

  it('when writes are in flight and the store is closed, then close waits for them and they are on disk', async () => {
    const path = join(dir, 'telemetry.db');
    const store = openSqliteTelemetryStore(path);
    const batches = Array.from({ length: 20 }, (_, b) =>
      Array.from({ length: 500 }, (_, i) => reading(b * 500 + i + 1)),
    );
    const writes = batches.map((batch) => store.writeReadings(batch));
    await store.close();
    await expect(Promise.all(writes)).resolves.toHaveLength(20);
    const raw = new Database(path, { readonly: true });
    expect(raw.prepare('SELECT count(*) AS n FROM readings').get()).toEqual({ n: 10_000 });
    raw.close();
  });

  it('when the writer thread cannot open the file, then the write fails as retryable STORE_UNAVAILABLE and the store stays usable', async () => {
    const sub = join(dir, 'moved');
    await mkdir(sub);
    const path = join(sub, 'telemetry.db');
    const store = openSqliteTelemetryStore(path);
    try {
      // The store's own connection keeps the unlinked file; the writer thread, started on the first write,
      // finds no folder at all.
      await rm(sub, { recursive: true, force: true });
      await expect(store.writeReadings([reading(1)])).rejects.toMatchObject({
        code: 'STORE_UNAVAILABLE',
        retryable: true,
      });
      expect(await store.count({})).toBe(0);
    } finally {
      await store.close();
    }
  });

  it('when INFLUX_URL is unset, then openTelemetryStore opens SQLite at DATA_DIR/telemetry.db, creating the folder', async () => {
    const dataDir = join(dir, 'nested', 'data');
    const store = await openTelemetryStore(
      parseConfig(telemetryConfigSpec, { DATA_DIR: dataDir }),
      silentLogger,
    );
    try {
      expect(store.backend).toBe('sqlite');
      await store.writeReadings([reading(1)]);
      expect(existsSync(join(dataDir, 'telemetry.db'))).toBe(true);
    } finally {
      await store.close();
    }
  });
});

// ---------------------------------------------------------------------------------------------------------
// InfluxDB: one real influxd for this file, a fresh database per test

describe.skipIf(requireInfluxOrSkip())('InfluxDB telemetry store', () => {
  let started: Influxd | undefined;
  const influxd = (): Influxd => {
    if (started === undefined) throw new Error('influxd did not start (see the beforeAll error)');
    return started;
  };
  beforeAll(async () => {
    started = await startInfluxd();
  });
  afterAll(async () => {
    await started?.stop();
  });

  const openInflux = async (
    env: Record<string, string> = {},
  ): Promise<{ store: InfluxTelemetryStore; cleanup: () => Promise<void> }> => {
    const cfg = influxConfig(influxd().url, env);
    const store = createInfluxTelemetryStore(cfg);
    await store.ensureDatabase();
    return {
      store,
      cleanup: async () => {
        await store.close();
        if (influxd().running()) await influxql(influxd().url, `DROP DATABASE "${cfg.influxDatabase}"`);
      },
    };
  };

  telemetryStoreContract('influxdb', () => openInflux());
  // Downsampled: windows read rf_hourly/rf_daily where they tile them; settle runs what the continuous queries
  // run every hour (the history is months old, past the freshness cut).
  telemetryResolutionsContract(
    'influxdb',
    async () => {
      const subject = await openInflux();
      expect(await subject.store.ensureDownsampling({ rawDays: 0, hourlyDays: 0, dailyDays: 0 })).toBe(true);
      return { ...subject, settle: () => subject.store.downsample(0, Date.now()) };
    },
    { retention: false },
  );

  describe('adapter', () => {
    it('when downsampling is on, then past days are read from rf_daily, a late reading reaches them at the next continuous-query run, and ensuring again changes nothing', async () => {
      const subject = await openInflux();
      const { store } = subject;
      try {
        const retention = { rawDays: 0, hourlyDays: 400, dailyDays: 0 };
        expect(await store.ensureDownsampling(retention)).toBe(true);
        expect(await store.ensureDownsampling(retention)).toBe(true);
        const shown = JSON.stringify(await influxql(influxd().url, 'SHOW CONTINUOUS QUERIES'));
        expect(shown.match(/\["rf1_stake_1d",/g)).toHaveLength(1);
        const day = Date.UTC(2026, 0, 10);
        const base = { kind: 'stake', deviceId: 'ds-1', borrowerId: 'ds-b', siteId: 'ds-s' } as const;
        await store.writeReadings([
          { ...base, ts: day + 1_000, seq: 1, fields: { weightKg: 10 } },
          { ...base, ts: day + 7_200_000, seq: 2, fields: { weightKg: 20 } },
        ]);
        await store.downsample(day - DAY, day + 2 * DAY);
        const q = {
          kind: 'stake',
          field: 'weightKg',
          fromMs: day,
          toMs: day + DAY,
          intervalMs: DAY,
          groupBy: 'device',
        } as const;
        expect(await store.aggregate(q)).toMatchObject([{ count: 2, mean: 15, first: 10, last: 20 }]);
        // Late, and no continuous query has run since: the day still answers from rf_daily.
        await store.writeReadings([{ ...base, ts: day + 3_600_000, seq: 3, fields: { weightKg: 60 } }]);
        expect(await store.aggregate(q)).toMatchObject([{ count: 2, max: 20 }]);
        await store.downsample(day - DAY, day + 2 * DAY);
        expect(await store.aggregate(q)).toMatchObject([{ count: 3, mean: 30, max: 60, last: 20 }]);
      } finally {
        await subject.cleanup();
      }
    });

    it('when influxd is down, then writeReadings rejects with retryable STORE_UNAVAILABLE, and works again once it is back', async () => {
      const { store, cleanup } = await openInflux();
      try {
        await store.writeReadings([reading(1)]);
        await influxd().halt();
        const down = store.writeReadings([reading(2)]);
        await expect(down).rejects.toMatchObject({ code: 'STORE_UNAVAILABLE', retryable: true });
        await expect(store.ping()).rejects.toMatchObject({ code: 'STORE_UNAVAILABLE' });
        await expect(store.count({})).rejects.toMatchObject({ code: 'STORE_UNAVAILABLE' });
        await influxd().restart();
        await store.writeReadings([reading(2)]);
        // the reading acknowledged before the stop survived it
        expect(await store.count({})).toBe(2);
      } finally {
        if (!influxd().running()) await influxd().restart();
        await cleanup();
      }
    });

    it('when influxd hangs, then a write fails with STORE_UNAVAILABLE after INFLUX_TIMEOUT_MS', async () => {
      const { store, cleanup } = await openInflux({ INFLUX_TIMEOUT_MS: '300' });
      try {
        influxd().pause();
        const started = Date.now();
        await expect(store.writeReadings([reading(1)])).rejects.toMatchObject({
          code: 'STORE_UNAVAILABLE',
          retryable: true,
        });
        expect(Date.now() - started).toBeLessThan(5_000);
      } finally {
        influxd().resume();
        await cleanup();
      }
    });

    it('when nothing listens at INFLUX_URL, then every call fails with STORE_UNAVAILABLE', async () => {
      const store = createInfluxTelemetryStore(influxConfig(`http://127.0.0.1:${await freePort()}`));
      await expect(store.writeReadings([reading(1)])).rejects.toMatchObject({
        code: 'STORE_UNAVAILABLE',
        retryable: true,
      });
      await expect(store.range({ fromMs: T0, toMs: T0 + 1, limit: 1 })).rejects.toMatchObject({
        code: 'STORE_UNAVAILABLE',
      });
      await expect(store.ping()).rejects.toMatchObject({ code: 'STORE_UNAVAILABLE' });
    });

    it('when a field changes type, then the write is refused with STORE_REJECTED (not retryable)', async () => {
      const { store, cleanup } = await openInflux();
      try {
        await store.writeReadings([reading(1, { note: 'text' })]);
        await expect(store.writeReadings([reading(2, { note: 42 })])).rejects.toMatchObject({
          code: 'STORE_REJECTED',
          retryable: false,
          message: expect.stringContaining('field type conflict') as unknown,
        });
      } finally {
        await cleanup();
      }
    });

    it('when numbers are written, then they are stored as floats, so integer-looking values never conflict', async () => {
      const { store, cleanup } = await openInflux();
      try {
        await store.writeReadings([reading(1, { itemCount: 3 }), reading(2, { itemCount: 3.25 })]);
        const body = (await influxql(
          influxd().url,
          `SHOW FIELD KEYS ON "${store.database}" FROM "stake"`,
        )) as {
          results: { series: { values: [string, string][] }[] }[];
        };
        expect(body.results[0]?.series[0]?.values).toEqual([
          ['itemCount', 'float'],
          ['seq', 'float'],
        ]);
      } finally {
        await cleanup();
      }
    });

    it('when the database does not exist, then the first write creates it (auto) or is refused (never)', async () => {
      const cfg = influxConfig(influxd().url);
      const auto = createInfluxTelemetryStore(cfg);
      await auto.writeReadings([reading(1)]);
      expect(await auto.count({})).toBe(1);
      await influxql(influxd().url, `DROP DATABASE "${cfg.influxDatabase}"`);

      const never = createInfluxTelemetryStore(
        influxConfig(influxd().url, { INFLUX_CREATE_DATABASE: 'never' }),
      );
      await never.ensureDatabase();
      await expect(never.writeReadings([reading(1)])).rejects.toMatchObject({ code: 'STORE_REJECTED' });
      await expect(never.count({})).rejects.toMatchObject({ code: 'STORE_REJECTED' });
    });

    it('when INFLUX_URL is set, then openTelemetryStore returns the InfluxDB store with its database created', async () => {
      const database = `t_${randomUUID().replace(/-/g, '')}`;
      const store = await openTelemetryStore(
        parseConfig(telemetryConfigSpec, { INFLUX_URL: influxd().url, INFLUX_DATABASE: database }),
        silentLogger,
      );
      try {
        expect(store.backend).toBe('influxdb');
        expect(JSON.stringify(await influxql(influxd().url, 'SHOW DATABASES'))).toContain(database);
      } finally {
        await store.close();
        await influxql(influxd().url, `DROP DATABASE "${database}"`);
      }
    });

    it('when influxd is stopped for a while and restarted, then it comes back on the same port with its data', async () => {
      const { store, cleanup } = await openInflux();
      try {
        await store.writeReadings([reading(1), reading(2)]);
        await influxd().stopFor(1_000);
        expect(influxd().running()).toBe(true);
        expect(await store.count({})).toBe(2);
      } finally {
        await cleanup();
      }
    });
  });
});

// ---------------------------------------------------------------------------------------------------------
// The v2 write path (InfluxDB 2.x/3.x `/api/v2/write`): influxd 1.6 has no such endpoint, so a fake HTTP
// server stands in for the third-party API and records what the client library sends.

describe('InfluxDB v2 write path', () => {
  interface Recorded {
    method: string;
    url: string;
    headers: IncomingHttpHeaders;
    body: string;
  }
  let server: Server;
  let url: string;
  let requests: Recorded[];
  let answer: { status: number; body: string };

  beforeAll(async () => {
    server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const raw = Buffer.concat(chunks);
        const body =
          req.headers['content-encoding'] === 'gzip'
            ? gunzipSync(raw).toString('utf8')
            : raw.toString('utf8');
        requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
        res.writeHead(answer.status, { 'content-type': 'application/json' });
        res.end(answer.body);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error('no address');
    url = `http://127.0.0.1:${address.port}`;
  });
  afterAll(async () => {
    await new Promise<void>((resolve, reject) => server.close((err) => (err ? reject(err) : resolve())));
  });
  beforeEach(() => {
    requests = [];
    answer = { status: 204, body: '' };
  });

  const v2Store = (): InfluxTelemetryStore =>
    createInfluxTelemetryStore(
      influxConfig(url, {
        INFLUX_WRITE_API: 'v2',
        INFLUX_TOKEN: 'secret-token',
        INFLUX_ORG: 'acme',
        INFLUX_DATABASE: 'telemetry',
      }),
    );

  it('when readings are written, then one request per ≤5,000 points goes to /api/v2/write with the token and ns time', async () => {
    const batch = Array.from({ length: 6_000 }, (_, i) => reading(i, { weightKg: i, sceneId: 'a "b", c=d' }));
    expect(await v2Store().writeReadings(batch)).toEqual({ written: 6_000 });
    expect(requests).toHaveLength(2);
    const [first, second] = requests;
    expect(first?.method).toBe('POST');
    expect(first?.url).toBe('/api/v2/write?org=acme&bucket=telemetry&precision=ns');
    expect(first?.headers.authorization).toBe('Token secret-token');
    const lines = first?.body.split('\n') ?? [];
    expect(lines).toHaveLength(5_000);
    expect(second?.body.split('\n')).toHaveLength(1_000);
    // ts × 10⁶ + seq mod 10⁶, in BigInt precision
    expect(lines[7]).toBe(
      `stake,borrower=borrower-1,device=stake-01,site=site-1 sceneId="a \\"b\\", c=d",seq=7,weightKg=7 ${T0 + 7_000}000007`,
    );
  });

  it('when the server answers 5xx, then the write rejects with STORE_UNAVAILABLE and the client does not retry on its own', async () => {
    answer = { status: 503, body: '{"code":"unavailable","message":"busy"}' };
    await expect(v2Store().writeReadings([reading(1)])).rejects.toMatchObject({
      code: 'STORE_UNAVAILABLE',
      retryable: true,
    });
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(requests).toHaveLength(1);
  });

  it('when the server answers 4xx, then the write rejects with STORE_REJECTED', async () => {
    answer = { status: 422, body: '{"code":"unprocessable entity","message":"field type conflict"}' };
    await expect(v2Store().writeReadings([reading(1)])).rejects.toMatchObject({
      code: 'STORE_REJECTED',
      retryable: false,
    });
    expect(requests).toHaveLength(1);
  });
});
