import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Reading } from '../../core/contracts/index.js';
import { startReceiver, TEST_ENV, waitFor, type Receiver } from '../../webhooks/test/support.js';
import { seedPortfolio, startTestApi, T0, type TestApi } from './support.js';

/**
 * A case's whole life over the API on a real state: the alert engine fed with stake readings raises two alerts
 * about borrower b1, which join one case; an officer takes it, investigates, notes and closes it with an
 * outcome; the outcome feeds the rules' observed precision; case.opened and case.closed are in the outbox and
 * reach a webhook subscriber (a real HTTP receiver, signed).
 */
describe('case lifecycle over the API', () => {
  let t: TestApi;
  let receiver: Receiver;
  beforeAll(async () => {
    receiver = await startReceiver();
    t = await startTestApi({ env: { ...TEST_ENV, WEBHOOK_DELIVERY: 'true' } });
    await seedPortfolio(t.state);
    await t.state.devices.upsertDevices([
      {
        device: {
          id: 'stk-l1',
          kind: 'stake',
          borrowerId: 'b1',
          siteId: 's1',
          lotId: 'l1',
          status: 'active',
          createdAt: T0,
        },
        credentials: { deviceId: 'stk-l1', salt: 'x', tokenHash: 'y' },
      },
    ]);
  });
  afterAll(async () => {
    await t.close();
    await receiver.close();
  });

  let seq = 0;
  const stake = (ts: number, fields: Record<string, number>): Reading => ({
    kind: 'stake',
    deviceId: 'stk-l1',
    borrowerId: 'b1',
    siteId: 's1',
    ts,
    seq: seq++,
    fields: { weightKg: 900, lat: 0.5, lon: 0.5, tamper: 0, batteryPct: 90, ...fields },
  });

  it('when two alerts about one borrower open, then one case holds them; open → investigating → closed with an outcome emits case.opened and case.closed to a subscriber and sets the rules’ observed precision', async () => {
    const sub = await t.app.inject({
      method: 'POST',
      url: '/v1/webhooks/subscriptions',
      headers: t.auth('admin'),
      payload: { url: receiver.url, eventTypes: ['case.opened', 'case.closed'] },
    });
    expect(sub.statusCode, sub.body).toBe(201);
    const secret = sub.json<{ secret: string }>().secret;

    const at = T0 + 3_600_000;
    await t.alerts.engine.onReadings([stake(at, { tamper: 1 }), stake(at + 900_000, { tamper: 1 })]);
    await t.alerts.engine.onReadings([stake(at + 1_800_000, { tamper: 1, batteryPct: 8 })]);
    await t.alerts.engine.idle();

    const inbox = await t.app.inject({ url: '/v1/cases', headers: t.auth('officer') });
    expect(inbox.statusCode, inbox.body).toBe(200);
    const cases = inbox.json<{
      items: { id: string; borrowerId: string; status: string; alertCount: number }[];
    }>().items;
    expect(cases).toMatchObject([{ borrowerId: 'b1', status: 'open', alertCount: 2 }]);
    const id = cases[0]?.id ?? '';
    const detail = await t.app.inject({ url: `/v1/cases/${id}`, headers: t.auth('auditor') });
    expect(
      detail
        .json<{ alerts: { ruleId: string }[] }>()
        .alerts.map((a) => a.ruleId)
        .sort(),
    ).toEqual(['battery-low', 'tamper']);

    const move = (body: Record<string, unknown>, role: 'officer' | 'auditor' = 'officer') =>
      t.app.inject({
        method: 'POST',
        url: `/v1/cases/${id}/transition`,
        headers: t.auth(role),
        payload: body,
      });
    expect((await move({ status: 'investigating' }, 'auditor')).statusCode).toBe(403);
    const taken = await move({ status: 'investigating', owner: 'officer-1' });
    expect(taken.statusCode, taken.body).toBe(200);
    expect(taken.json()).toMatchObject({ status: 'investigating', owner: 'officer-1' });
    const note = await t.app.inject({
      method: 'POST',
      url: `/v1/cases/${id}/notes`,
      headers: t.auth('officer'),
      payload: { body: 'site visit: seal cut, 2 pallets missing' },
    });
    expect(note.statusCode, note.body).toBe(201);
    const noOutcome = await move({ status: 'closed' });
    expect(noOutcome.statusCode).toBe(400);
    const closed = await move({ status: 'closed', outcome: 'confirmed-fraud' });
    expect(closed.statusCode, closed.body).toBe(200);
    expect(closed.json()).toMatchObject({ status: 'closed', outcome: 'confirmed-fraud' });
    expect((await move({ owner: 'someone-else' })).statusCode).toBe(409);

    const precision = await t.app.inject({ url: '/v1/alerts/rules/precision', headers: t.auth('auditor') });
    expect(precision.json()).toMatchObject({
      rules: {
        tamper: { closedAlerts: 1, observedPrecision: 1 },
        'battery-low': { closedAlerts: 1, observedPrecision: 1 },
      },
    });

    const outbox = await t.state.outbox.after(0, { types: ['case.opened', 'case.closed'] });
    expect(outbox.map((e) => [e.type, (e.data.case as { id?: string } | undefined)?.id])).toEqual([
      ['case.opened', id],
      ['case.closed', id],
    ]);
    await waitFor(() => receiver.received.length === 2, 10_000, 'both case events delivered');
    const delivered = receiver.received.map(
      (r) => (new Webhook(secret).verify(r.body, r.headers) as { type: string }).type,
    );
    expect(delivered.sort()).toEqual(['case.closed', 'case.opened']);
  });
});
