import { request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedPortfolio, startTestApi, T0, type TestApi } from './support.js';

const open = (t: TestApi, i: number, over: Record<string, unknown> = {}) =>
  t.alerts.service.open({
    ruleId: 'tamper',
    severity: 'critical',
    subjectKind: 'device',
    subjectId: `stk-${i}`,
    borrowerId: 'b1',
    deviceId: `stk-${i}`,
    title: `tamper ${i}`,
    evidence: { reading: { ts: T0 + i, tamper: 1 } },
    at: T0 + i * 1000,
    ...over,
  });

describe('alerts API', () => {
  let t: TestApi;
  beforeAll(async () => {
    t = await startTestApi();
    await seedPortfolio(t.state);
    for (let i = 0; i < 5; i++) await open(t, i);
    await open(t, 9, { ruleId: 'battery-low', severity: 'info', borrowerId: 'b2' });
  });
  afterAll(() => t.close());

  it('when alerts are listed with filters and a small page, then they come newest first, filtered, and the cursor walks them all', async () => {
    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const res = await t.app.inject({
        url: `/v1/alerts?rule=tamper&status=open&limit=2${cursor === undefined ? '' : `&cursor=${cursor}`}`,
        headers: t.auth('auditor'),
      });
      expect(res.statusCode).toBe(200);
      const body = res.json<{ items: { subjectId: string }[]; nextCursor?: string }>();
      seen.push(...body.items.map((a) => a.subjectId));
      cursor = body.nextCursor;
    } while (cursor !== undefined);
    expect(seen).toEqual(['stk-4', 'stk-3', 'stk-2', 'stk-1', 'stk-0']);
    const b2 = await t.app.inject({
      url: '/v1/alerts?borrowerId=b2&severity=info',
      headers: t.auth('officer'),
    });
    expect(b2.json<{ items: { ruleId: string }[] }>().items.map((a) => a.ruleId)).toEqual(['battery-low']);
    const time = await t.app.inject({
      url: `/v1/alerts?from=${T0 + 3000}&to=${T0 + 4001}`,
      headers: t.auth('officer'),
    });
    expect(time.json<{ items: unknown[] }>().items).toHaveLength(2);
  });

  it('when an officer acknowledges then resolves an alert with a comment, then the lifecycle, the audit log and the outbox record who did it', async () => {
    const [a] = await t.alerts.service.list({ limit: 1, subjectId: 'stk-0' });
    const ack = await t.app.inject({
      method: 'POST',
      url: `/v1/alerts/${a?.id}/acknowledge`,
      headers: t.auth('officer'),
      payload: { comment: 'calling the warehouse' },
    });
    expect(ack.statusCode).toBe(200);
    expect(ack.json()).toMatchObject({ status: 'acknowledged', acknowledgeComment: 'calling the warehouse' });
    const again = await t.app.inject({
      method: 'POST',
      url: `/v1/alerts/${a?.id}/acknowledge`,
      headers: t.auth('officer'),
      payload: {},
    });
    expect(again.statusCode).toBe(409);
    const noComment = await t.app.inject({
      method: 'POST',
      url: `/v1/alerts/${a?.id}/resolve`,
      headers: t.auth('officer'),
      payload: {},
    });
    expect(noComment.statusCode).toBe(400);
    const res = await t.app.inject({
      method: 'POST',
      url: `/v1/alerts/${a?.id}/resolve`,
      headers: t.auth('officer'),
      payload: { comment: 'seal replaced, stock counted' },
    });
    expect(res.json()).toMatchObject({ status: 'resolved', resolveComment: 'seal replaced, stock counted' });
    const got = await t.app.inject({ url: `/v1/alerts/${a?.id}`, headers: t.auth('auditor') });
    expect(got.json<{ resolvedBy: string; acknowledgedBy: string }>().resolvedBy).toBe(
      got.json<{ acknowledgedBy: string }>().acknowledgedBy,
    );
    const audit = await t.state.audit.listAudit({ limit: 10, resource: 'alert', resourceId: a?.id ?? '' });
    expect(audit.map((e) => e.action)).toEqual(['resolve', 'acknowledge']);
    expect(audit[0]).toMatchObject({
      actorRole: 'officer',
      after: { status: 'resolved', comment: 'seal replaced, stock counted' },
    });
    // The alert's own events (its case's case.opened is in the outbox too).
    const types = (
      await t.state.outbox.after(0, { types: ['alert.opened', 'alert.acknowledged', 'alert.resolved'] })
    )
      .filter((e) => (e.data.alert as { id: string }).id === a?.id)
      .map((e) => e.type);
    expect(types).toEqual(['alert.opened', 'alert.acknowledged', 'alert.resolved']);
    expect((await t.app.inject({ url: '/v1/alerts/alt_nope', headers: t.auth('auditor') })).statusCode).toBe(
      404,
    );
  });

  it('when two officers acknowledge the same open alert at once, then one gets 200, the other a 409 problem, and the audit log has one acknowledge', async () => {
    const opened = await open(t, 7, { subjectId: 'stk-race', deviceId: 'stk-race' });
    const id = opened?.id ?? '';
    const acknowledge = (comment: string) =>
      t.app.inject({
        method: 'POST',
        url: `/v1/alerts/${id}/acknowledge`,
        headers: t.auth('officer'),
        payload: { comment },
      });
    const results = await Promise.all([acknowledge('first'), acknowledge('second')]);
    expect(results.map((r) => r.statusCode).sort()).toEqual([200, 409]);
    const lost = results.find((r) => r.statusCode === 409);
    expect(lost?.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(lost?.json()).toMatchObject({
      status: 409,
      code: 'CONFLICT',
      instance: `/v1/alerts/${id}/acknowledge`,
    });
    expect(lost?.json<{ detail: string }>().detail).toContain(id);
    const won = results.find((r) => r.statusCode === 200)?.json<{ acknowledgeComment: string }>();
    expect((await t.alerts.service.get(id))?.acknowledgeComment).toBe(won?.acknowledgeComment);
    const audit = await t.state.audit.listAudit({ limit: 10, resource: 'alert', resourceId: id });
    expect(audit.map((e) => e.action)).toEqual(['acknowledge']);
    const events = (await t.state.outbox.after(0)).filter(
      (e) => e.type === 'alert.acknowledged' && (e.data.alert as { id: string }).id === id,
    );
    expect(events).toHaveLength(1);
    // Back to the five open alerts the other tests count.
    await t.alerts.service.resolve(id, 'test', 'race checked', T0 + 8000);
  });

  it('when the portfolio summary is read, then openAlerts counts the alerts not yet resolved', async () => {
    const res = await t.app.inject({ url: '/v1/portfolio/summary', headers: t.auth('auditor') });
    expect(res.json<{ openAlerts: number }>().openAlerts).toBe(await t.alerts.service.countActive());
    expect(await t.alerts.service.countActive()).toBe(5);
  });

  it('when a rule is changed with a bad field over the API, then 400 names the rule and field and nothing changes; a good change and a borrower override apply', async () => {
    const before = (await t.app.inject({ url: '/v1/alerts/rules', headers: t.auth('auditor') })).json<{
      items: { id: string }[];
    }>();
    expect(before.items.map((r) => r.id)).toContain('weight-drop');
    const bad = await t.app.inject({
      method: 'PUT',
      url: '/v1/alerts/rules/weight-drop',
      headers: t.auth('admin'),
      payload: { params: { dropPct: 250, windowMs: 'soon' } },
    });
    expect(bad.statusCode).toBe(400);
    expect(bad.json<{ detail: string }>().detail).toMatch(/rule weight-drop: params\.dropPct/);
    expect((await t.app.inject({ url: '/v1/alerts/rules', headers: t.auth('auditor') })).json()).toEqual(
      before,
    );
    const good = await t.app.inject({
      method: 'PUT',
      url: '/v1/alerts/rules/weight-drop',
      headers: t.auth('admin'),
      payload: { params: { dropPct: 45 }, severity: 'warning' },
    });
    expect(good.json()).toMatchObject({ params: { dropPct: 45 }, severity: 'warning', source: 'api' });
    const ov = await t.app.inject({
      method: 'PUT',
      url: '/v1/alerts/rules/weight-drop/overrides/b1',
      headers: t.auth('admin'),
      payload: { params: { dropPct: 20 } },
    });
    expect(ov.json()).toMatchObject({
      params: { dropPct: 45 },
      overrides: { b1: { params: { dropPct: 20 } } },
    });
    expect(t.alerts.engine.ruleSet['weight-drop'].for('b1').params.dropPct).toBe(20);
    const officer = await t.app.inject({
      method: 'PUT',
      url: '/v1/alerts/rules/weight-drop',
      headers: t.auth('officer'),
      payload: {},
    });
    expect(officer.statusCode).toBe(403);
    const del = await t.app.inject({
      method: 'DELETE',
      url: '/v1/alerts/rules/weight-drop/overrides/b1',
      headers: t.auth('admin'),
    });
    expect(del.json<{ overrides: object }>().overrides).toEqual({});
    expect((await t.state.alerts.listRuleSettings()).map((s) => s.ruleId)).toEqual(['weight-drop']);
  });
});

