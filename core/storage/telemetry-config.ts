import { defineConfig, int, oneOf, str, url } from '../config.js';

/** Where telemetry lives. Unset `INFLUX_URL` keeps it in the embedded SQLite file. */
export const telemetryConfigSpec = defineConfig({
  dataDir: str('DATA_DIR', { doc: 'Folder for the embedded SQLite files', default: './data' }),
  telemetryDbPath: str('TELEMETRY_DB_PATH', {
    doc: 'SQLite telemetry file (embedded backend); default DATA_DIR/telemetry.db',
  }),
  telemetryReaderThreads: int('TELEMETRY_READER_THREADS', {
    doc: 'SQLite backend: threads that read whole-portfolio feature queries beside the main one (started on first use; 0 = all on the main thread)',
    default: 1,
    min: 0,
    max: 8,
  }),
  influxUrl: url('INFLUX_URL', {
    doc: 'InfluxDB base URL; setting it moves telemetry to InfluxDB (1.x, 2.x or 3.x)',
  }),
  influxDatabase: str('INFLUX_DATABASE', {
    doc: 'InfluxDB database (1.x) or bucket mapped by DBRP (2.x/3.x)',
    default: 'riskfuse',
  }),
  influxToken: str('INFLUX_TOKEN', {
    doc: 'InfluxDB API token (2.x/3.x); sent as `Authorization: Token …`',
    secret: true,
  }),
  influxUsername: str('INFLUX_USERNAME', { doc: 'InfluxDB 1.x user (with INFLUX_PASSWORD)' }),
  influxPassword: str('INFLUX_PASSWORD', { doc: 'InfluxDB 1.x password', secret: true }),
  influxWriteApi: oneOf('INFLUX_WRITE_API', ['v1', 'v2'] as const, {
    doc: 'Write path: v1 `/write` (all versions) or v2 `/api/v2/write` via @influxdata/influxdb-client (2.x/3.x)',
    default: 'v1',
  }),
  influxOrg: str('INFLUX_ORG', { doc: 'Organisation for the v2 write path', default: 'riskfuse' }),
  influxTimeoutMs: int('INFLUX_TIMEOUT_MS', {
    doc: 'Timeout of one InfluxDB HTTP request',
    unit: 'ms',
    default: 10_000,
    min: 100,
  }),
  telemetryRawRetentionDays: int('TELEMETRY_RAW_RETENTION_DAYS', {
    doc: 'Days raw readings are kept (SQLite: the retention job; InfluxDB: the default retention policy); their hourly and daily aggregates outlive them. 0 = forever',
    unit: 'days',
    default: 90,
    min: 0,
  }),
  telemetryHourlyRetentionDays: int('TELEMETRY_HOURLY_RETENTION_DAYS', {
    doc: 'Days hourly aggregates are kept (at least the raw window). 0 = forever',
    unit: 'days',
    default: 730,
    min: 0,
  }),
  telemetryDailyRetentionDays: int('TELEMETRY_DAILY_RETENTION_DAYS', {
    doc: 'Days daily aggregates are kept (at least the hourly window). 0 = forever',
    unit: 'days',
    default: 0,
    min: 0,
  }),
  scoresThinAfterDays: int('SCORES_THIN_AFTER_DAYS', {
    doc: 'Scores older than this keep only the last of each borrower, model and day. 0 = never thin',
    unit: 'days',
    default: 30,
    min: 0,
  }),
  retentionIntervalMs: int('RETENTION_INTERVAL_MS', {
    doc: 'How often the retention job runs (one replica runs it, elected)',
    unit: 'ms',
    default: 3_600_000,
    min: 1_000,
  }),
  influxDownsample: oneOf('INFLUX_DOWNSAMPLE', ['auto', 'off'] as const, {
    doc: 'InfluxDB 1.x: create retention policies rf_hourly/rf_daily and continuous queries on start, and read whole hours and days from them (off: raw points only, retention left to the server)',
    default: 'auto',
  }),
  influxCreateDatabase: oneOf('INFLUX_CREATE_DATABASE', ['auto', 'never'] as const, {
    doc: 'Create the database on start when missing (1.x `CREATE DATABASE`; ignored when not permitted)',
    default: 'auto',
  }),
});
