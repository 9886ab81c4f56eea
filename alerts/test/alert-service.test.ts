import { afterAll, describe, expect, it } from 'vitest';
import { RiskfuseError } from '../../core/errors.js';
import type { Alert, AlertRepository, State } from '../../core/state/index.js';
import { closeAll, STATE_BACKENDS } from '../../core/state/test/backends.js';
import { AlertService } from '../alert-service.js';
import { T0 } from './support.js';

const input = {
  ruleId: 'tamper',
  severity: 'critical' as const,
  subjectKind: 'device' as const,
  subjectId: 'stk-1',
  title: 'tamper switch open on stk-1',
  evidence: { tamper: 1 },
  at: T0,
};

/** What an API request does: the change and its audit entry in one transaction. */
function acknowledgeAsRequest(state: State, s: AlertService, id: string, by: string): Promise<Alert> {
  return state.transaction(async () => {
    const after = await s.acknowledge(id, by, undefined, T0 + 1);
    await state.audit.appendAudit({
      at: T0 + 1,
      actorKeyId: by,
      action: 'acknowledge',
      resource: 'alert',
      after,
    });
    return after;
  });
}

/**
 * The state with `alerts.getAlert` held until `n` readers have read: every request reads the alert before any
 * writes it, the interleaving that a compare-and-set exists for.
 */
function readingTogether(state: State, n: number): State {
  let arrived = 0;
  let release!: () => void;
  const together = new Promise<void>((resolve) => (release = resolve));
  const alerts = new Proxy(state.alerts, {
    get(target, prop) {
      if (prop === 'getAlert') {
        return async (id: string) => {
          const a = await target.getAlert(id);
          if (++arrived >= n) release();
          await together;
          return a;
        };
      }
      const value: unknown = Reflect.get(target, prop, target);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  }) satisfies AlertRepository;
  return { ...state, alerts };
}

describe.each(STATE_BACKENDS)('alert lifecycle writes on %s', (backend) => {
  afterAll(closeAll);

  it('when two officers acknowledge one alert at once, then one wins and the other gets a CONFLICT and writes nothing', async () => {
    const state = await backend.open();
    const s = new AlertService(state);
    const a = await s.open(input);
    if (a === undefined) throw new Error('not opened');
    const results = await Promise.allSettled([
      acknowledgeAsRequest(state, s, a.id, 'key-1'),
      acknowledgeAsRequest(state, s, a.id, 'key-2'),
    ]);
    const won = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    const lost = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));
    expect(won).toHaveLength(1);
    expect(lost).toHaveLength(1);
    expect(lost[0]).toBeInstanceOf(RiskfuseError);
    expect((lost[0] as RiskfuseError).code).toBe('CONFLICT');
    expect(await s.get(a.id)).toMatchObject({
      status: 'acknowledged',
      acknowledgedBy: won[0]?.acknowledgedBy,
    });
    expect((await state.outbox.after(0)).map((e) => e.type)).toEqual(['alert.opened', 'alert.acknowledged']);
    expect(await state.audit.listAudit({ limit: 10 })).toHaveLength(1);
    expect(s.counters.acknowledged).toBe(1);
  });

  // SQLite runs one write transaction at a time (BEGIN IMMEDIATE), so two requests never both read before one
  // writes; on PostgreSQL they do, and the compare-and-set decides.
  if (backend.name === 'postgres')
    it('when both requests read the open alert before either writes, then the second write loses the compare-and-set with a CONFLICT to reload', async () => {
      const state = await backend.open();
      const a = await new AlertService(state).open(input);
      if (a === undefined) throw new Error('not opened');
      const s = new AlertService(readingTogether(state, 2));
      const results = await Promise.allSettled([
        acknowledgeAsRequest(state, s, a.id, 'key-1'),
        acknowledgeAsRequest(state, s, a.id, 'key-2'),
      ]);
      const lost = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));
      expect(lost).toHaveLength(1);
      expect(lost[0]).toMatchObject({ code: 'CONFLICT' });
      expect((lost[0] as Error).message).toBe(`alert ${a.id} was acknowledged by another request; reload it`);
      expect((await state.outbox.after(0)).map((e) => e.type)).toEqual([
        'alert.opened',
        'alert.acknowledged',
      ]);
      expect(await state.audit.listAudit({ limit: 10 })).toHaveLength(1);
    });

  it('when an officer resolves an alert while the engine clears it, then it is resolved once with one event', async () => {
    const state = await backend.open();
    const s = new AlertService(state);
    const a = await s.open(input);
    if (a === undefined) throw new Error('not opened');
    const [byHand, byEngine] = await Promise.allSettled([
      s.resolve(a.id, 'key-1', 'seal replaced', T0 + 1),
      s.clear('tamper', 'device', 'stk-1', T0 + 2, { tamper: 0 }),
    ]);
    const resolvedEvents = (await state.outbox.after(0)).filter((e) => e.type === 'alert.resolved');
    expect(resolvedEvents).toHaveLength(1);
    expect((await s.get(a.id))?.status).toBe('resolved');
    // Whichever came second found it resolved: the engine's clear is then a no-op, the officer's a CONFLICT.
    const handWon = byHand.status === 'fulfilled';
    const engineWon = byEngine.status === 'fulfilled' && byEngine.value !== undefined;
    expect(byEngine.status).toBe('fulfilled');
    expect(handWon).toBe(!engineWon);
    if (!handWon) expect(byHand).toMatchObject({ reason: { code: 'CONFLICT' } });
    expect(s.activeAlert('tamper', 'device', 'stk-1')).toBeUndefined();
  });

  it('when an alert is opened in a transaction that then fails, then it is not in the active index and the next firing opens it', async () => {
    const state = await backend.open();
    const s = new AlertService(state);
    await expect(
      s.transaction(async () => {
        await s.open(input);
        expect(s.activeAlert('tamper', 'device', 'stk-1')).toBeDefined(); // seen inside its transaction
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    expect(s.activeAlert('tamper', 'device', 'stk-1')).toBeUndefined();
    expect(s.counters.opened).toBe(0);
    expect(await s.open(input)).toBeDefined();
    expect(s.counters.opened).toBe(1);
  });
});
