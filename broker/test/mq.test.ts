import { createRequire } from 'node:module';
import type { MQEmitter } from 'mqemitter';
import { describe, expect, it } from 'vitest';
import { createMq } from '../mq.js';

const require = createRequire(import.meta.url);
const plainMq = require('mqemitter') as (opts: { concurrency: number }) => MQEmitter;

/** Holds the first delivery, queues `n` more behind it, then lets them all complete synchronously. */
function flood(mq: MQEmitter, n: number): { delivered: () => number; release: () => void } {
  let delivered = 0;
  let held: (() => void) | undefined;
  mq.on('rf/v1/+/telemetry', (_msg, done) => {
    delivered += 1;
    if (held === undefined && delivered === 1) held = done;
    else done();
  });
  for (let i = 0; i < n; i++) mq.emit({ topic: `rf/v1/d${i}/telemetry`, payload: 'x' });
  return { delivered: () => delivered, release: () => held?.() };
}

describe('broker message emitter', () => {
  it('when a flood is queued behind a slow delivery, then the plain mqemitter overflows the stack (the bug)', async () => {
    const mq = plainMq({ concurrency: 1 });
    const f = flood(mq, 50_000);
    await new Promise((r) => setImmediate(r));
    expect(() => f.release()).toThrow(RangeError);
  });

  it('when the same flood is released, then ours delivers every message without growing the stack', async () => {
    const mq = createMq(1);
    const f = flood(mq, 50_000);
    await new Promise((r) => setImmediate(r));
    f.release();
    const end = Date.now() + 10_000;
    while (f.delivered() < 50_000 && Date.now() < end) await new Promise((r) => setImmediate(r));
    expect(f.delivered()).toBe(50_000);
  });

  it('when messages queue behind a slow delivery, then ours delivers them in the order they were emitted', async () => {
    const mq = createMq(1);
    const order: number[] = [];
    let held: (() => void) | undefined;
    mq.on('rf/v1/+/telemetry', (msg, done) => {
      order.push((msg as unknown as { n: number }).n);
      if (held === undefined) held = done;
      else done();
    });
    for (let n = 0; n < 5_000; n++) mq.emit({ topic: `rf/v1/d${n % 7}/telemetry`, payload: 'x', n });
    await new Promise((r) => setImmediate(r));
    expect(order).toEqual([0]);
    held?.();
    const end = Date.now() + 10_000;
    while (order.length < 5_000 && Date.now() < end) await new Promise((r) => setImmediate(r));
    expect(order).toEqual(Array.from({ length: 5_000 }, (_, n) => n));
  });
});
