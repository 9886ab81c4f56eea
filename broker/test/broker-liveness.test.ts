import type { Aedes } from 'aedes';
import { describe, expect, it } from 'vitest';
import { BrokerLiveness } from '../broker-liveness.js';
import { createMq } from '../mq.js';

const I = 1_000;

/** A liveness judge on a real emitter, with a clock the test moves, and the store call it makes. */
function world() {
  let t = 0;
  const mq = createMq(1);
  const liveness = new BrokerLiveness({ id: 'self' } as unknown as Aedes, mq, I, () => t);
  const asked: Record<string, number>[] = [];
  const store = {
    streamWill(brokers?: Record<string, number>) {
      asked.push(brokers ?? {});
      return [] as unknown as AsyncIterable<unknown>;
    },
  };
  liveness.install(store);
  const heartbeat = (id: string) =>
    new Promise<void>((resolve) =>
      mq.emit({ topic: `$SYS/${id}/heartbeat`, payload: Buffer.from(id) } as never, () => resolve()),
    );
  return {
    liveness,
    at: (ms: number) => (t = ms),
    heartbeat,
    /** The brokers the will pass would skip, when Aedes counts `counted` alive. */
    skipped: (counted: Record<string, number> = {}) => {
      store.streamWill(counted);
      return Object.keys(asked.at(-1) ?? {}).sort();
    },
  };
}

describe('broker liveness', () => {
  it('when this broker has heard its own heartbeat steadily for 3 intervals, then it judges others by Aedes’ count, never itself', async () => {
    const w = world();
    expect(w.liveness.canJudge()).toBe(false);
    for (const ms of [0, I, 2 * I, 3 * I]) {
      w.at(ms);
      await w.heartbeat('self');
      await w.heartbeat('other');
    }
    expect(w.liveness.canJudge()).toBe(true);
    // Aedes counted `other` dead: its wills are streamed; this broker's own never are.
    expect(w.skipped({})).toEqual(['self']);
    expect(w.skipped({ other: 1 })).toEqual(['other', 'self']);
  });

  it('when its own heartbeat stops coming back (the emitter is down), then every broker heard before counts alive until it has heard itself again for 3 intervals', async () => {
    const w = world();
    for (const ms of [0, I, 2 * I, 3 * I]) {
      w.at(ms);
      await w.heartbeat('self');
      await w.heartbeat('other');
    }
    w.at(3 * I + 1.6 * I); // a heartbeat missed: deaf
    expect(w.liveness.canJudge()).toBe(false);
    expect(w.skipped({})).toEqual(['other', 'self']);

    for (const ms of [9 * I, 10 * I, 11 * I, 11.9 * I]) {
      w.at(ms); // back, hearing itself only so far
      await w.heartbeat('self');
    }
    expect(w.liveness.canJudge()).toBe(false);
    expect(w.skipped({})).toEqual(['other', 'self']);

    w.at(12 * I);
    await w.heartbeat('self');
    expect(w.liveness.canJudge()).toBe(true);
    // `other` never came back: now it may be judged dead.
    expect(w.skipped({})).toEqual(['self']);
  });

  it('when a broker went silent while this one heard steadily, then it is not held alive through a later deaf spell', async () => {
    const w = world();
    for (const ms of [0, I, 2 * I, 3 * I]) {
      w.at(ms);
      await w.heartbeat('self');
      await w.heartbeat('gone');
    }
    for (const ms of [4 * I, 5 * I, 6 * I, 7 * I]) {
      w.at(ms);
      await w.heartbeat('self');
    }
    w.at(10 * I); // deaf now
    expect(w.liveness.canJudge()).toBe(false);
    expect(w.skipped({})).toEqual(['self']);
  });
});
