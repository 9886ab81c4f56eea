import { afterAll, describe, expect, it } from 'vitest';
import { STATE_BACKENDS, closeAll } from './backends.js';
import {
  T0,
  SECRET,
  body,
  ev,
  openWithClock,
  append,
  subscribe,
  dispatchAll,
  attempt,
} from './webhook-fixtures.js';

describe.each(STATE_BACKENDS)('webhook repository on %s', (backend) => {
  afterAll(closeAll);

  describe('subscriptions', () => {
    it('when a subscription is created, then it reads back without its secret, and lists by id after a cursor', async () => {
      const { state } = await openWithClock(backend);
      const a = await state.webhooks.createSubscription(
        { url: 'https://a.example/hook', eventTypes: ['alert.opened'], description: 'ops', enabled: true },
        SECRET,
      );
      expect(a).toEqual({
        id: expect.stringMatching(/^wh_[0-9a-f]{16}$/) as unknown,
        url: 'https://a.example/hook',
        eventTypes: ['alert.opened'],
        description: 'ops',
        enabled: true,
        createdAt: T0,
        updatedAt: T0,
      });
      expect(await state.webhooks.getSubscription(a.id)).toEqual(a);
      expect(await state.webhooks.getSubscription('wh_missing')).toBeUndefined();
      const others = [await subscribe(state), await subscribe(state, ['*'], false)];
      const byId = [a, ...others].map((s) => s.id).sort();
      expect((await state.webhooks.listSubscriptions({ limit: 10 })).map((s) => s.id)).toEqual(byId);
      expect(
        (await state.webhooks.listSubscriptions({ limit: 1, afterId: byId[0] as string })).map((s) => s.id),
      ).toEqual([byId[1]]);
      expect(JSON.stringify(await state.webhooks.listSubscriptions({ limit: 10 }))).not.toContain(SECRET);
    });

    it('when a subscription is patched, then only the given fields change, and re-enabling clears the disabled reason', async () => {
      const { state, clock } = await openWithClock(backend);
      const sub = await subscribe(state, ['alert.opened']);
      clock.ms = T0 + 10;
      await state.webhooks.disableSubscription(sub.id, 'receiver answered 410 Gone');
      expect(await state.webhooks.getSubscription(sub.id)).toMatchObject({
        enabled: false,
        disabledReason: 'receiver answered 410 Gone',
        updatedAt: T0 + 10,
      });
      clock.ms = T0 + 20;
      const described = await state.webhooks.updateSubscription(sub.id, { description: 'night shift' });
      expect(described).toMatchObject({ enabled: false, disabledReason: 'receiver answered 410 Gone' });
      const patched = await state.webhooks.updateSubscription(sub.id, {
        url: 'https://b.example/hook',
        eventTypes: ['score.changed', 'device.offline'],
        enabled: true,
      });
      expect(patched).toEqual({
        id: sub.id,
        url: 'https://b.example/hook',
        eventTypes: ['score.changed', 'device.offline'],
        description: 'night shift',
        enabled: true,
        createdAt: T0,
        updatedAt: T0 + 20,
      });
      expect(await state.webhooks.updateSubscription(sub.id, {})).toEqual(patched);
      expect(await state.webhooks.updateSubscription('wh_missing', { enabled: false })).toBeUndefined();
    });

    it('when a secret is rotated with an overlap, then both sign until it ends and only the new one after', async () => {
      const { state, clock } = await openWithClock(backend);
      const sub = await subscribe(state);
      expect(await state.webhooks.signingSecrets(sub.id)).toEqual([SECRET]);
      const rotated = await state.webhooks.rotateSecret(sub.id, 'whsec_new', T0 + 1_000);
      expect(rotated).toMatchObject({ previousSecretExpiresAt: T0 + 1_000 });
      expect(await state.webhooks.signingSecrets(sub.id)).toEqual(['whsec_new', SECRET]);
      clock.ms = T0 + 1_000;
      expect(await state.webhooks.signingSecrets(sub.id)).toEqual(['whsec_new']);
      expect(await state.webhooks.getSubscription(sub.id)).not.toHaveProperty('previousSecretExpiresAt');
      // An overlap already over keeps no previous secret at all.
      await state.webhooks.rotateSecret(sub.id, 'whsec_third', clock.ms - 1);
      clock.ms = T0;
      expect(await state.webhooks.signingSecrets(sub.id)).toEqual(['whsec_third']);
      expect(await state.webhooks.rotateSecret('wh_missing', 'whsec_x', T0 + 1)).toBeUndefined();
      expect(await state.webhooks.signingSecrets('wh_missing')).toEqual([]);
    });

    it('when a subscription is deleted, then its deliveries and attempts go with it, and their attempts cannot be finished', async () => {
      const { state } = await openWithClock(backend);
      const sub = await subscribe(state);
      await append(state, [ev()]);
      await dispatchAll(state);
      const [job] = await state.webhooks.claimDue(sub.id, T0, 10, T0 + 30_000);
      expect(job).toBeDefined();
      expect(
        await state.webhooks.finishAttempt(job?.id ?? 0, attempt(1, 'retry', { nextAttemptAt: T0 })),
      ).toBe(true);
      expect(await state.webhooks.deleteSubscription(sub.id)).toBe(true);
      expect(await state.webhooks.deleteSubscription(sub.id)).toBe(false);
      expect(await state.webhooks.getDelivery(job?.id ?? 0)).toBeUndefined();
      expect(await state.webhooks.finishAttempt(job?.id ?? 0, attempt(2, 'delivered'))).toBe(false);
      expect(await state.db.get('SELECT count(*) AS c FROM webhook_attempts')).toEqual({ c: 0 });
    });
  });

  describe('dispatch', () => {
    it('when events are dispatched, then each matching enabled subscription gets one delivery of the event’s body, and the position moves', async () => {
      const { state } = await openWithClock(backend);
      const [before] = await append(state, [ev('alert.opened')]);
      const all = await subscribe(state);
      const alerts = await subscribe(state, ['alert.opened', 'alert.resolved']);
      const disabled = await subscribe(state, ['*'], false);
      const events = await append(state, [
        ev('score.changed', { pd: 0.12 }),
        ev('alert.opened', { alertId: 'alt_1' }),
        ev('device.offline'),
      ]);
      expect(before?.seq).toBe(1);
      // The position starts where the outbox was when the table was made (empty: 0) and moves only by dispatch.
      expect(await state.webhooks.dispatchPosition()).toBe(0);
      expect(await dispatchAll(state)).toEqual({ created: 4, advanced: true });
      expect(await state.webhooks.dispatchPosition()).toBe(events.at(-1)?.seq);

      const list = async (subscriptionId: string) =>
        (await state.webhooks.listDeliveries({ subscriptionId, limit: 10 })).map((d) => d.eventId).reverse();
      // Events before a subscription existed never reach it.
      expect(await list(all.id)).toEqual(events.map((e) => e.id));
      expect(await list(alerts.id)).toEqual([events[1]?.id]);
      expect(await list(disabled.id)).toEqual([]);
      const [d] = await state.webhooks.listDeliveries({ subscriptionId: alerts.id, limit: 1 });
      expect(d).toEqual({
        id: expect.any(Number) as unknown,
        subscriptionId: alerts.id,
        eventId: events[1]?.id,
        eventType: 'alert.opened',
        occurredAt: T0,
        origin: 'dispatch',
        status: 'pending',
        attempts: 0,
        nextAttemptAt: T0,
        createdAt: T0,
        attemptLog: [],
      });
      expect(await state.webhooks.payloadOf(d?.id ?? 0)).toBe(body('alert.opened', { alertId: 'alt_1' }));
      expect(await state.webhooks.payloadOf(999_999)).toBeUndefined();
    });

    it('when a dispatch starts from a position that has moved, then it creates nothing and does not advance', async () => {
      const { state } = await openWithClock(backend);
      await subscribe(state);
      const from = await state.webhooks.dispatchPosition();
      const events = await append(state, [ev(), ev()]);
      expect(await state.webhooks.dispatch(events, from)).toEqual({ created: 2, advanced: true });
      expect(await state.webhooks.dispatch(events, from)).toEqual({ created: 0, advanced: false });
      expect(await state.webhooks.dispatch([], events.at(-1)?.seq ?? 0)).toEqual({
        created: 0,
        advanced: false,
      });
      expect((await state.webhooks.countByStatus()).pending).toBe(2);
    });

    it('when two dispatchers run the same batch from the same position at once, then one advances and each event is one delivery per subscription', async () => {
      const { state } = await openWithClock(backend);
      const subs = [await subscribe(state), await subscribe(state)];
      const from = await state.webhooks.dispatchPosition();
      const events = await append(
        state,
        Array.from({ length: 50 }, (_, i) => ev('score.changed', { i })),
      );
      const results = await Promise.all([
        state.webhooks.dispatch(events, from),
        state.webhooks.dispatch(events, from),
        state.webhooks.dispatch(events, from),
      ]);
      expect(results.filter((r) => r.advanced)).toEqual([{ created: 100, advanced: true }]);
      expect(results.filter((r) => !r.advanced)).toEqual([
        { created: 0, advanced: false },
        { created: 0, advanced: false },
      ]);
      expect(await state.webhooks.dispatchPosition()).toBe(events.at(-1)?.seq);
      for (const sub of subs) {
        const ids = (await state.webhooks.listDeliveries({ subscriptionId: sub.id, limit: 500 })).map(
          (d) => d.eventId,
        );
        expect(new Set(ids).size).toBe(50);
        expect(ids).toHaveLength(50);
      }
    });

    it('when an event already dispatched to a subscription comes again, then no second delivery is made; a replay of it is', async () => {
      const { state } = await openWithClock(backend);
      const sub = await subscribe(state);
      const [e1, e2] = await append(state, [ev(), ev()]);
      if (e1 === undefined || e2 === undefined) throw new Error('events not stored');
      expect(await state.webhooks.dispatch([e1], await state.webhooks.dispatchPosition())).toMatchObject({
        created: 1,
      });
      // A dispatcher that re-reads e1 (say its batch overlapped) moves on without doubling it.
      expect(await state.webhooks.dispatch([e1, e2], e1.seq)).toEqual({ created: 1, advanced: true });
      const [first] = await state.webhooks.listDeliveries({ limit: 1, beforeId: Number.MAX_SAFE_INTEGER });
      const replay = await state.webhooks.addDelivery({
        subscriptionId: sub.id,
        eventId: e2.id,
        eventType: e2.type,
        occurredAt: e2.occurredAt,
        payload: (await state.webhooks.payloadOf(first?.id ?? 0)) ?? '',
        origin: 'replay',
        replayOf: first?.id ?? 0,
      });
      expect(replay).toMatchObject({
        eventId: e2.id,
        origin: 'replay',
        replayOf: first?.id,
        status: 'pending',
      });
      expect(await state.webhooks.getDelivery(replay.id)).toEqual(replay);
      expect(await state.webhooks.payloadOf(replay.id)).toBe(await state.webhooks.payloadOf(first?.id ?? 0));
      expect((await state.webhooks.listDeliveries({ limit: 10 })).map((d) => d.eventId)).toEqual([
        e2.id,
        e2.id,
        e1.id,
      ]);
    });

    it('when a dispatch runs while a subscription is being created, then it waits for the creation and the new subscription misses no event', async () => {
      const { state } = await openWithClock(backend);
      let release!: () => void;
      const gate = new Promise<void>((resolve) => (release = resolve));
      let inserted!: () => void;
      const insertedYet = new Promise<void>((resolve) => (inserted = resolve));
      // The API's transaction: the subscription is written, then the audit entry etc. take a while to commit.
      const creating = state.transaction(async () => {
        const sub = await subscribe(state);
        inserted();
        await gate;
        return sub;
      });
      await insertedYet;
      // Meanwhile an event commits and a dispatcher handles it. On PostgreSQL the append commits at once and the
      // dispatch must wait for the subscription's commit, else it would not see the subscription and the event
      // (after its start) would never reach it; on SQLite both wait for the creation's transaction to end.
      const dispatching = append(state, [ev()]).then(() => dispatchAll(state));
      await new Promise((resolve) => setTimeout(resolve, 150));
      release();
      const sub = await creating;
      expect(await dispatching).toEqual({ created: 1, advanced: true });
      expect(await state.webhooks.listDeliveries({ subscriptionId: sub.id, limit: 10 })).toHaveLength(1);
    });
  });
});
