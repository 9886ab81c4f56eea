import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { newEventId, type PlatformEvent } from '../../contracts/events.js';
import { isConstraintError } from '../database.js';
import { OUTBOX_APPEND_LOCK_KEY } from '../outbox/sql-event-outbox.js';
import type { State } from '../state.js';
import { closeAll, STATE_BACKENDS } from './backends.js';

afterAll(closeAll);

const ev = (
  type: PlatformEvent['type'],
  occurredAt: number,
  data: Record<string, unknown> = {},
): PlatformEvent => ({ id: newEventId(), type, occurredAt, data });

/**
 * Whether a PostgreSQL session waits for the outbox's advisory lock: polls until one does (true) or `gaveUp`
 * says to stop looking, or 5 s have passed (false).
 */
async function someoneWaitsForTheOutboxLock(state: State, gaveUp: () => boolean): Promise<boolean> {
  for (let i = 0; i < 500 && !gaveUp(); i++) {
    // A bigint advisory key shows as classid (high 32 bits) and objid (low 32 bits), objsubid 1.
    const r = await state.db.get<{ n: number }>(
      `SELECT count(*) AS n FROM pg_locks
       WHERE locktype = 'advisory' AND NOT granted AND classid = 0 AND objid = ? AND objsubid = 1`,
      [OUTBOX_APPEND_LOCK_KEY],
    );
    if ((r?.n ?? 0) > 0) return true;
    await sleep(10);
  }
  return false;
}

describe.each(STATE_BACKENDS)('event outbox on %s', (backend) => {
  it('when events are appended, then they read back in order after a position, by type, by id and by time', async () => {
    const state = await backend.open();
    const { outbox } = state;
    expect(await outbox.lastSeq()).toBe(0);
    const a = ev('alert.opened', 1_000, { alertId: 'a1' });
    const b = ev('score.changed', 2_000, { borrowerId: 'b1', pd: 0.1 });
    const c = ev('alert.resolved', 3_000, { alertId: 'a1' });
    await outbox.append([a, b]);
    await outbox.append([]);
    await outbox.append([c]);
    const all = await outbox.after(0);
    expect(all.map((e) => e.id)).toEqual([a.id, b.id, c.id]);
    expect(all[0]?.seq).toBeLessThan(all[1]?.seq ?? 0);
    expect(all[1]?.seq).toBeLessThan(all[2]?.seq ?? 0);
    expect((await outbox.after(all[0]?.seq ?? 0)).map((e) => e.id)).toEqual([b.id, c.id]);
    expect((await outbox.after(0, { limit: 2 })).map((e) => e.id)).toEqual([a.id, b.id]);
    expect((await outbox.after(0, { types: ['alert.opened', 'alert.resolved'] })).map((e) => e.id)).toEqual([
      a.id,
      c.id,
    ]);
    expect(await outbox.get(b.id)).toEqual({ ...b, seq: all[1]?.seq });
    expect(await outbox.get('evt_missing')).toBeUndefined();
    expect((await outbox.between(1_500, 3_000)).map((e) => e.id)).toEqual([b.id]);
    expect((await outbox.between(0, 10_000, 1)).map((e) => e.id)).toEqual([a.id]);
    expect(await outbox.lastSeq()).toBe(all.at(-1)?.seq);
  });

  it('when the transaction that appends an event fails, then neither the change nor the event is stored', async () => {
    const state = await backend.open();
    await expect(
      state.transaction(async () => {
        await state.portfolio.upsertBorrowers([
          { id: 'b9', name: 'x', sector: 'trading', region: 'r', createdAt: 0 },
        ]);
        await state.outbox.append([ev('alert.opened', 1)]);
        throw new Error('crash before commit');
      }),
    ).rejects.toThrow('crash before commit');
    expect(await state.db.get('SELECT id FROM borrowers WHERE id = ?', ['b9'])).toBeUndefined();
    expect(await state.outbox.after(0)).toEqual([]);
  });

  it('when an event id is appended twice, then the second append fails and changes nothing', async () => {
    const state = await backend.open();
    const a = ev('device.offline', 5, { deviceId: 'd1' });
    await state.outbox.append([a]);
    const err = await state.outbox.append([ev('device.online', 6), a]).catch((e: unknown) => e);
    expect(isConstraintError(err, 'unique')).toBe(true);
    expect((await state.outbox.after(0)).map((e) => e.id)).toEqual([a.id]);
  });

  // SQLite has one writer, and readers outside a transaction wait for it to end: the race cannot happen there.
  if (backend.name === 'postgres')
    it('when two transactions append at once and the first stays open, then the second waits and a reader never sees the later seq without the earlier', async () => {
      const state = await backend.open();
      const a = ev('alert.opened', 1, { n: 1 });
      const b = ev('alert.opened', 2, { n: 2 });
      const seen: string[][] = [];
      let done = false;
      const reader = (async () => {
        while (!done) {
          seen.push((await state.outbox.after(0)).map((e) => e.id));
          await sleep(2);
        }
      })();

      let appended!: () => void;
      const firstAppended = new Promise<void>((resolve) => (appended = resolve));
      let release!: () => void;
      const held = new Promise<void>((resolve) => (release = resolve));
      const first = state.transaction(async () => {
        await state.outbox.append([a]);
        appended();
        await held;
      });
      await firstAppended;
      let secondCommitted = false;
      const second = state
        .transaction(() => state.outbox.append([b]))
        .then(() => {
          secondCommitted = true;
        });
      try {
        const waiting = await someoneWaitsForTheOutboxLock(state, () => secondCommitted);
        // Without the lock the second would have committed seq 2 while seq 1 is still uncommitted.
        expect(await state.outbox.after(0)).toEqual([]);
        expect(secondCommitted).toBe(false);
        expect(waiting).toBe(true);
      } finally {
        release();
        await Promise.all([first, second]);
        done = true;
        await reader;
      }

      const events = await state.outbox.after(0);
      expect(events.map((e) => e.id)).toEqual([a.id, b.id]);
      expect(seen.length).toBeGreaterThan(0);
      for (const ids of seen) expect(ids).toEqual([a.id, b.id].slice(0, ids.length));
    });
});
