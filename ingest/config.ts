import { defineConfig, int, str, url } from '../core/config.js';

export const ingestConfigSpec = defineConfig({
  mqttUrl: url('MQTT_URL', {
    doc: 'Broker the ingest subscribes to (mqtt:// or mqtts://)',
    default: 'mqtt://127.0.0.1:1883',
  }),
  serviceToken: str('MQTT_SERVICE_TOKEN', {
    doc: 'Token platform services (ingest) log in with, as user `svc:<name>`; must match the broker’s',
    secret: true,
  }),
  clientId: str('INGEST_CLIENT_ID', {
    doc: 'MQTT client id; the broker keeps its persistent session (unacknowledged messages) under this id',
    default: 'riskfuse-ingest',
  }),
  partitions: int('INGEST_PARTITIONS', {
    doc: 'Split the stream into this many partitions (one persistent session each) shared by every worker of the same INGEST_CLIENT_ID through INGEST_REDIS_URL; 0 = one session, one worker. Keep it fixed for a deployment: changing it strands what the old sessions had queued',
    unit: 'partitions',
    default: 0,
    min: 0,
    max: 1024,
  }),
  redisUrl: url('INGEST_REDIS_URL', {
    doc: 'Redis holding the ingest workers’ membership (INGEST_PARTITIONS > 0); the brokers’ MQTT_REDIS_URL will do',
    secret: true,
  }),
  workerId: str('INGEST_WORKER_ID', {
    doc: 'This worker’s name in the membership; default host name and process id',
  }),
  leaseMs: int('INGEST_LEASE_MS', {
    doc: 'A worker that has not renewed its membership for this long is out, and its partitions move to the others',
    unit: 'ms',
    default: 3000,
    min: 300,
    max: 600_000,
  }),
  batchMaxReadings: int('INGEST_BATCH_MAX_READINGS', {
    doc: 'Flush a batch to the telemetry store once it holds this many readings',
    unit: 'readings',
    default: 5000,
    min: 1,
  }),
  flushIntervalMs: int('INGEST_FLUSH_INTERVAL_MS', {
    doc: 'Flush whatever is buffered at least this often',
    unit: 'ms',
    default: 100,
    min: 1,
  }),
  maxBufferedReadings: int('INGEST_MAX_BUFFERED_READINGS', {
    doc: 'Stop reading from the broker (TCP back-pressure) while this many readings await the store',
    unit: 'readings',
    default: 50_000,
    min: 1,
  }),
  writeConcurrency: int('INGEST_WRITE_CONCURRENCY', {
    doc: 'Batches written to the telemetry store at the same time',
    unit: 'batches',
    default: 2,
    min: 1,
    max: 16,
  }),
  maxFutureSkewMs: int('INGEST_MAX_FUTURE_SKEW_MS', {
    doc: 'Readings stamped further than this ahead of the ingest clock are dead-lettered (FUTURE_TIMESTAMP)',
    unit: 'ms',
    default: 300_000,
    min: 0,
  }),
  maxPayloadBytes: int('INGEST_MAX_PAYLOAD_BYTES', {
    doc: 'Larger messages are dead-lettered (the broker refuses them first when its limit is lower)',
    unit: 'bytes',
    default: 262_144,
    min: 64,
  }),
  registryCacheMs: int('INGEST_REGISTRY_CACHE_MS', {
    doc: 'How long a device-registry lookup is reused (revocations take effect within this time)',
    unit: 'ms',
    default: 10_000,
    min: 0,
  }),
  registryCacheDevices: int('INGEST_REGISTRY_CACHE_DEVICES', {
    doc: 'Devices the registry cache holds; past it the device read longest ago is dropped (one ingest worker’s fleet fits in it)',
    default: 100_000,
    min: 1,
  }),
  retryMinMs: int('INGEST_RETRY_MIN_MS', {
    doc: 'First back-off after a failed store write',
    unit: 'ms',
    default: 100,
    min: 1,
  }),
  retryMaxMs: int('INGEST_RETRY_MAX_MS', {
    doc: 'Longest back-off between store write attempts',
    unit: 'ms',
    default: 5000,
    min: 1,
  }),
  keepaliveS: int('INGEST_KEEPALIVE_S', {
    doc: 'MQTT keep-alive of the ingest connection',
    unit: 's',
    default: 30,
    min: 0,
  }),
  shutdownFlushTimeoutMs: int('INGEST_SHUTDOWN_FLUSH_TIMEOUT_MS', {
    doc: 'On shutdown, how long to keep trying to store what is buffered (the rest is redelivered later)',
    unit: 'ms',
    default: 10_000,
    min: 0,
  }),
});
