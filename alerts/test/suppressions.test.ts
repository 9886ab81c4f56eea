import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Alert } from '../../core/state/index.js';
import { MIN, stake, T0, world, type World } from './support.js';

const HOUR = 60 * MIN;

/**
 * Maintenance windows and snoozes through the real engine and state: an opening inside one becomes a suppressed
 * alert (counted on the suppression, listed with its evidence), never an alert and never silently dropped.
 */
describe('alert suppressions in the engine', () => {
  let w: World;
  beforeEach(async () => {
    // The platform's clock at the readings' time (the gate loads the suppressions not over by then).
    w = await world({ now: () => T0 });
  });
  afterEach(async () => {
    await w.close();
  });
  const alerts = async (ruleId: string): Promise<Alert[]> =>
    (await w.alerts.service.list({ limit: 100 })).filter((a) => a.ruleId === ruleId);
  const feed = async (...batches: Parameters<typeof w.alerts.engine.onReadings>[0][]) => {
    for (const b of batches) await w.alerts.engine.onReadings(b);
  };
  /** Two open-seal readings (tamper opens on the second), then four closed (it clears). */
  const tamperEpisode = async (from: number): Promise<number> => {
    let t = from;
    await feed([stake((t += 15 * MIN), { tamper: 1 })], [stake((t += 15 * MIN), { tamper: 1 })]);
    for (let i = 0; i < 4; i++) await feed([stake((t += 15 * MIN))]);
    return t;
  };

  it('when a lot is under a maintenance window, then its stake tamper opening is recorded as suppressed with the window, and no alert or case opens', async () => {
    const s = await w.alerts.suppressions.create(
      {
        kind: 'maintenance',
        scopeKind: 'lot',
        scopeId: 'l1',
        reason: 'seal replaced',
        fromMs: T0,
        untilMs: T0 + 4 * HOUR,
      },
      'key_ops',
      T0 - MIN,
    );
    await tamperEpisode(T0);
    expect(await alerts('tamper')).toEqual([]);
    expect(await w.state.cases.findOpenCase('b1')).toBeUndefined();
    const held = await w.state.suppressions.listSuppressed({ limit: 10, suppressionId: s.id });
    expect(held).toMatchObject([
      { cause: 'maintenance', ruleId: 'tamper', subjectId: 'stk-l1', deviceId: 'stk-l1', borrowerId: 'b1' },
    ]);
    expect(held[0]?.evidence).toHaveProperty('reading');
    expect((await w.alerts.suppressions.get(s.id)).suppressed).toBe(1);
    expect(w.alerts.engine.counters.suppressed).toBe(1);
  });

  it('when the window is over, or a snooze is for another rule or borrower, then the alert opens as usual', async () => {
    await w.alerts.suppressions.create(
      {
        kind: 'snooze',
        scopeKind: 'device',
        scopeId: 'stk-l1',
        ruleId: 'battery-low',
        reason: 'spare battery on order',
        untilMs: T0 + 24 * HOUR,
      },
      'key_officer',
      T0,
    );
    await w.alerts.suppressions.create(
      {
        kind: 'maintenance',
        scopeKind: 'borrower',
        scopeId: 'b1',
        reason: 'stocktake',
        fromMs: T0,
        untilMs: T0 + HOUR,
      },
      'key_ops',
      T0,
    );
    // Starts 2 h in: after the borrower's window, and the device snooze is for battery-low only.
    await tamperEpisode(T0 + 2 * HOUR);
    expect(await alerts('tamper')).toMatchObject([{ subjectId: 'stk-l1' }]);
    expect(await w.state.suppressions.listSuppressed({ limit: 10 })).toEqual([]);
  });

  it('when a snooze is ended early, then the next opening after the end is an alert again', async () => {
    const s = await w.alerts.suppressions.create(
      {
        kind: 'snooze',
        scopeKind: 'borrower',
        scopeId: 'b1',
        reason: 'known issue',
        untilMs: T0 + 48 * HOUR,
      },
      'key_officer',
      T0,
    );
    const t = await tamperEpisode(T0);
    expect(await alerts('tamper')).toEqual([]);
    const ended = await w.alerts.suppressions.end(s.id, 'key_officer', T0 + 3 * HOUR);
    expect(ended).toMatchObject({ revokedBy: 'key_officer', revokedAt: T0 + 3 * HOUR, suppressed: 1 });
    await expect(w.alerts.suppressions.end(s.id, 'key_officer', T0 + 4 * HOUR)).rejects.toMatchObject({
      code: 'CONFLICT',
    });
    await tamperEpisode(t + 8 * HOUR);
    expect(await alerts('tamper')).toHaveLength(1);
  });

  it('when a suppression is bad (ends before it starts, unknown rule or scope, no reason, too long), then it is refused and nothing is stored', async () => {
    const base = {
      kind: 'snooze',
      scopeKind: 'lot',
      scopeId: 'l1',
      reason: 'x',
      untilMs: T0 + HOUR,
    } as const;
    const refused = async (over: Record<string, unknown>, code: string) => {
      await expect(w.alerts.suppressions.create({ ...base, ...over }, 'k', T0)).rejects.toMatchObject({
        code,
      });
    };
    await refused({ fromMs: T0 + 2 * HOUR }, 'VALIDATION_FAILED');
    await refused({ untilMs: T0 - 1 }, 'VALIDATION_FAILED');
    await refused({ ruleId: 'no-such-rule' }, 'VALIDATION_FAILED');
    await refused({ reason: '   ' }, 'VALIDATION_FAILED');
    await refused({ untilMs: T0 + 91 * 24 * HOUR }, 'VALIDATION_FAILED');
    await refused({ scopeId: 'l-missing' }, 'NOT_FOUND');
    expect(await w.state.suppressions.listSuppressions({ limit: 10 })).toEqual([]);
  });
});
