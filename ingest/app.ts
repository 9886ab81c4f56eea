import { hostname } from 'node:os';
import { Redis } from 'ioredis';
import { ALL_STATUS, ALL_TELEMETRY, partitionClientId } from '../core/contracts/index.js';
import type { ConfigOf } from '../core/config.js';
import { errorMessage, RiskfuseError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { TelemetryStore } from '../core/storage/telemetry-store.js';
import type { ingestConfigSpec } from './config.js';
import { AckingSubscriber } from './mqtt-subscriber.js';
import { PartitionMembership } from './partition-membership.js';
import { IngestPipeline, type IngestCounters, type PipelineOptions } from './pipeline.js';

export type IngestConfig = ConfigOf<typeof ingestConfigSpec>;

export interface Ingest {
  start(): Promise<void>;
  stop(): Promise<void>;
  readonly counters: Readonly<IngestCounters>;
  readonly connected: boolean;
  /** The partitions this worker holds (INGEST_PARTITIONS > 0); empty for a single-session ingest. */
  readonly partitions: readonly number[];
}

/**
 * Wires MQTT subscribers to the pipeline: each QoS 1 message is acked once the pipeline says so.
 *
 * With INGEST_PARTITIONS = 0, one persistent session named INGEST_CLIENT_ID, as a single ingest always had.
 * With n > 0, the worker holds the partition sessions its membership gives it (partition-membership.ts), one
 * connection each, all feeding the one pipeline; acks go back on the connection a message came in on, so a
 * partition handed to another worker mid-batch has those messages redelivered there, never lost.
 */
export function createIngest(deps: {
  config: IngestConfig;
  telemetry: TelemetryStore;
  state: PipelineOptions['state'];
  log: Logger;
  onStored?: PipelineOptions['onStored'];
  onPresence?: PipelineOptions['onPresence'];
}): Ingest {
  const { config, log } = deps;
  if (config.partitions > 0 && config.redisUrl === undefined) {
    throw new RiskfuseError(
      'CONFIG_INVALID',
      'INGEST_PARTITIONS > 0 needs INGEST_REDIS_URL (the membership)',
    );
  }
  const subscribers = new Map<number, AckingSubscriber>();
  let paused = false;
  const pipeline = new IngestPipeline({
    ...config,
    telemetry: deps.telemetry,
    state: deps.state,
    log: log.child({ component: 'ingest' }),
    onPressure: (pause) => {
      log.warn(
        { paused: pause, buffered: pipeline.counters.bufferedReadings },
        pause ? 'back-pressure on' : 'back-pressure off',
      );
      paused = pause;
      for (const subscriber of subscribers.values()) {
        if (pause) subscriber.pause();
        else subscriber.resume();
      }
    },
    ...(deps.onStored ? { onStored: deps.onStored } : {}),
    ...(deps.onPresence ? { onPresence: deps.onPresence } : {}),
  });

  const subscriberFor = (clientId: string): AckingSubscriber => {
    const subscriber: AckingSubscriber = new AckingSubscriber({
      url: config.mqttUrl,
      clientId,
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
      log: log.child({ component: 'ingest-mqtt', clientId }),
      onMessage: (msg) => {
        const { messageId } = msg;
        const ack =
          msg.qos > 0 && messageId !== undefined
            ? () => void subscriber.ack(messageId, msg.connection)
            : () => undefined;
        pipeline.accept(msg.topic, msg.payload, ack);
      },
    });
    if (paused) subscriber.pause();
    return subscriber;
  };

  const redis =
    config.partitions > 0 && config.redisUrl !== undefined
      ? new Redis(config.redisUrl, { maxRetriesPerRequest: 1 })
      : undefined;
  redis?.on('error', (err: Error) => log.warn({ err: errorMessage(err) }, 'Redis (ingest membership) error'));

  /** Connects the partitions now ours, disconnects the ones no longer ours (their sessions stay on the broker). */
  const assign = async (mine: readonly number[]): Promise<void> => {
    const keep = new Set(mine);
    const leaving = [...subscribers].filter(([k]) => !keep.has(k));
    for (const [k] of leaving) subscribers.delete(k);
    await Promise.all(leaving.map(([, s]) => s.close()));
    for (const k of mine) {
      if (subscribers.has(k)) continue;
      const subscriber = subscriberFor(partitionClientId(config.clientId, k, config.partitions));
      subscribers.set(k, subscriber);
      // Not awaited: a partition connects on its own schedule; refused credentials are logged, not retried.
      subscriber.start().catch((err: unknown) => {
        log.error({ partition: k, err: errorMessage(err) }, 'ingest partition could not subscribe');
      });
    }
  };

  const membership =
    redis === undefined
      ? undefined
      : new PartitionMembership({
          redis,
          group: config.clientId,
          workerId: config.workerId ?? `${hostname()}-${process.pid}`,
          partitions: config.partitions,
          leaseMs: config.leaseMs,
          log: log.child({ component: 'ingest-membership' }),
          onAssign: assign,
        });

  return {
    async start() {
      if (membership === undefined) {
        const subscriber = subscriberFor(config.clientId);
        subscribers.set(0, subscriber);
        await subscriber.start();
        return;
      }
      await membership.start();
    },
    async stop() {
      // Stop taking messages first, store what was taken, ack it, then leave; the rest is redelivered later.
      for (const subscriber of subscribers.values()) subscriber.pause();
      await pipeline.stop(config.shutdownFlushTimeoutMs);
      if (membership !== undefined) await membership.stop();
      await Promise.all([...subscribers.values()].map((s) => s.close()));
      subscribers.clear();
      redis?.disconnect();
    },
    get counters() {
      return pipeline.counters;
    },
    get connected() {
      return [...subscribers.values()].some((s) => s.isConnected);
    },
    get partitions() {
      return membership?.partitions ?? [];
    },
  };
}
