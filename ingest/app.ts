import { ALL_STATUS, ALL_TELEMETRY } from '../core/contracts/index.js';
import type { ConfigOf } from '../core/config.js';
import type { Logger } from '../core/logger.js';
import type { TelemetryStore } from '../core/storage/telemetry-store.js';
import type { ingestConfigSpec } from './config.js';
import { AckingSubscriber } from './mqtt-subscriber.js';
import { IngestPipeline, type IngestCounters, type PipelineOptions } from './pipeline.js';

export type IngestConfig = ConfigOf<typeof ingestConfigSpec>;

export interface Ingest {
  start(): Promise<void>;
  stop(): Promise<void>;
  readonly counters: Readonly<IngestCounters>;
  readonly connected: boolean;
}

/** Wires the MQTT subscriber to the pipeline: each QoS 1 message is acked once the pipeline says so. */
export function createIngest(deps: {
  config: IngestConfig;
  telemetry: TelemetryStore;
  state: PipelineOptions['state'];
  log: Logger;
  onStored?: PipelineOptions['onStored'];
  onPresence?: PipelineOptions['onPresence'];
}): Ingest {
  const { config, log } = deps;
  const pipeline = new IngestPipeline({
    ...config,
    telemetry: deps.telemetry,
    state: deps.state,
    log: log.child({ component: 'ingest' }),
    onPressure: (paused) => {
      log.warn(
        { paused, buffered: pipeline.counters.bufferedReadings },
        paused ? 'back-pressure on' : 'back-pressure off',
      );
      // Called only once messages flow, so after `subscriber` below is initialised.
      if (paused) subscriber.pause();
      else subscriber.resume();
    },
    ...(deps.onStored ? { onStored: deps.onStored } : {}),
    ...(deps.onPresence ? { onPresence: deps.onPresence } : {}),
  });
  const subscriber: AckingSubscriber = new AckingSubscriber({
    url: config.mqttUrl,
    clientId: config.clientId,
    username: 'svc:ingest',
    ...(config.serviceToken === undefined ? {} : { password: config.serviceToken }),
    subscriptions: [
      { topic: ALL_TELEMETRY, qos: 1 },
      { topic: ALL_STATUS, qos: 1 },
    ],
    keepaliveS: config.keepaliveS,
    connectTimeoutMs: 10_000,
    reconnectMinMs: 200,
    reconnectMaxMs: 10_000,
    log: log.child({ component: 'ingest-mqtt' }),
    onMessage: (msg) => {
      const { messageId } = msg;
      const ack =
        msg.qos > 0 && messageId !== undefined
          ? () => void subscriber.ack(messageId, msg.connection)
          : () => undefined;
      pipeline.accept(msg.topic, msg.payload, ack);
    },
  });

  return {
    start: () => subscriber.start(),
    async stop() {
      // Stop taking messages first, store what was taken, ack it, then leave; the rest is redelivered later.
      subscriber.pause();
      await pipeline.stop(config.shutdownFlushTimeoutMs);
      await subscriber.close();
    },
    get counters() {
      return pipeline.counters;
    },
    get connected() {
      return subscriber.isConnected;
    },
  };
}
