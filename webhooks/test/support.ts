import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig } from '../../core/config.js';
import { newEventId, type EventType, type PlatformEvent } from '../../core/contracts/events.js';
import { silentLogger } from '../../core/logger.js';
import { openSqliteState, type EventOutbox, type State } from '../../core/state/index.js';
import { webhookConfigSpec } from '../config.js';
import { createWebhooks, type Webhooks } from '../index.js';
import type { DeliveryAttempt, DeliveryJob } from '../types.js';

export interface Received {
  readonly at: number;
  readonly headers: Record<string, string>;
  readonly body: string;
}

/** A real HTTP receiver on 127.0.0.1; `handler` decides the answer (default 204). */
export interface Receiver {
  readonly url: string;
  readonly port: number;
  readonly received: Received[];
  handler: (req: IncomingMessage, res: ServerResponse, body: string) => void;
  close(): Promise<void>;
}

export async function startReceiver(port = 0): Promise<Receiver> {
  const received: Received[] = [];
  const r = {
    received,
    handler: (_req: IncomingMessage, res: ServerResponse) => void res.writeHead(204).end(),
  } as { received: Received[]; handler: Receiver['handler'] };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      received.push({ at: Date.now(), headers: req.headers as Record<string, string>, body });
      r.handler(req, res, body);
    });
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const actual = (server.address() as AddressInfo).port;
  return Object.assign(r, {
    url: `http://127.0.0.1:${actual}/hook`,
    port: actual,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  });
}

export const ev = (type: EventType = 'score.changed', data: Record<string, unknown> = {}): PlatformEvent => ({
  id: newEventId(),
  type,
  occurredAt: Date.now(),
  data,
});

export interface Harness {
  readonly dir: string;
  readonly path: string;
  state: State;
  outbox: EventOutbox;
  webhooks: Webhooks;
  readonly attempts: { job: DeliveryJob; attempt: DeliveryAttempt }[];
  /** Opens the state and webhooks again on the same file (after a crash or a close). */
  reopen(env?: Record<string, string>): void;
  close(): Promise<void>;
}

/** Fast retries, loopback allowed, quick polling: the production schedule spans hours. */
export const TEST_ENV = {
  WEBHOOK_ALLOW_LOOPBACK: 'true',
  WEBHOOK_RETRY_SCHEDULE: '50ms,100ms,150ms,200ms',
  WEBHOOK_TIMEOUT_MS: '2000',
  WEBHOOK_POLL_INTERVAL_MS: '20',
};

/**
 * The webhooks on a SQLite state file, delivering. SQLite, not the run's test backend: the tests reopen the same
 * file (a restart) and open a second connection to it (a second process).
 */
export function startHarness(env: Record<string, string> = {}): Harness {
  const dir = mkdtempSync(join(tmpdir(), 'rf-wh-'));
  const path = join(dir, 'state.db');
  const attempts: Harness['attempts'] = [];
  const open = (extra: Record<string, string>) => {
    const state = openSqliteState(path);
    const config = parseConfig(webhookConfigSpec, { ...TEST_ENV, ...env, ...extra });
    const webhooks = createWebhooks({
      config,
      state,
      log: silentLogger,
      onAttempt: (job, attempt) => attempts.push({ job, attempt }),
    });
    webhooks.deliverer?.start();
    return { state, outbox: state.outbox, webhooks };
  };
  const h = {
    dir,
    path,
    attempts,
    ...open({}),
    reopen(extra: Record<string, string> = {}) {
      Object.assign(h, open(extra));
    },
    async close() {
      await h.webhooks.deliverer?.stop();
      await h.state.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return h;
}

export async function waitFor(
  check: () => boolean | Promise<boolean>,
  timeoutMs = 10_000,
  what = 'condition',
): Promise<void> {
  const start = Date.now();
  while (!(await check())) {
    if (Date.now() - start > timeoutMs)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
