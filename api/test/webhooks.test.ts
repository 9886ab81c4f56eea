import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { scoreChangedEvent } from '../../risk/scoring-service.js';
import { startReceiver, waitFor, type Receiver } from '../../webhooks/test/support.js';
import { startTestApi, type TestApi } from './support.js';

/** How long a delivery may take to reach a state (as `waitFor`): the deliverer polls every 20 ms here. */
const DELIVERY_WAIT = { timeout: 10_000, interval: 10 };

describe('webhooks API', () => {
  let t: TestApi;
  let r: Receiver;
  beforeAll(async () => {
    r = await startReceiver();
    t = await startTestApi({
      env: {
        WEBHOOK_DELIVERY: 'true',
        WEBHOOK_ALLOW_LOOPBACK: 'true',
        WEBHOOK_RETRY_SCHEDULE: '20ms,20ms',
        WEBHOOK_POLL_INTERVAL_MS: '20',
        WEBHOOK_TIMEOUT_MS: '2000',
      },
    });
  });
  afterAll(async () => {
    await t.close();
    await r.close();
  });

  const create = (payload: Record<string, unknown>) =>
    t.app.inject({ method: 'POST', url: '/v1/webhooks/subscriptions', headers: t.auth('admin'), payload });

  it('when an admin subscribes, then the secret is shown once: never in list, get or the audit log', async () => {
    const res = await create({ url: r.url, eventTypes: ['score.changed'], description: 'lender core' });
    expect(res.statusCode).toBe(201);
    const { subscription, secret } = res.json<{ subscription: { id: string }; secret: string }>();
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(Buffer.from(secret.slice(6), 'base64').length).toBeGreaterThanOrEqual(24);
    const list = await t.app.inject({
      method: 'GET',
      url: '/v1/webhooks/subscriptions',
      headers: t.auth('auditor'),
    });
    const one = await t.app.inject({
      method: 'GET',
      url: `/v1/webhooks/subscriptions/${subscription.id}`,
      headers: t.auth('officer'),
    });
    const audit = await t.app.inject({ method: 'GET', url: '/v1/audit', headers: t.auth('auditor') });
    expect(list.json()).toMatchObject({
      items: [{ id: subscription.id, url: r.url, eventTypes: ['score.changed'] }],
    });
    expect(one.json()).toMatchObject({ id: subscription.id, enabled: true, description: 'lender core' });
    for (const body of [list.body, one.body, audit.body]) expect(body).not.toContain(secret.slice(6, 30));
    expect(audit.json<{ items: unknown[] }>().items[0]).toMatchObject({
      action: 'create',
      resource: 'webhook-subscription',
      resourceId: subscription.id,
    });
    await t.app.inject({
      method: 'DELETE',
      url: `/v1/webhooks/subscriptions/${subscription.id}`,
      headers: t.auth('admin'),
    });
  });

  it('when the URL is invalid, carries credentials, or targets link-local, metadata, private or unresolvable hosts, then 400 says why and nothing is stored', async () => {
    const cases: [string, RegExp][] = [
      ['not a url', /not an absolute URL/],
      ['ftp://example.com/hook', /http or https/],
      ['https://user:secret@example.com/hook', /credentials/],
      ['http://169.254.169.254/latest/meta-data/', /metadata/],
      ['http://[fd00:ec2::254]/', /metadata/],
      ['http://metadata.google.internal/computeMetadata/v1/', /metadata/],
      ['http://169.254.10.1/hook', /link-local/],
      ['http://[fe80::1]/hook', /link-local/],
      ['http://10.0.0.8/hook', /private.*WEBHOOK_ALLOW_PRIVATE/],
      ['http://224.0.0.1/hook', /multicast/],
      ['http://0.0.0.0:8080/hook', /unspecified/],
      ['http://riskfuse-test-host.invalid/hook', /does not resolve/],
    ];
    for (const [url, reason] of cases) {
      const res = await create({ url });
      expect(res.statusCode, url).toBe(400);
      expect(res.json<{ code: string; detail: string }>()).toMatchObject({ code: 'VALIDATION_FAILED' });
      expect(res.json<{ detail: string }>().detail, url).toMatch(reason);
    }
    const bad = await create({ url: r.url, eventTypes: ['alert.exploded'] });
    expect(bad.statusCode).toBe(400);
    expect(await t.state.webhooks.listSubscriptions({ limit: 100 })).toEqual([]);
  });

  it('when the scoring service writes a score change, then the receiver gets it signed, verified by standardwebhooks, and the delivery log shows the attempt', async () => {
    const res = await create({ url: r.url, eventTypes: ['score.changed'] });
    const { subscription, secret } = res.json<{ subscription: { id: string }; secret: string }>();
    const before = r.received.length;
    const event = scoreChangedEvent({
      borrowerId: 'b1',
      at: Date.now(),
      modelVersion: 'v1',
      gradeSteps: 1,
      current: { pd: 0.08, score: 560, grade: 'D', reasons: [] },
      previous: { pd: 0.03, score: 610, grade: 'C', modelVersion: 'v1', at: Date.now() - 1000 },
    } as unknown as Parameters<typeof scoreChangedEvent>[0]);
    // As the scoring service does: in the state store's transaction with the score.
    await t.state.transaction(() => t.state.outbox.append([event]));
    await waitFor(() => r.received.length > before);
    const got = r.received.at(-1);
    if (got === undefined) throw new Error('nothing received');
    expect(new Webhook(secret).verify(got.body, got.headers)).toMatchObject({
      type: 'score.changed',
      data: { borrowerId: 'b1', pd: 0.08, grade: 'D' },
    });
    expect(got.headers['webhook-id']).toBe(event.id);
    await vi.waitFor(
      async () => expect((await t.state.webhooks.countByStatus()).delivered).toBeGreaterThanOrEqual(1),
      DELIVERY_WAIT,
    );
    const log = await t.app.inject({
      method: 'GET',
      url: `/v1/webhooks/subscriptions/${subscription.id}/deliveries`,
      headers: t.auth('officer'),
    });
    expect(log.statusCode).toBe(200);
    expect(log.json()).toMatchObject({
      items: [
        {
          eventId: event.id,
          status: 'delivered',
          attempts: 1,
          attemptLog: [{ attempt: 1, statusCode: 204, outcome: 'delivered' }],
        },
      ],
    });

    // Replay the time range: the same webhook-id again.
    const replay = await t.app.inject({
      method: 'POST',
      url: `/v1/webhooks/subscriptions/${subscription.id}/replay`,
      headers: t.auth('admin'),
      payload: { from: event.occurredAt - 1, to: event.occurredAt + 1 },
    });
    expect(replay.statusCode).toBe(202);
    expect(replay.json()).toMatchObject({ count: 1 });
    await waitFor(() => r.received.filter((x) => x.headers['webhook-id'] === event.id).length === 2);
  });

  it('when an admin pings, rotates, replays a dead letter, and deletes, then each works and is audited', async () => {
    let status = 500;
    r.handler = (_req, res) => void res.writeHead(status).end();
    const { subscription, secret } = (await create({ url: r.url })).json<{
      subscription: { id: string };
      secret: string;
    }>();
    const base = `/v1/webhooks/subscriptions/${subscription.id}`;
    const ping = await t.app.inject({ method: 'POST', url: `${base}/ping`, headers: t.auth('admin') });
    expect(ping.statusCode).toBe(202);
    const pingId = ping.json<{ id: number }>().id;
    await vi.waitFor(
      async () => expect((await t.state.webhooks.getDelivery(pingId))?.status).toBe('dead'),
      DELIVERY_WAIT,
    );
    const dead = await t.app.inject({
      method: 'GET',
      url: '/v1/webhooks/dead-letters',
      headers: t.auth('auditor'),
    });
    expect(dead.json()).toMatchObject({
      items: [{ id: pingId, eventType: 'webhook.ping', attempts: 3, lastStatusCode: 500 }],
    });

    const rotated = await t.app.inject({
      method: 'POST',
      url: `${base}/rotate-secret?overlapSeconds=3600`,
      headers: t.auth('admin'),
    });
    expect(rotated.statusCode).toBe(200);
    const newSecret = rotated.json<{ secret: string }>().secret;
    expect(newSecret).not.toBe(secret);
    expect(rotated.json()).toMatchObject({
      subscription: { previousSecretExpiresAt: expect.any(Number) as number },
    });

    status = 200;
    const replay = await t.app.inject({
      method: 'POST',
      url: `/v1/webhooks/deliveries/${pingId}/replay`,
      headers: t.auth('admin'),
    });
    expect(replay.statusCode).toBe(202);
    const replayId = replay.json<{ id: number }>().id;
    await vi.waitFor(
      async () => expect((await t.state.webhooks.getDelivery(replayId))?.status).toBe('delivered'),
      DELIVERY_WAIT,
    );
    const pingEventId = ping.json<{ eventId: string }>().eventId;
    const got = r.received.filter((x) => x.headers['webhook-id'] === pingEventId).at(-1);
    if (got === undefined) throw new Error('nothing received');
    expect(new Webhook(newSecret).verify(got.body, got.headers)).toBeTruthy();
    expect(new Webhook(secret).verify(got.body, got.headers)).toBeTruthy();

    const one = await t.app.inject({
      method: 'GET',
      url: `/v1/webhooks/deliveries/${replayId}`,
      headers: t.auth('officer'),
    });
    expect(one.json()).toMatchObject({ origin: 'replay', replayOf: pingId, status: 'delivered' });

    const off = await t.app.inject({
      method: 'PATCH',
      url: base,
      headers: t.auth('admin'),
      payload: { enabled: false },
    });
    expect(off.json()).toMatchObject({ enabled: false });
    const pingOff = await t.app.inject({ method: 'POST', url: `${base}/ping`, headers: t.auth('admin') });
    expect(pingOff.statusCode).toBe(409);

    const del = await t.app.inject({ method: 'DELETE', url: base, headers: t.auth('admin') });
    expect(del.statusCode).toBe(200);
    expect((await t.app.inject({ method: 'GET', url: base, headers: t.auth('admin') })).statusCode).toBe(404);
    const audit = await t.app.inject({
      method: 'GET',
      url: `/v1/audit?resourceId=${subscription.id}`,
      headers: t.auth('admin'),
    });
    expect(audit.json<{ items: { action: string }[] }>().items.map((e) => e.action)).toEqual([
      'delete',
      'update',
      'rotate-secret',
      'ping',
      'create',
    ]);
    expect(audit.body).not.toContain(newSecret.slice(6, 30));
    r.handler = (_req, res) => void res.writeHead(204).end();
  });
});