/** Reads an SSE stream from a real listening server until `until` says enough. */
function readStream(
  port: number,
  headers: Record<string, string>,
  until: (events: { id: string; event: string; data: string }[]) => boolean,
): Promise<{ id: string; event: string; data: string }[]> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path: '/v1/alerts/stream', headers }, (res) => {
      if (res.statusCode !== 200) reject(new Error(`status ${res.statusCode}`));
      let buf = '';
      const events: { id: string; event: string; data: string }[] = [];
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buf += chunk;
        let i: number;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          const f = Object.fromEntries(
            block
              .split('\n')
              .filter((l) => !l.startsWith(':') && l.includes(': '))
              .map((l) => [l.slice(0, l.indexOf(': ')), l.slice(l.indexOf(': ') + 2)]),
          ) as Record<string, string>;
          if (f.id !== undefined) events.push({ id: f.id, event: f.event ?? '', data: f.data ?? '' });
          if (block.startsWith(': heartbeat')) events.push({ id: '', event: 'heartbeat', data: '' });
        }
        if (until(events)) {
          req.destroy();
          resolve(events);
        }
      });
    });
    req.on('error', (err) => (err.message.includes('socket hang up') ? undefined : reject(err)));
    req.end();
  });
}

describe('alerts live stream (SSE)', () => {
  let t: TestApi;
  let port: number;
  beforeAll(async () => {
    t = await startTestApi({ env: { ALERT_STREAM_HEARTBEAT_MS: '200' } });
    await seedPortfolio(t.state);
    await t.app.listen({ host: '127.0.0.1', port: 0 });
    port = (t.app.server.address() as AddressInfo).port;
  });
  afterAll(() => t.close());

  it('when an alert opens while a client listens, then it arrives live; reconnecting with Last-Event-ID delivers exactly what was missed', async () => {
    const auth = t.auth('auditor');
    const live = readStream(port, auth, (es) => es.some((e) => e.event === 'alert.opened'));
    await new Promise((r) => setTimeout(r, 100));
    await open(t, 1);
    const got = await live;
    const first = got.find((e) => e.event === 'alert.opened');
    expect(JSON.parse(first?.data ?? '{}')).toMatchObject({
      type: 'alert.opened',
      data: { alert: { subjectId: 'stk-1' } },
    });

    // Disconnected: two more things happen.
    await open(t, 2);
    const a3 = await open(t, 3);
    await t.alerts.service.acknowledge(a3?.id ?? '', 'k', undefined, T0);
    const resumed = await readStream(
      port,
      { ...auth, 'last-event-id': first?.id ?? '' },
      (es) => es.filter((e) => e.id !== '' && e.event.startsWith('alert.')).length >= 3,
    );
    // The alerts' events (the first alert also opened its borrower's case: case.opened follows it).
    expect(resumed.filter((e) => e.id !== '' && e.event.startsWith('alert.')).map((e) => e.event)).toEqual([
      'alert.opened',
      'alert.opened',
      'alert.acknowledged',
    ]);
    expect(Number(resumed[0]?.id)).toBeGreaterThan(Number(first?.id));
  });

  it('when nothing happens, then heartbeats keep the stream alive; without a key the stream is refused', async () => {
    const hb = await readStream(port, t.auth('officer'), (es) => es.some((e) => e.event === 'heartbeat'));
    expect(hb.some((e) => e.event === 'heartbeat')).toBe(true);
    const res = await t.app.inject({ url: '/v1/alerts/stream?follow=false' });
    expect(res.statusCode).toBe(401);
    const bad = await t.app.inject({
      url: '/v1/alerts/stream?follow=false&types=alert.nope',
      headers: t.auth('auditor'),
    });
    expect(bad.statusCode).toBe(400);
  });
});
