import { mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { ConfigOf } from '../config.js';
import { errorMessage } from '../errors.js';
import type { Logger } from '../logger.js';
import { createInfluxTelemetryStore } from './influx-telemetry-store.js';
import { openSqliteTelemetryStore } from './sqlite-telemetry-store.js';
import type { telemetryConfigSpec } from './telemetry-config.js';
import type { TelemetryStore } from './telemetry-store.js';

/**
 * The one config switch between telemetry backends: InfluxDB when `INFLUX_URL` is set, otherwise the embedded
 * SQLite file at `TELEMETRY_DB_PATH` (default `DATA_DIR/telemetry.db`).
 */
export async function openTelemetryStore(
  cfg: ConfigOf<typeof telemetryConfigSpec>,
  log: Logger,
): Promise<TelemetryStore> {
  if (cfg.influxUrl !== undefined) {
    const store = createInfluxTelemetryStore({ ...cfg, influxUrl: cfg.influxUrl }, { log });
    try {
      await store.ensureDatabase();
    } catch (err) {
      // InfluxDB may come up after us (compose, restarts): writes fail retryably until it does, and the
      // database is created on the first write that finds it missing.
      log.warn({ url: store.url, err: errorMessage(err) }, 'InfluxDB not reachable at start-up; continuing');
    }
    if (cfg.influxDownsample === 'auto') {
      // Retention policies and continuous queries (influx-downsampling.ts); until they exist, raw points answer.
      await store
        .ensureDownsampling({
          rawDays: cfg.telemetryRawRetentionDays,
          hourlyDays: cfg.telemetryHourlyRetentionDays,
          dailyDays: cfg.telemetryDailyRetentionDays,
        })
        .catch((err: unknown) =>
          log.warn(
            { err: errorMessage(err) },
            'InfluxDB downsampling not set up at start-up; reading raw points',
          ),
        );
    }
    log.info(
      { url: store.url, database: store.database, writeApi: cfg.influxWriteApi },
      'telemetry store: InfluxDB',
    );
    return store;
  }
  const path = cfg.telemetryDbPath ?? join(cfg.dataDir, 'telemetry.db');
  await mkdir(dirname(path), { recursive: true });
  return openSqliteTelemetryStore(path, { log, readerThreads: cfg.telemetryReaderThreads });
}
