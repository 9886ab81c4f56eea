import { createRequire } from 'node:module';
import type { MQEmitter } from 'mqemitter';

const require = createRequire(import.meta.url);
const mqemitter = require('mqemitter') as (opts: {
  concurrency: number;
  matchEmptyLevels: boolean;
}) => MQEmitter;
const fastparallel = require('fastparallel') as (opts: { results: boolean; released: () => void }) => unknown;

/** Deepest chain of synchronously released messages before the rest continue on a fresh stack. */
export const MAX_SYNC_RELEASES = 64;

interface MqInternals {
  _released: () => void;
  _parallel: unknown;
}

/**
 * Aedes' message emitter (mqemitter 7) with its stack overflow fixed. When more than `concurrency`
 * messages are in flight it queues the rest, and each finished message starts the next one from inside
 * its own callback; under a flood whose deliveries complete synchronously that recursion is as deep as the
 * queue, and the broker dies with "Maximum call stack size exceeded" (mqemitter PR #204, still open). This
 * keeps mqemitter's behaviour and speed, but after MAX_SYNC_RELEASES nested releases it continues the
 * queue from `setImmediate`, so the stack stays bounded whatever the load.
 */
export function createMq(concurrency: number): MQEmitter {
  // matchEmptyLevels as Aedes sets it for its own default emitter [MQTT-4.7.1-3].
  const mq = mqemitter({ concurrency, matchEmptyLevels: true });
  const internals = mq as unknown as MqInternals;
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
