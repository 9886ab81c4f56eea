import { defineConfig, int, str, url, type ConfigOf } from '../core/config.js';

/** The API's environment (README "Configuration › API"). */
export const apiConfigSpec = defineConfig({
  apiHost: str('API_HOST', { doc: 'Interface the HTTP API binds to', default: '0.0.0.0' }),
  apiPort: int('API_PORT', {
    doc: 'HTTP API port; 0 picks a free port',
    unit: 'port',
    default: 8080,
    min: 0,
    max: 65_535,
  }),
  apiAdminKey: str('API_ADMIN_KEY', {
    doc: 'Admin API key (`rfk_<16 hex>_<43 base64url>`) registered on start when no key exists yet; unset = one is generated and printed once',
    secret: true,
  }),
  apiRateLimitPerMin: int('API_RATE_LIMIT_PER_MIN', {
    doc: 'Requests per minute allowed to each API key (unauthenticated callers: per IP); over it, 429',
    unit: 'requests/min',
    default: 600,
    min: 1,
  }),
  apiKeyCacheMs: int('API_KEY_CACHE_MS', {
    doc: 'How long an API key verified against the state store is trusted without reading it again: a key revoked through this process is refused at once, one revoked by another API process sharing the store within this time; 0 = read on every request',
    unit: 'ms',
    default: 1000,
    min: 0,
    max: 60_000,
  }),
  apiBodyLimitBytes: int('API_BODY_LIMIT_BYTES', {
    doc: 'Largest JSON request body; larger ones get 413',
    unit: 'bytes',
    default: 1_048_576,
    min: 1024,
  }),
  apiCsvBodyLimitBytes: int('API_CSV_BODY_LIMIT_BYTES', {
    doc: 'Largest CSV upload (loan-data import); larger ones get 413',
    unit: 'bytes',
    default: 52_428_800,
    min: 1024,
  }),
  apiCorsOrigins: str('API_CORS_ORIGINS', {
    doc: 'Comma-separated origins allowed to call the API from a browser (CORS); unset = CORS off',
  }),
  apiTelemetryMaxRangeDays: int('API_TELEMETRY_MAX_RANGE_DAYS', {
    doc: 'Longest time range of one telemetry query (raw readings or aggregates)',
    unit: 'days',
    default: 366,
    min: 1,
  }),
  apiTelemetryMaxPoints: int('API_TELEMETRY_MAX_POINTS', {
    doc: 'Most points one telemetry query may return (readings, or buckets × fields); more is a 400',
    unit: 'points',
    default: 10_000,
    min: 10,
    max: 100_000,
  }),
  apiMqttUrl: url('API_MQTT_URL', {
    doc: 'Broker `/ready` checks when the API runs as its own process (TCP connect); revoked devices are then cut off at their next CONNECT',
    default: 'mqtt://127.0.0.1:1883',
  }),
});

export type ApiConfig = ConfigOf<typeof apiConfigSpec>;
