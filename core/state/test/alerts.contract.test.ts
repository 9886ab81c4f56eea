import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import type { Alert } from '../index.js';
import { STATE_BACKENDS, closeAll } from './backends.js';

const T0 = 1_700_000_000_000;

const alert = (over: Partial<Alert> = {}): Alert => ({
  id: `alt_${randomBytes(12).toString('hex')}`,
  ruleId: 'tamper',
  severity: 'critical',
  status: 'open',
  subjectKind: 'device',
  subjectId: 'stake-1',
  borrowerId: 'b1',
  deviceId: 'stake-1',
  title: 'Tamper switch open',
  evidence: { tamper: 1, readings: [{ ts: T0, v: 1 }] },
  openedAt: T0,
  updatedAt: T0,
  ...over,
});

const acknowledged = (a: Alert, by: string, atMs: number): Alert => ({
  ...a,
  status: 'acknowledged',
  updatedAt: atMs,
  acknowledgedAt: atMs,
  acknowledgedBy: by,
  acknowledgeComment: `seen by ${by}`,
});

describe.each(STATE_BACKENDS)('alert repository on %s', (backend) => {
  afterAll(closeAll);

  it('when an alert is inserted, then it reads back field for field, optional fields absent when not set', async () => {
    const { alerts } = await backend.open();
    const full = alert({ lotId: 'lot-9' });
    const bare = alert({ ruleId: 'geofence', subjectKind: 'lot', subjectId: 'lot-1', evidence: {} });
    const { borrowerId: _b, deviceId: _d, ...withoutOptionals } = bare;
    expect(await alerts.insertAlert(full)).toBe(true);
    expect(await alerts.insertAlert(withoutOptionals)).toBe(true);
    expect(await alerts.getAlert(full.id)).toEqual(full);
    expect(await alerts.getAlert(bare.id)).toEqual(withoutOptionals);
    expect(await alerts.getAlert('alt_missing')).toBeUndefined();
  });

  it('when a rule fires again on a subject with a not-resolved alert, then the insert writes nothing; once resolved, a new one opens', async () => {
    const { alerts } = await backend.open();
    const first = alert();
    expect(await alerts.insertAlert(first)).toBe(true);
    expect(await alerts.insertAlert(alert({ openedAt: T0 + 1 }))).toBe(false);
    await alerts.updateAlert(acknowledged(first, 'key_1', T0 + 2));
    expect(await alerts.insertAlert(alert({ openedAt: T0 + 3 }))).toBe(false);
    // Another subject or another rule is another alert.
    expect(await alerts.insertAlert(alert({ subjectId: 'stake-2' }))).toBe(true);
    expect(await alerts.insertAlert(alert({ ruleId: 'battery-low' }))).toBe(true);
    await alerts.updateAlert({ ...first, status: 'resolved', resolvedAt: T0 + 4, resolvedBy: 'system' });
    const again = alert({ openedAt: T0 + 5 });
    expect(await alerts.insertAlert(again)).toBe(true);
    expect(await alerts.countAlerts()).toBe(3);
    expect(await alerts.findActive('tamper', 'device', 'stake-1')).toEqual(again);
  });

  it('when two inserts of the same rule and subject race, then exactly one alert is stored', async () => {
    const { alerts } = await backend.open();
    const results = await Promise.all(
      Array.from({ length: 4 }, (_, i) => alerts.insertAlert(alert({ openedAt: T0 + i }))),
    );
    expect(results.filter(Boolean)).toHaveLength(1);
    expect(await alerts.listActive()).toHaveLength(1);
  });

  it('when alerts are open, acknowledged and resolved, then findActive and listActive see only the first two, oldest first', async () => {
    const { alerts } = await backend.open();
    const open = alert({ subjectId: 's-open', openedAt: T0 + 20 });
    const ack = alert({ subjectId: 's-ack', openedAt: T0 + 10 });
    const done = alert({ subjectId: 's-done', openedAt: T0 });
    for (const a of [open, ack, done]) await alerts.insertAlert(a);
    await alerts.updateAlert(acknowledged(ack, 'key_1', T0 + 30));
    await alerts.updateAlert({ ...done, status: 'resolved', resolvedAt: T0 + 30, resolvedBy: 'system' });
    expect((await alerts.findActive('tamper', 'device', 's-ack'))?.status).toBe('acknowledged');
    expect(await alerts.findActive('tamper', 'device', 's-done')).toBeUndefined();
    expect(await alerts.findActive('tamper', 'borrower', 's-open')).toBeUndefined();
    expect((await alerts.listActive()).map((a) => a.id)).toEqual([ack.id, open.id]);
  });

  it('when an alert is updated, then its lifecycle fields change and its identity does not; an unknown id updates nothing', async () => {
    const { alerts } = await backend.open();
    const a = alert();
    await alerts.insertAlert(a);
    const resolved: Alert = {
      ...acknowledged(a, 'key_1', T0 + 1),
      status: 'resolved',
      severity: 'warning',
      evidence: { tamper: 0 },
      updatedAt: T0 + 2,
      resolvedAt: T0 + 2,
      resolvedBy: 'key_2',
      resolveComment: 'fixed',
      title: 'ignored: the title never changes',
    };
    expect(await alerts.updateAlert(resolved)).toBe(true);
    expect(await alerts.getAlert(a.id)).toEqual({ ...resolved, title: a.title });
    expect(await alerts.updateAlert(alert({ id: 'alt_missing' }))).toBe(false);
    expect(await alerts.updateAlert(alert({ id: 'alt_missing' }), 'open')).toBe(false);
  });

  it('when an update expects a status the alert no longer has, then it writes nothing and resolves false', async () => {
    const { alerts } = await backend.open();
    const a = alert();
    await alerts.insertAlert(a);
    expect(await alerts.updateAlert(acknowledged(a, 'key_1', T0 + 1), 'open')).toBe(true);
    expect(await alerts.updateAlert(acknowledged(a, 'key_2', T0 + 2), 'open')).toBe(false);
    expect(await alerts.getAlert(a.id)).toMatchObject({ acknowledgedBy: 'key_1', updatedAt: T0 + 1 });
    const resolved: Alert = { ...acknowledged(a, 'key_1', T0 + 1), status: 'resolved', resolvedAt: T0 + 3 };
    expect(await alerts.updateAlert(resolved, 'acknowledged')).toBe(true);
    expect((await alerts.getAlert(a.id))?.status).toBe('resolved');
  });

  it('when two officers acknowledge the same open alert at once, then exactly one update wins and the stored alert is the winner’s', async () => {
    const state = await backend.open();
    const a = alert();
    await state.alerts.insertAlert(a);
    // Both read the alert as open, then both write, each in its own transaction (as two API requests would).
    const seen = await Promise.all([state.alerts.getAlert(a.id), state.alerts.getAlert(a.id)]);
    expect(seen.map((x) => x?.status)).toEqual(['open', 'open']);
    const officers = ['key_1', 'key_2', 'key_3', 'key_4'];
    const wins = await Promise.all(
      officers.map((by, i) =>
        state.transaction(() => state.alerts.updateAlert(acknowledged(a, by, T0 + 1 + i), 'open')),
      ),
    );
    expect(wins.filter(Boolean)).toHaveLength(1);
    const winner = officers[wins.indexOf(true)];
    expect(await state.alerts.getAlert(a.id)).toMatchObject({
      status: 'acknowledged',
      acknowledgedBy: winner,
    });
  });

  it('when an alert write is in a transaction that fails, then the alert is not stored', async () => {
    const state = await backend.open();
    const a = alert();
    await expect(
      state.transaction(async () => {
        await state.alerts.insertAlert(a);
        throw new Error('the event could not be written');
      }),
    ).rejects.toThrow(/event/);
    expect(await state.alerts.getAlert(a.id)).toBeUndefined();
  });

  it('when alerts are queried, then each filter applies, newest first, and keyset pages cover every alert once', async () => {
    const { alerts } = await backend.open();
    const all: Alert[] = [];
    for (let i = 0; i < 12; i++) {
      const a = alert({
        // Pairs share an openedAt, so the keyset's tie-break on id matters.
        openedAt: T0 + Math.floor(i / 2) * 1_000,
        subjectId: `stake-${i}`,
        ruleId: i % 3 === 0 ? 'geofence' : 'tamper',
        severity: i % 2 === 0 ? 'warning' : 'critical',
        borrowerId: i < 6 ? 'b1' : 'b2',
      });
      all.push(a);
      await alerts.insertAlert(a);
    }
    await alerts.updateAlert(acknowledged(all[0] as Alert, 'key_1', T0 + 99));
    const newestFirst = [...all].sort((x, y) => y.openedAt - x.openedAt || (y.id < x.id ? -1 : 1));
    const ids = (list: Alert[]) => list.map((a) => a.id);

    expect(ids(await alerts.queryAlerts({ limit: 100 }))).toEqual(ids(newestFirst));
    const pages: string[] = [];
    let before: { openedAt: number; id: string } | undefined;
    for (;;) {
      const page = await alerts.queryAlerts({ limit: 5, ...(before === undefined ? {} : { before }) });
      pages.push(...ids(page));
      const last = page.at(-1);
      if (page.length < 5 || last === undefined) break;
      before = { openedAt: last.openedAt, id: last.id };
    }
    expect(pages).toEqual(ids(newestFirst));

    const where = async (q: Partial<Parameters<typeof alerts.queryAlerts>[0]>) =>
      new Set(ids(await alerts.queryAlerts({ limit: 100, ...q })));
    expect(await where({ status: 'acknowledged' })).toEqual(new Set([all[0]?.id]));
    expect(await where({ ruleId: 'geofence' })).toEqual(
      new Set(ids(all.filter((a) => a.ruleId === 'geofence'))),
    );
    expect(await where({ severity: 'warning', borrowerId: 'b2' })).toEqual(
      new Set(ids(all.filter((a) => a.severity === 'warning' && a.borrowerId === 'b2'))),
    );
    expect(await where({ subjectId: 'stake-7' })).toEqual(new Set([all[7]?.id]));
    expect(await where({ fromMs: T0 + 2_000, toMs: T0 + 4_000 })).toEqual(new Set(ids(all.slice(4, 8))));
    expect(await where({ status: 'resolved' })).toEqual(new Set());
  });

  it('when alerts are counted, then the default counts not-resolved ones, a status counts its own, and per borrower only active ones', async () => {
    const { alerts } = await backend.open();
    const a = alert({ subjectId: 's1', borrowerId: 'b1' });
    const b = alert({ subjectId: 's2', borrowerId: 'b1' });
    const c = alert({ subjectId: 's3', borrowerId: 'b2' });
    const { borrowerId: _b, ...noBorrower } = alert({ subjectId: 's4' });
    for (const x of [a, b, c, noBorrower]) await alerts.insertAlert(x);
    await alerts.updateAlert(acknowledged(b, 'key_1', T0 + 1));
    await alerts.updateAlert({ ...c, status: 'resolved', resolvedAt: T0 + 1 });
    expect(await alerts.countAlerts()).toBe(3);
    expect(await alerts.countAlerts('open')).toBe(2);
    expect(await alerts.countAlerts('acknowledged')).toBe(1);
    expect(await alerts.countAlerts('resolved')).toBe(1);
    expect(await alerts.countActiveByBorrower()).toEqual(new Map([['b1', 2]]));
  });

  it('when rule settings are saved twice, then the last save is kept, listed by rule id', async () => {
    const { alerts } = await backend.open();
    expect(await alerts.listRuleSettings()).toEqual([]);
    await alerts.saveRuleSettings('tamper', { severity: 'warning' }, T0);
    await alerts.saveRuleSettings('geofence', { params: { outsideToOpen: 3 } }, T0 + 1);
    await alerts.saveRuleSettings('tamper', { severity: 'critical', autoResolve: false }, T0 + 2);
    expect(await alerts.listRuleSettings()).toEqual([
      { ruleId: 'geofence', settings: { params: { outsideToOpen: 3 } }, updatedAt: T0 + 1 },
      { ruleId: 'tamper', settings: { severity: 'critical', autoResolve: false }, updatedAt: T0 + 2 },
    ]);
  });
});
