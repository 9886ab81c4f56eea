import type { Logger } from '../core/logger.js';
import type { MetricsSource } from '../core/metrics.js';
import { SqliteEventOutbox } from '../core/storage/sqlite-event-outbox.js';
import type { SqliteStateStore } from '../core/storage/sqlite-state-store.js';
import { parseRetrySchedule, type WebhookConfig } from './config.js';
import { WebhookDeliverer, zeroCounters, type DelivererOptions } from './deliverer.js';
import { webhookMetrics } from './metrics.js';
import { WebhookService } from './service.js';
import type { Lookup } from './ssrf.js';
import { WebhookStore } from './store.js';

export { webhookConfigSpec, parseRetrySchedule, type WebhookConfig } from './config.js';
export { WebhookDeliverer } from './deliverer.js';
export { WebhookService } from './service.js';
export { WebhookStore } from './store.js';
export { newWebhookSecret, signPayload, signatureHeader, webhookBody } from './signing.js';
export { classifyAddress, parseTargetUrl, resolveTarget, type TargetPolicy } from './ssrf.js';
export * from './types.js';

export interface Webhooks {
  readonly store: WebhookStore;
  readonly service: WebhookService;
  /** Present when this process delivers (WEBHOOK_DELIVERY=true): start it, close it on shutdown. */
  readonly deliverer?: WebhookDeliverer;
  readonly metrics: MetricsSource;
}

/**
 * Wiring of the webhooks component on the state store: the store, the API's service and — in the one process
 * that delivers (`riskfuse start` or `riskfuse api`, WEBHOOK_DELIVERY) — the dispatcher and workers.
 */
export function createWebhooks(deps: {
  readonly config: WebhookConfig;
  readonly state: SqliteStateStore;
  readonly log: Logger;
  readonly now?: () => number;
  readonly lookup?: Lookup;
  readonly onAttempt?: DelivererOptions['onAttempt'];
}): Webhooks {
  const { config } = deps;
  const now = deps.now ?? Date.now;
  const retryScheduleMs = parseRetrySchedule(config.webhookRetrySchedule);
  const store = new WebhookStore(deps.state, now);
  const outbox = new SqliteEventOutbox(deps.state);
  const policy = { allowPrivate: config.webhookAllowPrivate, allowLoopback: config.webhookAllowLoopback };
  const deliverer = config.webhookDelivery
    ? new WebhookDeliverer({
        store,
        outbox,
        log: deps.log.child({ component: 'webhooks' }),
        policy,
        timeoutMs: config.webhookTimeoutMs,
        retryScheduleMs,
        retryAfterMaxMs: config.webhookRetryAfterMaxMs,
        maxResponseBytes: config.webhookMaxResponseBytes,
        concurrencyPerSubscription: config.webhookConcurrencyPerSubscription,
        maxConcurrency: config.webhookMaxConcurrency,
        pollIntervalMs: config.webhookPollIntervalMs,
        now,
        ...(deps.lookup === undefined ? {} : { lookup: deps.lookup }),
        ...(deps.onAttempt === undefined ? {} : { onAttempt: deps.onAttempt }),
      })
    : undefined;
  const service = new WebhookService(store, outbox, {
    policy,
    rotationOverlapS: config.webhookRotationOverlapS,
    now,
    ...(deps.lookup === undefined ? {} : { lookup: deps.lookup }),
    ...(deliverer === undefined ? {} : { wake: () => deliverer.kick() }),
  });
  const idle = { counters: zeroCounters() };
  return {
    store,
    service,
    ...(deliverer === undefined ? {} : { deliverer }),
    metrics: webhookMetrics(deliverer ?? idle, store),
  };
}
