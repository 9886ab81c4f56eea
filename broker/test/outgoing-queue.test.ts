import { describe, expect, it } from 'vitest';
import { OutgoingQueue, type Slot } from '../outgoing-queue.js';
import type { StoredPacket } from '../persistence-port.js';

/**
 * A client's queue in the SQLite session store (broker/outgoing-queue.ts) keeps a key's only slot as itself
 * and a sorted array once a second slot shares the key. These pin the shared-key paths, which the stock-store
 * comparison in persistence-sqlite.test.ts reaches only rarely: a packet id given out again while an earlier
 * packet still carries it, and a PUBREL-style replacement from another broker.
 */
function packet(brokerId: string, brokerCounter: number, messageId?: number): StoredPacket {
  return {
    cmd: 'publish',
    topic: 't',
    payload: Buffer.from('x'),
    qos: 1,
    brokerId,
    brokerCounter,
    ...(messageId === undefined ? {} : { messageId }),
  };
}

const slot = (seq: number, p: StoredPacket): Slot => ({ seq, packet: p });

describe('OutgoingQueue', () => {
  it('when two queued packets carry the same packet id, then clear removes them oldest first, whatever order they were given it in', () => {
    const q = new OutgoingQueue();
    q.enqueue(slot(1, packet('a', 1)));
    q.enqueue(slot(2, packet('a', 2)));
    q.enqueue(slot(3, packet('a', 3, 7)));
    // The two older packets are given id 7 as well, the newest of them last.
    expect(q.update(packet('a', 2, 7))?.slot.seq).toBe(2);
    expect(q.update(packet('a', 1, 7))?.slot.seq).toBe(1);
    expect(q.clear(7)?.seq).toBe(1);
    expect(q.clear(7)?.seq).toBe(2);
    expect(q.clear(7)?.seq).toBe(3);
    expect(q.clear(7)).toBeUndefined();
    expect(q.size).toBe(0);
  });

  it('when a packet from another broker has the id of queued ones, then update replaces the oldest of those from other brokers, and it is found by its new message afterwards', () => {
    const q = new OutgoingQueue();
    q.enqueue(slot(1, packet('a', 1, 5)));
    q.enqueue(slot(2, packet('b', 9, 5)));
    q.enqueue(slot(3, packet('c', 4, 5)));
    const change = q.update(packet('b', 50, 5));
    expect(change).toMatchObject({ kind: 'replaced', slot: { seq: 1 } });
    // The replaced slot now holds broker b's counter 50: its message key moved with it.
    expect(q.update(packet('b', 50, 6))).toMatchObject({ kind: 'messageId', slot: { seq: 1 } });
    expect(q.packets().map((p) => [p.brokerId, p.brokerCounter, p.messageId])).toEqual([
      ['b', 50, 6],
      ['b', 9, 5],
      ['c', 4, 5],
    ]);
    expect(q.clear(5)?.seq).toBe(2);
    expect(q.clear(6)?.seq).toBe(1);
    expect(q.clear(5)?.seq).toBe(3);
    expect(q.size).toBe(0);
  });

  it("when Aedes clears a delivery it did not send (no packet id), then only a second unsent copy of that same message goes, never another message's copy nor a lone copy", () => {
    const q = new OutgoingQueue();
    q.enqueue(slot(1, packet('a', 1)));
    q.enqueue(slot(2, packet('a', 2)));
    // Message 3 was never queued for this session (another partition's device): nothing to remove.
    expect(q.clearUnsent(packet('a', 3))).toBeUndefined();
    // Message 2's only copy, not sent (Aedes took it for a duplicate): it stays, to be sent on the next connect.
    expect(q.clearUnsent(packet('a', 2))).toBeUndefined();
    expect(q.size).toBe(2);
    // Two copies of message 2 (overlapping subscriptions): the second goes, the first is given its packet id.
    q.enqueue(slot(3, packet('a', 2)));
    expect(q.clearUnsent(packet('a', 2))?.seq).toBe(3);
    expect(q.update(packet('a', 2, 9))?.slot.seq).toBe(2);
    expect(q.packets().map((p) => [p.brokerCounter, p.messageId])).toEqual([
      [1, undefined],
      [2, 9],
    ]);
  });
});
