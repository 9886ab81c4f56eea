import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MIN, stake, T0, world, type World } from './support.js';

describe('cases: alerts about one borrower grouped into one investigation', () => {
  let w: World;
  beforeEach(async () => {
    w = await world();
  });
  afterEach(() => w.close());

  const types = async () => (await w.alerts.service.outbox.after(0)).map((e) => e.type);

  it('when two rules fire on one borrower, then one case holds both; it is taken, investigated and closed with an outcome that feeds the rules’ observed precision; the next alert opens a new case', async () => {
    const { engine, cases } = w.alerts;
    let t = T0;
    // A seal opened (two readings), then a battery pack nearly flat: two alerts on borrower b1.
    await engine.onReadings([stake((t += 15 * MIN), { tamper: 1 })]);
    await engine.onReadings([stake((t += 15 * MIN), { tamper: 1, batteryPct: 9 })]);
    const [c] = await cases.list({ limit: 10 });
    expect(c).toMatchObject({ borrowerId: 'b1', status: 'open', alertCount: 2, maxSeverity: 'critical' });
    expect(await types()).toEqual(['alert.opened', 'case.opened', 'alert.opened']);
    const detail = await cases.get(c?.id ?? '');
    expect(detail.alerts.map((a) => a.ruleId).sort()).toEqual(['battery-low', 'tamper']);

    const id = c?.id ?? '';
    await cases.transition(id, { status: 'investigating', owner: 'key_officer' }, 'key_officer', t);
    await cases.addNote(id, 'key_officer', 'called the warehouse: seal replaced after a delivery', t + MIN);
    await expect(cases.transition(id, { status: 'closed' }, 'key_officer', t + 2 * MIN)).rejects.toThrow(
      /needs an outcome/,
    );
    await expect(cases.transition(id, { status: 'open' }, 'key_officer', t + 2 * MIN)).rejects.toThrow(
      /cannot go from investigating to open/,
    );
    const closed = await cases.transition(
      id,
      { status: 'closed', outcome: 'false-alarm' },
      'key_officer',
      t + 3 * MIN,
    );
    expect(closed).toMatchObject({ status: 'closed', outcome: 'false-alarm', closedBy: 'key_officer' });
    expect((await types()).at(-1)).toBe('case.closed');
    expect((await cases.get(id)).notes).toHaveLength(1);
    await expect(cases.transition(id, { owner: 'someone' }, 'x', t + 4 * MIN)).rejects.toThrow(/closed/);
    expect(await cases.precisionByRule()).toMatchObject({
      tamper: { closedAlerts: 1, falseAlarm: 1, observedPrecision: 0 },
      'battery-low': { closedAlerts: 1, observedPrecision: 0 },
    });

    // The borrower's next alert starts a new case.
    t += 8 * 60 * MIN;
    for (let i = 0; i < 3; i++) await engine.onReadings([stake((t += 15 * MIN), { weightKg: 9_000 })]);
    await engine.onReadings([stake((t += 15 * MIN), { lat: 10.05 })]);
    await engine.onReadings([stake((t += 15 * MIN), { lat: 10.05 })]);
    await engine.onReadings([stake((t += 15 * MIN), { lat: 10.05 })]);
    const open = await cases.list({ status: 'open', limit: 10 });
    expect(open).toHaveLength(1);
    expect(open[0]?.id).not.toBe(id);
  });
});
