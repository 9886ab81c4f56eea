import { afterAll, describe, expect, it } from 'vitest';
import { STATE_BACKENDS, closeAll } from './backends.js';
import { T0, body, ev, openWithClock, append, subscribe, dispatchAll, attempt } from './webhook-fixtures.js';

describe.each(STATE_BACKENDS)('webhook deliveries on %s', (backend) => {
  afterAll(closeAll);

  describe('workers', () => {
    it('when deliveries are due, then dueSubscriptions counts them per enabled subscription, and claims take them in order with a lease', async () => {
      const { state } = await openWithClock(backend);
      const a = await subscribe(state);
      const b = await subscribe(state);
      const events = await append(
        state,
        Array.from({ length: 5 }, () => ev()),
      );
      await dispatchAll(state);
      await state.webhooks.disableSubscription(b.id, 'paused');
      expect(await state.webhooks.dueSubscriptions(T0 - 1)).toEqual([]);
      expect(await state.webhooks.dueSubscriptions(T0)).toEqual([{ id: a.id, due: 5 }]);
      expect(await state.webhooks.claimDue(b.id, T0, 10, T0 + 30_000)).toEqual([]);

      const jobs = await state.webhooks.claimDue(a.id, T0, 3, T0 + 30_000);
      expect(jobs.map((j) => j.eventId)).toEqual(events.slice(0, 3).map((e) => e.id));
      expect(jobs[0]).toEqual({
        id: expect.any(Number) as unknown,
        subscriptionId: a.id,
        url: 'https://receiver.example/hook',
        eventId: events[0]?.id,
        payload: body('score.changed', {}),
        attempts: 0,
      });
      expect(await state.webhooks.getDelivery(jobs[0]?.id ?? 0)).toMatchObject({
        status: 'sending',
        nextAttemptAt: T0 + 30_000,
      });
      expect(await state.webhooks.dueSubscriptions(T0)).toEqual([{ id: a.id, due: 2 }]);
      expect((await state.webhooks.claimDue(a.id, T0, 10, T0 + 30_000)).map((j) => j.eventId)).toEqual(
        events.slice(3).map((e) => e.id),
      );
      expect(await state.webhooks.claimDue(a.id, T0, 10, T0 + 30_000)).toEqual([]);
      // A process that died mid-attempt: once its lease runs out, another claims the deliveries again.
      expect(await state.webhooks.claimDue(a.id, T0 + 30_000, 10, T0 + 60_000)).toHaveLength(5);
      expect(await state.webhooks.countByStatus()).toEqual({ pending: 5, sending: 5, delivered: 0, dead: 0 });
    });

    it('when two workers claim the same subscription at once, then no delivery is claimed twice', async () => {
      const { state } = await openWithClock(backend);
      const sub = await subscribe(state);
      await append(
        state,
        Array.from({ length: 12 }, () => ev()),
      );
      await dispatchAll(state);
      // Connections open beforehand (PostgreSQL), so that the claims really overlap instead of queueing on connects.
      await Promise.all(Array.from({ length: 4 }, () => state.db.get('SELECT 1 AS one')));
      const claims = await Promise.all(
        [0, 1, 2, 3].map(() => state.webhooks.claimDue(sub.id, T0, 4, T0 + 30_000)),
      );
      const ids = claims.flat().map((j) => j.id);
      expect(new Set(ids).size).toBe(ids.length);
      expect(ids).toHaveLength(12);
    });

    it('when claimed deliveries are released, then they are pending and due at once; others are left alone', async () => {
      const { state, clock } = await openWithClock(backend);
      const sub = await subscribe(state);
      await append(state, [ev(), ev(), ev()]);
      await dispatchAll(state);
      const [j1, j2, j3] = await state.webhooks.claimDue(sub.id, T0, 10, T0 + 30_000);
      await state.webhooks.finishAttempt(j3?.id ?? 0, attempt(1, 'delivered', { statusCode: 200 }));
      clock.ms = T0 + 5;
      await state.webhooks.release([j1?.id ?? 0, j2?.id ?? 0, j3?.id ?? 0]);
      await state.webhooks.release([]);
      expect(await state.webhooks.getDelivery(j1?.id ?? 0)).toMatchObject({
        status: 'pending',
        nextAttemptAt: T0 + 5,
      });
      expect(await state.webhooks.getDelivery(j2?.id ?? 0)).toMatchObject({
        status: 'pending',
        nextAttemptAt: T0 + 5,
      });
      expect(await state.webhooks.getDelivery(j3?.id ?? 0)).toMatchObject({ status: 'delivered' });
      expect(await state.webhooks.dueSubscriptions(T0 + 5)).toEqual([{ id: sub.id, due: 2 }]);
    });

    it('when attempts finish, then a retry is pending at its next time, a 2xx is delivered and the last failure dead, each with its attempt log', async () => {
      const { state, clock } = await openWithClock(backend);
      const sub = await subscribe(state);
      await append(state, [ev(), ev()]);
      await dispatchAll(state);
      const [ok, bad] = await state.webhooks.claimDue(sub.id, T0, 10, T0 + 30_000);
      if (ok === undefined || bad === undefined) throw new Error('nothing claimed');
      clock.ms = T0 + 100;
      const retry = attempt(1, 'retry', { statusCode: 503, error: 'HTTP 503', nextAttemptAt: T0 + 5_000 });
      expect(await state.webhooks.finishAttempt(ok.id, retry)).toBe(true);
      expect(await state.webhooks.getDelivery(ok.id)).toMatchObject({
        status: 'pending',
        attempts: 1,
        nextAttemptAt: T0 + 5_000,
        lastStatusCode: 503,
        lastError: 'HTTP 503',
        attemptLog: [retry],
      });
      expect(await state.webhooks.getDelivery(ok.id)).not.toHaveProperty('finishedAt');
      clock.ms = T0 + 6_000;
      const delivered = attempt(2, 'delivered', { statusCode: 204 });
      await state.webhooks.finishAttempt(ok.id, delivered);
      const done = await state.webhooks.getDelivery(ok.id);
      expect(done).toMatchObject({
        status: 'delivered',
        attempts: 2,
        finishedAt: T0 + 6_000,
        lastStatusCode: 204,
      });
      expect(done).not.toHaveProperty('nextAttemptAt');
      expect(done).not.toHaveProperty('lastError');
      expect(done?.attemptLog).toEqual([retry, delivered]);

      const refused = attempt(1, 'retry', { error: 'connect ECONNREFUSED 127.0.0.1:9' });
      await state.webhooks.finishAttempt(bad.id, refused);
      expect(await state.webhooks.getDelivery(bad.id)).toMatchObject({
        status: 'pending',
        nextAttemptAt: T0 + 6_000,
      });
      const gone = attempt(2, 'gone', { statusCode: 410 });
      await state.webhooks.finishAttempt(bad.id, gone);
      expect(await state.webhooks.getDelivery(bad.id)).toMatchObject({
        status: 'dead',
        attempts: 2,
        lastStatusCode: 410,
        attemptLog: [refused, gone],
      });
      expect(await state.webhooks.countByStatus()).toEqual({ pending: 0, sending: 0, delivered: 1, dead: 1 });
      expect(await state.webhooks.dueSubscriptions(T0 + 10_000)).toEqual([]);
    });

    it('when deliveries are listed, then newest first, filtered and paged, each with its own attempts', async () => {
      const { state } = await openWithClock(backend);
      const a = await subscribe(state);
      const b = await subscribe(state);
      await append(
        state,
        Array.from({ length: 4 }, () => ev()),
      );
      await dispatchAll(state);
      const jobs = await state.webhooks.claimDue(a.id, T0, 10, T0 + 30_000);
      // Delivery i has i + 1 attempts; the last two deliveries end dead.
      for (const [i, job] of jobs.entries())
        for (let n = 1; n <= i + 1; n++) {
          const last = n === i + 1 && i >= 2;
          await state.webhooks.finishAttempt(
            job.id,
            attempt(n, last ? 'dead' : 'retry', { statusCode: 500 + i }),
          );
        }

      const ofA = await state.webhooks.listDeliveries({ subscriptionId: a.id, limit: 10 });
      expect(ofA.map((d) => d.id)).toEqual(jobs.map((j) => j.id).reverse());
      for (const d of ofA) {
        const i = jobs.findIndex((j) => j.id === d.id);
        expect(d.attemptLog.map((x) => x.attempt)).toEqual(Array.from({ length: i + 1 }, (_, k) => k + 1));
        expect(d.attemptLog.every((x) => x.statusCode === 500 + i)).toBe(true);
      }
      expect(await state.webhooks.listDeliveries({ subscriptionId: b.id, limit: 10 })).toHaveLength(4);
      const page1 = await state.webhooks.listDeliveries({ limit: 3 });
      const page2 = await state.webhooks.listDeliveries({ limit: 10, beforeId: page1.at(-1)?.id ?? 0 });
      expect([...page1, ...page2].map((d) => d.id)).toEqual(
        (await state.webhooks.listDeliveries({ limit: 100 })).map((d) => d.id),
      );
      expect(page1.length + page2.length).toBe(8);
      expect((await state.webhooks.listDeliveries({ status: 'dead', limit: 10 })).map((d) => d.id)).toEqual([
        jobs[3]?.id,
        jobs[2]?.id,
      ]);
      expect(await state.webhooks.listDeliveries({ status: 'delivered', limit: 10 })).toEqual([]);
    });
  });
});
