import { defineConfig, int, oneOf, str, url } from '../config.js';

/** Where telemetry lives. Unset `INFLUX_URL` keeps it in the embedded SQLite file. */
export const telemetryConfigSpec = defineConfig({
  dataDir: str('DATA_DIR', { doc: 'Folder for the embedded SQLite files', default: './data' }),
  telemetryDbPath: str('TELEMETRY_DB_PATH', {
    doc: 'SQLite telemetry file (embedded backend); default DATA_DIR/telemetry.db',
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
  influxCreateDatabase: oneOf('INFLUX_CREATE_DATABASE', ['auto', 'never'] as const, {
    doc: 'Create the database on start when missing (1.x `CREATE DATABASE`; ignored when not permitted)',
    default: 'auto',
  }),
});
