import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { newEventId, type PlatformEvent } from '../contracts/events.js';
import { SqliteEventOutbox } from '../storage/sqlite-event-outbox.js';
import { openSqliteStateStore, type SqliteStateStore } from '../storage/sqlite-state-store.js';

const ev = (
  type: PlatformEvent['type'],
  occurredAt: number,
  data: Record<string, unknown> = {},
): PlatformEvent => ({
  id: newEventId(),
  type,
  occurredAt,
  data,
});

describe('event outbox (SQLite)', () => {
  let state: SqliteStateStore;
  let outbox: SqliteEventOutbox;
  beforeEach(() => {
    state = openSqliteStateStore(':memory:');
    outbox = new SqliteEventOutbox(state);
  });
  afterEach(() => state.close());

  it('when events are appended, then they read back in order after a position, by type, by id and by time', () => {
    const a = ev('alert.opened', 1_000, { alertId: 'a1' });
    const b = ev('score.changed', 2_000, { borrowerId: 'b1', pd: 0.1 });
    const c = ev('alert.resolved', 3_000, { alertId: 'a1' });
    outbox.append([a, b]);
    outbox.append([c]);
    expect(outbox.after(0).map((e) => e.id)).toEqual([a.id, b.id, c.id]);
    const first = outbox.after(0)[0];
    expect(outbox.after(first?.seq ?? 0).map((e) => e.id)).toEqual([b.id, c.id]);
    expect(outbox.after(0, { types: ['alert.opened', 'alert.resolved'] }).map((e) => e.id)).toEqual([
      a.id,
      c.id,
    ]);
    expect(outbox.get(b.id)).toMatchObject({
      type: 'score.changed',
      occurredAt: 2_000,
      data: { borrowerId: 'b1', pd: 0.1 },
    });
    expect(outbox.between(1_500, 3_000).map((e) => e.id)).toEqual([b.id]);
    expect(outbox.lastSeq()).toBe(outbox.after(0).at(-1)?.seq);
    expect(newEventId()).toMatch(/^evt_[0-9a-f]{30}$/);
  });

  it('when the transaction that appends an event fails, then neither the change nor the event is stored', () => {
    expect(() =>
      state.transaction(() => {
        state.upsertBorrowers([{ id: 'b9', name: 'x', sector: 'trading', region: 'r', createdAt: 0 }]);
        outbox.append([ev('alert.opened', 1)]);
        throw new Error('crash before commit');
      }),
    ).toThrow('crash before commit');
    expect(state.getBorrower('b9')).toBeUndefined();
    expect(outbox.after(0)).toEqual([]);
  });

  it('when an event id is appended twice, then the second append fails and changes nothing', () => {
    const a = ev('device.offline', 5, { deviceId: 'd1' });
    outbox.append([a]);
    expect(() => outbox.append([ev('device.online', 6), a])).toThrow(/UNIQUE/);
    expect(outbox.after(0).map((e) => e.id)).toEqual([a.id]);
  });
});
