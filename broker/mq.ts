import { createRequire } from 'node:module';
import type { MQEmitter } from 'mqemitter';
import { Fifo } from '../core/fifo.js';

const require = createRequire(import.meta.url);
const mqemitter = require('mqemitter') as (opts: {
  concurrency: number;
  matchEmptyLevels: boolean;
}) => MQEmitter;
const fastparallel = require('fastparallel') as (opts: { results: boolean; released: () => void }) => unknown;

/** Deepest chain of synchronously released messages before the rest continue on a fresh stack. */
export const MAX_SYNC_RELEASES = 64;

/** The parts of mqemitter 7 this file replaces; mq.test.ts pins them down. */
interface MqInternals {
  _released: () => void;
  _parallel: unknown;
  /** Messages waiting for a delivery slot, and their callbacks; mqemitter only pushes, shifts and reads length. */
  _messageQueue: unknown;
  _messageCallbacks: unknown;
}

/**
 * Aedes' message emitter (mqemitter 7) with its stack overflow fixed and its queue made O(1). When more than `concurrency`
 * messages are in flight it queues the rest, and each finished message starts the next one from inside
 * its own callback; under a flood whose deliveries complete synchronously that recursion is as deep as the
 * queue, and the broker dies with "Maximum call stack size exceeded" (mqemitter PR #204, still open). This
 * keeps mqemitter's behaviour and speed, but after MAX_SYNC_RELEASES nested releases it continues the
 * queue from `setImmediate`, so the stack stays bounded whatever the load.
 *
 * The same flood makes the queue long (tens of thousands of messages when publishers outrun delivery:
 * Aedes acknowledges a QoS 1 PUBLISH before it delivers it), and mqemitter keeps it in arrays it
 * `shift()`s, which costs O(length) per message at that size: a quarter of the broker's CPU at 12,000
 * msg/s in the ingest bench. The queue is a `Fifo` instead, same order, O(1).
 */
export function createMq(concurrency: number): MQEmitter {
  // matchEmptyLevels as Aedes sets it for its own default emitter [MQTT-4.7.1-3].
  return hardenMq(mqemitter({ concurrency, matchEmptyLevels: true }));
}

/**
 * Applies the fixes above to an emitter built on mqemitter 7's local delivery: the plain one, or
 * mqemitter-redis, whose messages coming back from Redis are delivered by the same code (redis-backend.ts).
 */
export function hardenMq<T extends MQEmitter>(mq: T): T {
  const internals = mq as unknown as MqInternals;
  internals._messageQueue = new Fifo<unknown>(1024);
  internals._messageCallbacks = new Fifo<unknown>(1024);
  const release = internals._released;
  let depth = 0;
  const boundedRelease = (): void => {
    if (depth >= MAX_SYNC_RELEASES) {
      setImmediate(boundedRelease);
      return;
    }
    depth += 1;
    try {
      release();
    } finally {
      depth -= 1;
    }
  };
  internals._parallel = fastparallel({ results: false, released: boundedRelease });
  return mq;
}
