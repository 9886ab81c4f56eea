import { Webhook } from 'standardwebhooks';
import { afterEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../../core/config.js';
import { silentLogger } from '../../core/logger.js';
import { openSqliteState } from '../../core/state/index.js';
import { webhookConfigSpec } from '../config.js';
import { createWebhooks } from '../index.js';
import { newWebhookSecret } from '../signing.js';
import {
  TEST_ENV,
  ev,
  sleep,
  startHarness,
  startReceiver,
  waitFor,
  type Harness,
  type Receiver,
} from './support.js';

describe('webhook delivery', () => {
  const cleanup: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const c of cleanup.splice(0).reverse()) await c();
  });
  const harness = (env: Record<string, string> = {}): Harness => {
    const h = startHarness(env);
    cleanup.push(() => h.close());
    return h;
  };
  const receiver = async (port = 0): Promise<Receiver> => {
    const r = await startReceiver(port);
    cleanup.push(() => r.close());
    return r;
  };
  const subscribe = async (h: Harness, url: string, eventTypes: string[] = ['*']) => {
    const secret = newWebhookSecret();
    const sub = await h.webhooks.store.createSubscription({ url, eventTypes, enabled: true }, secret);
    return { sub, secret };
  };

  it('when an event is in the outbox, then the receiver gets it signed per Standard Webhooks, verified by the standardwebhooks package', async () => {
    const h = harness();
    const r = await receiver();
    const { secret } = await subscribe(h, r.url);
    const e = ev('score.changed', { borrowerId: 'b1', pd: 0.12 });
    await h.outbox.append([e]);
    await waitFor(() => r.received.length === 1);
    const got = r.received[0];
    if (got === undefined) throw new Error('nothing received');
    expect(got.headers['webhook-id']).toBe(e.id);
    expect(got.headers['content-type']).toBe('application/json');
    const payload = new Webhook(secret).verify(got.body, got.headers) as Record<string, unknown>;
    expect(payload).toEqual({
      type: 'score.changed',
      timestamp: new Date(e.occurredAt).toISOString(),
      data: { borrowerId: 'b1', pd: 0.12 },
    });
    expect(() => new Webhook(newWebhookSecret()).verify(got.body, got.headers)).toThrow();
    await waitFor(
      async () => (await h.webhooks.store.listDeliveries({ limit: 10 }))[0]?.status === 'delivered',
    );
  });

  it('when a subscription names event types, then only those reach it, and events before it existed never do', async () => {
    const h = harness();
    const r = await receiver();
    await h.outbox.append([ev('alert.opened')]);
    await subscribe(h, r.url, ['alert.opened']);
    const wanted = ev('alert.opened');
    await h.outbox.append([ev('score.changed'), wanted, ev('device.offline')]);
    await waitFor(() => r.received.length >= 1);
    await sleep(200);
    expect(r.received.map((x) => x.headers['webhook-id'])).toEqual([wanted.id]);
  });

  it('when the receiver is down for a while and then up, then every event is delivered, once per webhook-id', async () => {
    const h = harness({ WEBHOOK_RETRY_SCHEDULE: '100ms,200ms,300ms,400ms,500ms,600ms,800ms,1s' });
    const r = await receiver();
    const port = r.port;
    await subscribe(h, r.url);
    await r.close();
    const events = Array.from({ length: 30 }, (_, i) => ev('score.changed', { i }));
    for (const e of events) {
      await h.outbox.append([e]);
      await sleep(5);
    }
    await waitFor(() => h.attempts.length >= 30, 10_000, 'failed attempts while down');
    expect(h.attempts.every((a) => a.attempt.outcome === 'retry')).toBe(true);
    const up = await receiver(port);
    await waitFor(() => new Set(up.received.map((x) => x.headers['webhook-id'])).size === 30, 15_000);
    await sleep(300);
    const ids = up.received.map((x) => x.headers['webhook-id']);
    expect(new Set(ids).size).toBe(events.length);
    expect(ids.length).toBe(events.length); // once each: nothing resent after its 2xx
    expect(await h.webhooks.store.countByStatus()).toMatchObject({ delivered: 30, pending: 0, dead: 0 });
  });

  it('when the process dies mid-attempt and mid-retry and a new one opens the same file, then everything is still delivered', async () => {
    const h = harness({ WEBHOOK_TIMEOUT_MS: '500', WEBHOOK_RETRY_SCHEDULE: '300ms,300ms,300ms,300ms' });
    const r = await receiver();
    let mode: 'fail' | 'hang' | 'ok' = 'fail';
    r.handler = (_req, res) => {
      if (mode === 'fail') res.writeHead(503).end();
      else if (mode === 'ok') res.writeHead(200).end('ok');
      // hang: never answer
    };
    await subscribe(h, r.url);
    const events = [ev(), ev(), ev()];
    await h.outbox.append(events);
    await waitFor(() => h.attempts.length >= 3, 5000, 'first failed attempts');
    mode = 'hang';
    await waitFor(
      async () => (await h.webhooks.store.countByStatus()).sending > 0,
      5000,
      'an attempt in flight',
    );
    // Crash: the store goes away under the deliverer (no flush, no graceful close of attempts).
    await h.state.close();
    await sleep(50);
    mode = 'ok';
    h.reopen();
    await waitFor(
      async () => (await h.webhooks.store.countByStatus()).delivered === 3,
      10_000,
      'delivery after restart',
    );
    const ok = new Set(r.received.map((x) => x.headers['webhook-id']));
    expect(events.every((e) => ok.has(e.id))).toBe(true);
  });

  it('when one receiver hangs, then another subscription’s deliveries are not delayed', async () => {
    const h = harness({ WEBHOOK_TIMEOUT_MS: '5000', WEBHOOK_CONCURRENCY_PER_SUBSCRIPTION: '2' });
    const hanging = await receiver();
    hanging.handler = () => undefined;
    const fast = await receiver();
    await subscribe(h, hanging.url);
    await subscribe(h, fast.url);
    const sentAt = new Map<string, number>();
    for (let i = 0; i < 20; i++) {
      const e = ev('score.changed', { i });
      sentAt.set(e.id, Date.now());
      await h.outbox.append([e]);
      await sleep(10);
    }
    await waitFor(() => fast.received.length === 20, 3000, 'the fast receiver');
    const latencies = fast.received.map((x) => x.at - (sentAt.get(x.headers['webhook-id'] ?? '') ?? 0));
    expect(Math.max(...latencies)).toBeLessThan(1000);
    expect(hanging.received.length).toBeLessThanOrEqual(2); // its own queue: 2 in flight, the rest wait
  });

  it('when the receiver answers 410 Gone, then the subscription is disabled and nothing more is sent to it', async () => {
    const h = harness();
    const r = await receiver();
    r.handler = (_req, res) => void res.writeHead(410).end();
    const { sub } = await subscribe(h, r.url);
    await h.outbox.append([ev()]);
    await waitFor(async () => (await h.webhooks.store.getSubscription(sub.id))?.enabled === false);
    expect((await h.webhooks.store.getSubscription(sub.id))?.disabledReason).toMatch(/410/);
    await h.outbox.append([ev(), ev()]);
    await sleep(300);
    expect(r.received.length).toBe(1);
    expect((await h.webhooks.store.listDeliveries({ limit: 10 }))[0]).toMatchObject({
      status: 'dead',
      lastStatusCode: 410,
    });
  });

  it('when the receiver sends Retry-After, then the next attempt waits that long (seconds and HTTP date)', async () => {
    const h = harness({ WEBHOOK_RETRY_SCHEDULE: '10ms,10ms,10ms' });
    const r = await receiver();
    let n = 0;
    r.handler = (_req, res) => {
      n += 1;
      if (n === 1) res.writeHead(503, { 'retry-after': '1' }).end();
      else if (n === 2)
        res.writeHead(429, { 'retry-after': new Date(Date.now() + 2000).toUTCString() }).end();
      else res.writeHead(200).end();
    };
    await subscribe(h, r.url);
    await h.outbox.append([ev()]);
    await waitFor(() => r.received.length === 3, 8000);
    const [a, b, c] = r.received.map((x) => x.at);
    expect((b ?? 0) - (a ?? 0)).toBeGreaterThanOrEqual(950);
    // An HTTP date has second resolution: at least 1 s, at most 2 s.
    expect((c ?? 0) - (b ?? 0)).toBeGreaterThanOrEqual(950);
  });

  it('when every attempt fails, then the delivery is dead-lettered after the last, and a replay delivers it with the same webhook-id', async () => {
    const h = harness({ WEBHOOK_RETRY_SCHEDULE: '20ms,20ms' });
    const r = await receiver();
    let healthy = false;
    r.handler = (_req, res) => void res.writeHead(healthy ? 200 : 500).end();
    await subscribe(h, r.url);
    const e = ev();
    await h.outbox.append([e]);
    await waitFor(async () => (await h.webhooks.store.countByStatus()).dead === 1);
    const [dead] = await h.webhooks.store.listDeliveries({ status: 'dead', limit: 10 });
    expect(dead?.attempts).toBe(3);
    expect(dead?.attemptLog.map((a) => a.outcome)).toEqual(['retry', 'retry', 'dead']);
    expect(dead?.attemptLog.every((a) => a.statusCode === 500)).toBe(true);
    healthy = true;
    const replay = await h.webhooks.service.replayDelivery(dead?.id ?? 0);
    await waitFor(async () => (await h.webhooks.store.getDelivery(replay.id))?.status === 'delivered');
    expect(r.received.at(-1)?.headers['webhook-id']).toBe(e.id);
    expect(r.received.at(-1)?.body).toBe(r.received[0]?.body);
  });

  it('when a receiver sends a huge response, then at most the cap is read and the delivery completes quickly', async () => {
    const h = harness({ WEBHOOK_MAX_RESPONSE_BYTES: '65536' });
    const r = await receiver();
    r.handler = (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      const chunk = Buffer.alloc(1 << 20, 120);
      const pump = () => {
        while (!res.destroyed && res.write(chunk));
        if (!res.destroyed) res.once('drain', pump);
      };
      pump();
    };
    await subscribe(h, r.url);
    const t0 = Date.now();
    await h.outbox.append([ev()]);
    await waitFor(async () => (await h.webhooks.store.countByStatus()).delivered === 1, 3000);
    expect(Date.now() - t0).toBeLessThan(1500);
  });

  it('when the receiver redirects to the cloud metadata address, then the redirect is not followed and the failure is recorded', async () => {
    const h = harness({ WEBHOOK_RETRY_SCHEDULE: '10ms' });
    const r = await receiver();
    r.handler = (_req, res) =>
      void res.writeHead(302, { location: 'http://169.254.169.254/latest/meta-data/' }).end();
    await subscribe(h, r.url);
    await h.outbox.append([ev()]);
    await waitFor(async () => (await h.webhooks.store.countByStatus()).dead === 1);
    const [d] = await h.webhooks.store.listDeliveries({ limit: 1 });
    expect(d?.lastStatusCode).toBe(302);
    expect(d?.lastError).toMatch(/redirect not followed.*169\.254\.169\.254/);
  });

  it('when the receiver is unreachable (connection refused), then each attempt records the error and the delivery ends dead', async () => {
    const h = harness({ WEBHOOK_RETRY_SCHEDULE: '10ms' });
    const r = await receiver();
    const url = r.url;
    await r.close();
    await subscribe(h, url);
    await h.outbox.append([ev()]);
    await waitFor(async () => (await h.webhooks.store.countByStatus()).dead === 1);
    const [d] = await h.webhooks.store.listDeliveries({ limit: 1 });
    expect(d?.attemptLog.map((a) => a.error)).toEqual([
      expect.stringMatching(/ECONNREFUSED/),
      expect.stringMatching(/ECONNREFUSED/),
    ]);
  });

  it('when loopback is not allowed, then a delivery to 127.0.0.1 is refused before connecting, dead at once', async () => {
    const h = harness({ WEBHOOK_ALLOW_LOOPBACK: 'false' });
    const r = await receiver();
    await subscribe(h, r.url); // stored directly: the API would refuse it; this is the delivery-time check
    await h.outbox.append([ev()]);
    await waitFor(async () => (await h.webhooks.store.countByStatus()).dead === 1);
    expect(r.received.length).toBe(0);
    expect((await h.webhooks.store.listDeliveries({ limit: 1 }))[0]?.lastError).toMatch(
      /BLOCKED_TARGET.*loopback/,
    );
  });

  it('when a secret is rotated, then both signatures verify during the overlap and only the new one after', async () => {
    const h = harness();
    const r = await receiver();
    const { sub, secret: oldSecret } = await subscribe(h, r.url);
    const newSecret = newWebhookSecret();
    await h.webhooks.store.rotateSecret(sub.id, newSecret, Date.now() + 800);
    await h.webhooks.service.ping(sub.id);
    await waitFor(() => r.received.length === 1);
    const during = r.received[0];
    if (during === undefined) throw new Error('no ping');
    expect(during.headers['webhook-signature']?.split(' ')).toHaveLength(2);
    expect(new Webhook(newSecret).verify(during.body, during.headers)).toMatchObject({
      type: 'webhook.ping',
    });
    expect(new Webhook(oldSecret).verify(during.body, during.headers)).toMatchObject({
      type: 'webhook.ping',
    });
    await sleep(900);
    await h.webhooks.service.ping(sub.id);
    await waitFor(() => r.received.length === 2);
    const after = r.received[1];
    if (after === undefined) throw new Error('no ping');
    expect(after.headers['webhook-signature']?.split(' ')).toHaveLength(1);
    expect(new Webhook(newSecret).verify(after.body, after.headers)).toBeTruthy();
    expect(() => new Webhook(oldSecret).verify(after.body, after.headers)).toThrow();
  });

  it('when two dispatchers read the same outbox, then each event becomes one delivery per subscription', async () => {
    const h = harness({ WEBHOOK_DELIVERY: 'false' });
    const r = await receiver();
    await subscribe(h, r.url);
    await subscribe(h, r.url);
    await h.outbox.append(Array.from({ length: 50 }, () => ev()));
    // Two deliverers on two connections to the same file, as two processes would be.
    const second = openSqliteState(h.path);
    const other = createWebhooks({
      config: parseConfig(webhookConfigSpec, TEST_ENV),
      state: second,
      log: silentLogger,
    });
    cleanup.push(async () => {
      await other.deliverer?.stop();
      await second.close();
    });
    h.reopen({ WEBHOOK_DELIVERY: 'true' });
    other.deliverer?.start();
    await waitFor(async () => (await h.webhooks.store.countByStatus()).delivered === 100, 10_000);
    await sleep(200);
    expect(await h.webhooks.store.countByStatus()).toMatchObject({ delivered: 100, pending: 0, sending: 0 });
    expect((await h.webhooks.store.listDeliveries({ limit: 500 })).every((d) => d.attempts === 1)).toBe(true);
    expect(new Set(r.received.map((x) => x.headers['webhook-id'])).size).toBe(50);
  });

  it('when the deliverer stops with an attempt in flight, then stop resolves once its outcome is stored and the claimed rest is due again', async () => {
    const h = harness({ WEBHOOK_CONCURRENCY_PER_SUBSCRIPTION: '1' });
    const r = await receiver();
    r.handler = (_req, res) => void setTimeout(() => res.writeHead(200).end(), 300);
    await subscribe(h, r.url);
    await h.outbox.append([ev(), ev(), ev()]);
    await waitFor(() => r.received.length === 1, 5000, 'the first attempt');
    await h.webhooks.deliverer?.stop();
    // Nothing left `sending` under a lease: the attempt's outcome is stored, the two queued behind it released.
    expect(await h.webhooks.store.countByStatus()).toMatchObject({ delivered: 1, sending: 0, pending: 2 });
    expect(h.attempts).toHaveLength(1);
    expect(r.received).toHaveLength(1);
  });

  it('when /metrics is scraped, then the delivery gauges show the store’s counts and the counters the attempts', async () => {
    const h = harness();
    const r = await receiver();
    await subscribe(h, r.url);
    await h.outbox.append([ev(), ev()]);
    await waitFor(async () => (await h.webhooks.store.countByStatus()).delivered === 2);
    const sample = (name: string, status?: string) =>
      h.webhooks.metrics
        .samples()
        .find((s) => s.name === name && (status === undefined || s.labels?.status === status))?.value;
    // A scrape shows the counts read at the one before (the port is synchronous).
    await waitFor(() => sample('riskfuse_webhook_deliveries', 'delivered') === 2, 2000, 'the gauge');
    expect(sample('riskfuse_webhook_deliveries', 'pending')).toBe(0);
    expect(sample('riskfuse_webhook_delivered_total')).toBe(2);
  });
});
