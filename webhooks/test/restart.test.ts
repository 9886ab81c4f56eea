import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Webhook } from 'standardwebhooks';
import { afterAll, describe, expect, it } from 'vitest';
import { openSqliteState } from '../../core/state/index.js';
import { spawnRiskfuse } from '../../test/support/riskfuse-process.js';
import { newWebhookSecret } from '../signing.js';
import { ev, startReceiver, waitFor } from './support.js';

describe('webhook delivery across a crash of the delivering process', () => {
  const dir = mkdtempSync(join(tmpdir(), 'rf-wh-kill-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('when `riskfuse api` is SIGKILLed mid-retry and started again on the same data, then every event is delivered and verifies', async () => {
    const receiver = await startReceiver();
    let healthy = false;
    receiver.handler = (_req, res) => void res.writeHead(healthy ? 200 : 503).end();
    const path = join(dir, 'state.db');
    const secret = newWebhookSecret();
    const events = Array.from({ length: 5 }, (_, i) => ev('score.changed', { i }));
    {
      const state = openSqliteState(path);
      await state.webhooks.createSubscription(
        { url: receiver.url, eventTypes: ['*'], enabled: true },
        secret,
      );
      await state.transaction(() => state.outbox.append(events));
      await state.close();
    }
    const env = {
      DATA_DIR: dir,
      API_PORT: '0',
      API_HOST: '127.0.0.1',
      WEBHOOK_ALLOW_LOOPBACK: 'true',
      WEBHOOK_RETRY_SCHEDULE: '400ms,400ms,400ms,400ms,400ms,400ms,400ms,400ms',
      WEBHOOK_POLL_INTERVAL_MS: '20',
      WEBHOOK_TIMEOUT_MS: '1000',
    };
    try {
      const first = spawnRiskfuse(['api'], env);
      await first.waitFor(/API listening/, 60_000);
      await waitFor(() => receiver.received.length >= 10, 20_000, 'failed attempts before the kill');
      await first.kill('SIGKILL');
      healthy = true;
      const before = receiver.received.length;
      const second = spawnRiskfuse(['api'], env);
      try {
        await second.waitFor(/API listening/, 60_000);
        await waitFor(
          () =>
            new Set(receiver.received.slice(before).map((r) => r.headers['webhook-id'])).size ===
            events.length,
          20_000,
          'deliveries after the restart',
        );
      } finally {
        await second.kill('SIGTERM');
      }
      const ids = receiver.received.map((r) => r.headers['webhook-id']);
      for (const e of events) expect(ids).toContain(e.id);
      for (const r of receiver.received) expect(new Webhook(secret).verify(r.body, r.headers)).toBeTruthy();
      const state = openSqliteState(path);
      try {
        expect(await state.webhooks.countByStatus()).toMatchObject({ delivered: 5, pending: 0, dead: 0 });
      } finally {
        await state.close();
      }
    } finally {
      await receiver.close();
    }
  }, 120_000);
});
